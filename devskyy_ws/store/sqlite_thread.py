"""The one thread that owns the SQLite connection, and the group commit it does.

Under load, calls arrive faster than SQLite commits them one by one: every commit
appends each page it touched (the table's and every index's) to the WAL, and every
answer wakes the event loop once. So the thread takes all the calls waiting in its
queue, runs them in one transaction with a savepoint each, commits once, and answers
the waiting coroutines in one wake-up of their loop. A call that raises rolls back to
its own savepoint and fails alone; a commit that fails fails every call it held, so no
caller is told "done" for a write that is not in the database.

A call made `atomic` (one statement, or reads only) runs without a savepoint: SQLite
undoes a failed statement by itself, and the two extra statements per call were a
quarter of this thread's time under the REST benchmark's inserts.

An `Insert` (one new row) is the one call the thread looks into: inserts that meet in a
group, one after another, go to SQLite as one multi-row INSERT with no transaction
around it, since one statement is atomic by itself. Every statement hands the GIL to
the event loop and waits to get it back, up to a switch interval (5 ms) while the loop
is busy; a row at a time, that wait, not SQLite, was most of a group's time under
the REST benchmark's POSTs, and requests waited on it (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["Insert", "SqliteThread"]

T = TypeVar("T")
Call = Callable[[sqlite3.Connection], Any]
Job = tuple[Call, bool, "asyncio.Future[Any]", asyncio.AbstractEventLoop]
Outcome = tuple[bool, Any]  # (succeeded, value or exception)

MAX_GROUP = 128


class Insert:
    """A call that adds one row to `table`; True if it was added, False if its key (or
    another unique value) was taken.

    Args:
        table: the table and its columns, as in `INSERT INTO t (a, b)`.
        values: one value per column.
    """

    __slots__ = ("table", "values")

    def __init__(self, table: str, values: Sequence[Any]) -> None:
        self.table = table
        self.values = values

    def __call__(self, db: sqlite3.Connection) -> bool:
        sql = f"INSERT INTO {self.table} VALUES ({_marks(len(self.values))}) ON CONFLICT DO NOTHING"
        return bool(db.execute(sql, self.values).rowcount == 1)


@functools.cache
def _marks(width: int) -> str:
    return ",".join("?" * width)


@functools.cache
def _merged(table: str, width: int, rows: int) -> str:
    """One INSERT of `rows` rows. No ON CONFLICT: a clash fails the whole statement, and
    then each row is tried alone, to tell the callers which one clashed."""
    return f"INSERT INTO {table} VALUES " + ",".join([f"({_marks(width)})"] * rows)


class SqliteThread:
    """Runs calls on one connection, in the order they were made.

    Args:
        connect: opens the connection (on the thread).
        on_commit: called on the thread after each group that changed rows.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._on_commit = on_commit
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
            changes = self._db.total_changes
            outcomes = self._run_group(self._db, [job[:2] for job in group])
            # before the answers: whoever hears "done" can count on the hook having run
            if self._on_commit is not None and self._db.total_changes != changes:
                self._on_commit()
            self._answer_all(group, outcomes)
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
        """Runs of inserts and runs of other calls, in order, each committed on its own.

        Never raises: the thread outlives any failure (the run fails instead).
        """
        self.calls += len(calls)
        outcomes: list[Outcome] = []
        for run, inserts in _runs(calls):
            try:
                if inserts:
                    outcomes += self._insert(db, [fn for fn, _ in run if isinstance(fn, Insert)])
                else:
                    outcomes += self._transaction(db, run)
            except Exception as exc:  # the run's own statements failed (I/O error, misuse)
                with contextlib.suppress(sqlite3.Error):
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                outcomes += [(False, exc)] * len(run)
        return outcomes

    def _insert(self, db: sqlite3.Connection, rows: list[Insert]) -> list[Outcome]:
        """Rows for one table, as few statements as SQLite's variable limit allows."""
        if len(rows) == 1:
            return [self._insert_alone(db, rows[0])]
        width = len(rows[0].values)
        per = max(1, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
        outcomes: list[Outcome] = []
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            try:
                db.execute(
                    _merged(chunk[0].table, width, len(chunk)),
                    [value for row in chunk for value in row.values],
                )
            except sqlite3.Error:
                # A clash or a bad value fails the whole statement and undoes it; each
                # row alone says which (and an I/O error fails each one in turn).
                outcomes += [self._insert_alone(db, row) for row in chunk]
                continue
            self.groups += 1
            outcomes += [(True, True)] * len(chunk)
        return outcomes

    def _insert_alone(self, db: sqlite3.Connection, row: Insert) -> Outcome:
        try:
            added = row(db)
        except Exception as exc:
            return (False, exc)
        self.groups += 1
        return (True, added)

    def _transaction(self, db: sqlite3.Connection, calls: list[tuple[Call, bool]]) -> list[Outcome]:
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


def _runs(calls: list[tuple[Call, bool]]) -> list[tuple[list[tuple[Call, bool]], bool]]:
    """The group cut into runs: inserts into one table (True), or anything else (False)."""
    runs: list[tuple[list[tuple[Call, bool]], bool]] = []
    last: object = None
    for call in calls:
        fn = call[0]
        key = (fn.table, len(fn.values)) if isinstance(fn, Insert) else None
        if runs and key == last:
            runs[-1][0].append(call)
        else:
            runs.append(([call], key is not None))
            last = key
    return runs


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
