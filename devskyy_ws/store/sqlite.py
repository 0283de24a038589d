"""SQLite store: one file in the data dir, WAL mode, one connection on one thread.

Every call runs on that thread, in the order made, so the event loop never waits on
disk, SQLite sees one writer, and a read made after a write sees it. WAL lets readers
in other processes (backups, the CLI) in, and SQLite checkpoints the WAL by itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..private import private_file
from .base import StoreUnavailable
from .schema import MIGRATIONS, statements
from .sql import SqlStore

__all__ = ["SqliteStore"]

T = TypeVar("T")


class SqliteStore(SqlStore):
    name = "sqlite"
    shared = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._thread: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    # -- plumbing ------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, transaction: bool = False) -> T:
        """`fn(connection)` on the store's thread; in a transaction of its own when it
        runs more than one statement that writes."""
        thread = self._thread
        if thread is None:
            raise StoreUnavailable("the store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                thread, self._call, fn, transaction
            )
        except RuntimeError as exc:  # closed while the call was being sent
            raise StoreUnavailable("the store is closed") from exc
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _call(self, fn: Callable[[sqlite3.Connection], T], transaction: bool) -> T:
        db = self._db
        if db is None:
            raise sqlite3.OperationalError("the database is closed")
        if not transaction:
            return fn(db)
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

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

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.execute("PRAGMA optimize")
            self._db.close()
            self._db = None

    async def open(self) -> None:
        if self._thread is not None:
            return
        private_file(self.path)
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(thread, self._connect)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        self._thread = thread

    async def close(self) -> None:
        """Finish what is queued, then close the connection and end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(thread, self._disconnect)
        await loop.run_in_executor(None, thread.shutdown)

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
