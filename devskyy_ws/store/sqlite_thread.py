"""The one thread that owns the SQLite connection, and the group commit it does.

Under load, calls arrive faster than SQLite commits them one by one: every commit
appends each page it touched (the table's and every index's) to the WAL, and every
answer wakes the event loop once. So the thread takes all the calls waiting in its
queue, runs them in one transaction with a savepoint each, commits once, and answers
the waiting coroutines in one wake-up of their loop. A call that raises rolls back to
its own savepoint and fails alone; a commit that fails fails the whole group, so no
caller is told "done" for a write that is not in the database.

A call made `atomic` (one statement, or reads only) runs without a savepoint: SQLite
undoes a failed statement by itself, and the two extra statements per call were a
quarter of this thread's time under the REST benchmark's inserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["SqliteThread"]

T = TypeVar("T")
Call = Callable[[sqlite3.Connection], Any]
Job = tuple[Call, bool, "asyncio.Future[Any]", asyncio.AbstractEventLoop]
Outcome = tuple[bool, Any]  # (succeeded, value or exception)

MAX_GROUP = 128


class SqliteThread:
    """Runs calls on one connection, in the order they were made."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._gate = threading.Lock()  # a call is queued only while the thread will answer it
        self._closed = False
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self.groups = 0  # transactions committed, for tests and benchmarks
        self.calls = 0

    @property
    def running(self) -> bool:
        return self._thread is not None

    async def start(self) -> None:
        """Connect on the thread (the connection never leaves it)."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, args=(loop, ready), name="sqlite", daemon=True
        )
        self._thread.start()
        try:
            await ready
        except BaseException:
            self._thread.join()
            self._thread = None
            raise

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, atomic: bool = False) -> T:
        """Run `fn(connection)` on the thread, in a transaction.

        Args:
            atomic: `fn` runs a single statement (and nothing after it that can fail),
                or only reads, so it needs no savepoint of its own in a group.

        Raises:
            sqlite3.OperationalError: the thread has stopped (or whatever `fn` raises).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._gate:
            if self._closed or self._thread is None:
                raise sqlite3.OperationalError("the database is closed")
            self._queue.put((fn, atomic, future, loop))
        return await future

    async def stop(self) -> None:
        """Finish what is queued, close the connection, end the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    # -- on the thread -------------------------------------------------------------
    def _serve(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            self._db = self._connect()
        except Exception as exc:
            with self._gate:
                self._closed = True
            _answer(loop, [(ready, (False, exc))])
            return
        _answer(loop, [(ready, (True, None))])
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
            self._answer_all(group, self._run_group(self._db, [job[:2] for job in group]))
        self._db.close()
        self._db = None
        with self._gate:  # calls queued after the stop request are refused, not lost
            self._closed = True
            late = []
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    late.append(job)
        closed = sqlite3.OperationalError("the database is closed")
        self._answer_all(late, [(False, closed)] * len(late))

    @staticmethod
    def _answer_all(group: list[Job], outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]]
        by_loop = {}
        for (_, _, future, job_loop), outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(job_loop, []).append((future, outcome))
        for job_loop, answers in by_loop.items():
            _answer(job_loop, answers)

    def _run_group(self, db: sqlite3.Connection, calls: list[tuple[Call, bool]]) -> list[Outcome]:
        """Never raises: the thread outlives any failure (the group fails instead)."""
        try:
            return self._try_group(db, calls)
        except Exception as exc:  # the group's own statements failed (I/O error, misuse)
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            return [(False, exc)] * len(calls)

    def _try_group(self, db: sqlite3.Connection, calls: list[tuple[Call, bool]]) -> list[Outcome]:
        self.calls += len(calls)
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(False, exc)] * len(calls)
        outcomes: list[Outcome] = []
        alone = len(calls) == 1
        for fn, atomic in calls:
            savepoint = not alone and not atomic
            if savepoint:
                db.execute("SAVEPOINT call")
            try:
                outcomes.append((True, fn(db)))
            except Exception as exc:
                if not db.in_transaction:
                    # SQLite rolled the whole transaction back (disk full, I/O error):
                    # the calls before this one are undone too.
                    return [(False, exc)] * len(calls)
                if alone:
                    db.execute("ROLLBACK")
                    return [(False, exc)]
                if savepoint:
                    db.execute("ROLLBACK TO call")
                outcomes.append((False, exc))
            if savepoint:
                db.execute("RELEASE call")
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            return [(False, exc)] * len(calls)
        self.groups += 1
        return outcomes


def _answer(
    loop: asyncio.AbstractEventLoop, answers: list[tuple[asyncio.Future[Any], Outcome]]
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, (ok, value) in answers:
        if future.done():  # the caller was cancelled; the call ran anyway
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
