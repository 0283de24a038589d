"""SQLite store: one file in the data dir, WAL mode, one connection on one thread.

Every call runs on that thread, in the order made, so the event loop never waits on
disk, SQLite sees one writer, and a read made after a write sees it. WAL lets readers
in other processes (backups, the CLI) in, and SQLite checkpoints the WAL by itself.

Group commit: under load, calls arrive faster than SQLite commits them one by one, and
each answer would wake the event loop once. So the thread takes every call waiting in
its queue, runs them in one transaction with a savepoint each, commits once and answers
them in one wake-up of the loop. A call that raises rolls back to its savepoint and
fails alone; a commit that fails fails every call it held, so no caller hears "done"
for a write that is not in the database. This is what holds the REST targets
(docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..private import private_file
from .base import StoreUnavailable
from .schema import MIGRATIONS, statements
from .sql import SqlStore

__all__ = ["MAX_GROUP", "SqliteStore"]

T = TypeVar("T")
Call = Callable[[sqlite3.Connection], Any]
Job = tuple[Call, bool, "asyncio.Future[Any]", asyncio.AbstractEventLoop]
Outcome = tuple[bool, Any]  # (succeeded, value or exception)
MAX_GROUP = 128


class SqliteStore(SqlStore):
    name = "sqlite"
    shared = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._gate = threading.Lock()  # a call is queued only while the thread will answer
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self.commits = 0  # groups committed, for tests

    # -- plumbing ------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, transaction: bool = False) -> T:
        """`fn(connection)` on the store's thread, in its group's transaction.

        Args:
            transaction: `fn` runs more than one statement that writes, so it gets a
                transaction (or a savepoint in a group) of its own, and fails whole.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._gate:
            if self._thread is None:
                raise StoreUnavailable("the store is not open")
            self._queue.put((fn, transaction, future, loop))
        try:
            return await future
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _serve(self) -> None:
        db = self._db
        assert db is not None
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
            _answer(group, self._run_group(db, group))
        with contextlib.suppress(sqlite3.Error):
            db.execute("PRAGMA optimize")
        db.close()
        self._db = None

    def _run_group(self, db: sqlite3.Connection, group: list[Job]) -> list[Outcome]:
        """Never raises: the thread outlives any failure (the group's calls fail)."""
        if len(group) == 1 and not group[0][1]:
            try:
                return [(True, group[0][0](db))]
            except Exception as exc:
                return [(False, exc)]
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(False, exc)] * len(group)
        outcomes: list[Outcome] = []
        for fn, several, *_ in group:
            # One statement needs no savepoint: SQLite undoes a failed one by itself.
            if several:
                db.execute("SAVEPOINT call")
            try:
                outcomes.append((True, fn(db)))
            except Exception as exc:
                if not db.in_transaction:  # SQLite undid it all (disk full, I/O error)
                    return [(False, exc)] * len(group)
                if several:
                    db.execute("ROLLBACK TO call")
                outcomes.append((False, exc))
            if several:
                db.execute("RELEASE call")
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            return [(False, exc)] * len(group)
        self.commits += 1
        return outcomes

    def _connect(self) -> None:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA foreign_keys=ON")
            _migrate(db)
        except BaseException:
            db.close()
            raise
        self._db = db

    async def open(self) -> None:
        if self._thread is not None:
            return
        private_file(self.path)
        await asyncio.to_thread(self._connect)  # the connection is then the thread's alone
        with self._gate:
            self._thread = threading.Thread(target=self._serve, name="sqlite", daemon=True)
            self._thread.start()

    async def close(self) -> None:
        """Finish what is queued, then close the connection and end the thread; calls
        made from now on are refused."""
        with self._gate:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(None)
        await asyncio.to_thread(thread.join)

    async def ping(self) -> bool:
        try:
            return await self._run(lambda db: db.execute("SELECT 1").fetchone()[0] == 1)
        except (StoreUnavailable, sqlite3.Error):
            return False

    # -- the primitives sql.py builds on -------------------------------------------
    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return await self._run(lambda db: db.execute(sql, args).fetchall())

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        return await self._run(lambda db: db.execute(sql, args).rowcount)

    async def _write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._run(lambda db: db.executemany(sql, rows), transaction=True)


def _answer(group: list[Job], outcomes: list[Outcome]) -> None:
    """Settle each caller's future, with one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
    for (_, _, future, loop), outcome in zip(group, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
            loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, (ok, value) in answers:
        if future.done():  # the caller was cancelled; the call ran anyway
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _migrate(db: sqlite3.Connection) -> None:
    """Apply numbered migrations once each; a transaction makes concurrent starts safe."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
        done = {r[0] for r in db.execute("SELECT version FROM schema_version")}
        for version, migration in MIGRATIONS:
            if version in done:
                continue
            for statement in statements(migration, "sqlite"):
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
