"""SQLite store: one file in the data dir, WAL mode, one thread that owns the connection.

Every write runs on that thread (sqlite_thread.py), so the event loop never waits on
disk and SQLite sees one writer; WAL lets readers in other processes (backups, the CLI)
in. Each call is a transaction of its own, or a savepoint in a group commit under load.
A second thread and connection copies the WAL back into the file (checkpoint.py). The
reads REST serves most (a task, the task list) go to a read process (reader.py) when
there is one, and to the thread when there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..private import private_file
from ..serde import dumps
from .base import RECORD_COLUMNS, Row, StoreUnavailable, TechniqueStat, record_values
from .checkpoint import BACKSTOP_PAGES, Checkpointer
from .reader import ReaderGone, ReadProcess, query
from .schema import MIGRATIONS, RETENTION, ROLLUPS
from .sqlite_thread import Insert, SqliteThread

__all__ = ["REVIVE_AFTER_S", "REVIVE_MAX_S", "SqliteStore"]

log = logging.getLogger("devskyy_ws.store")

T = TypeVar("T")
REVIVE_AFTER_S = 1.0
REVIVE_MAX_S = 60.0
"""A read process that died is started again REVIVE_AFTER_S after the last start; each
further one that dies within REVIVE_MAX_S of its start doubles that wait, up to
REVIVE_MAX_S, so one that can never start (no interpreter to exec, a file it cannot
open) costs a log line a minute, not a process a second."""


class SqliteStore:
    name = "sqlite"
    shared = False

    def __init__(self, path: str | Path, *, read_process: bool = True) -> None:
        self.path = Path(path)
        self.checkpointer = Checkpointer(self.path)
        self.thread = SqliteThread(self._connect, on_commit=self.checkpointer.committed)
        self.reader = ReadProcess(self.path) if read_process else None
        self._reviving: asyncio.Task[None] | None = None
        self._spawning = False  # the reviving task is past its wait, starting a child
        self._reader_started = 0.0  # loop time of the last start
        self._revive_wait = REVIVE_AFTER_S
        self._closing = False
        self._queued = 0  # calls sent to the thread and not yet answered

    # -- plumbing ------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, atomic: bool = False) -> T:
        """Run `fn` on the store's thread, inside a transaction (see sqlite_thread);
        `atomic` when it is one statement or reads only."""
        if not self.thread.running:
            raise StoreUnavailable("the store is not open")
        self._queued += 1
        try:
            return await self.thread.call(fn, atomic=atomic)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc
        finally:
            self._queued -= 1

    async def _read(self, sql: str, params: Sequence[Any], *, first: bool = False) -> Any:
        """`reader.query` in the read process; on the thread while there is none, or while
        the thread has calls not yet answered.

        A read never overtakes a write made before it: the thread answers in order, and
        services count on that (a finished task leaves memory, then its final row is
        written; a read in between must wait for that row, not see the one before it).
        With nothing queued on the thread, every earlier write is committed, and a read
        in the other process sees it.
        """
        if self.reader is not None and not self._closing and not self._queued:
            try:
                return await self.reader.query(sql, params, first=first)
            except ReaderGone:
                self._revive()
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(str(exc)) from exc
        return await self._run(partial(query, sql=sql, params=params, first=first), atomic=True)

    async def _start_reader(self) -> None:
        assert self.reader is not None
        self._reader_started = asyncio.get_running_loop().time()
        try:
            await self.reader.start()
        except Exception:
            log.exception("the read process did not start; reads run on the store thread")

    def _revive(self) -> None:
        """Start a dead read process again, in the background and not too often."""
        if self._reviving is None and not self._closing and self.thread.running:
            self._reviving = asyncio.create_task(self._restart_reader())

    async def _restart_reader(self) -> None:
        assert self.reader is not None
        try:
            now = asyncio.get_running_loop().time()
            if now - self._reader_started >= REVIVE_MAX_S:  # it had been serving a while
                self._revive_wait = REVIVE_AFTER_S
            await asyncio.sleep(max(0.0, self._reader_started + self._revive_wait - now))
            self._revive_wait = min(self._revive_wait * 2, REVIVE_MAX_S)
            log.warning("the read process went away; starting another")
            self._spawning = True  # close() waits for this part instead of cancelling it
            await self._start_reader()  # reaps the dead one first
        finally:
            self._spawning = False
            self._reviving = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # see checkpoint.py
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        _migrate(db)
        return db

    async def open(self) -> None:
        private_file(self.path)
        self._closing = False
        await self.thread.start()  # creates and migrates the file the reader opens
        self.checkpointer.start()
        if self.reader is not None and not self.reader.alive:
            await self._start_reader()

    async def close(self) -> None:
        if not self.thread.running:
            return
        self._closing = True
        if self._reviving is not None:
            if not self._spawning:  # a cancelled spawn could leave a child nobody reaps
                self._reviving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reviving
        if self.reader is not None:
            await self.reader.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.checkpointer.stop)
        await self._run(lambda db: db.execute("PRAGMA optimize"))
        await self.thread.stop()

    async def ping(self) -> bool:
        try:
            return await self._run(
                lambda db: db.execute("SELECT 1").fetchone()[0] == 1, atomic=True
            )
        except (StoreUnavailable, sqlite3.Error):
            return False

    # -- records -------------------------------------------------------------------
    async def put(self, row: Row) -> None:
        values = record_values(row)
        await self._run(lambda db: db.execute(_UPSERT, values), atomic=True)

    async def add(self, row: Row) -> bool:
        values = record_values(row)
        return await self._run(Insert(_RECORDS, values))

    async def put_many(self, rows: Sequence[Row]) -> None:
        values = [record_values(r) for r in rows]
        await self._run(lambda db: db.executemany(_UPSERT, values))

    async def get(self, kind: str, id: str) -> dict[str, Any] | None:
        text = await self.get_text(kind, id)
        return json.loads(text) if text is not None else None

    async def list_records(
        self,
        kind: str,
        *,
        limit: int,
        offset: int = 0,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        clause, args = _filters(kind, group_key, statuses)

        def run(db: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
            docs = db.execute(
                f"SELECT doc FROM records WHERE {clause}"
                " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM records WHERE {clause}", args).fetchone()[0]
            return [json.loads(d[0]) for d in docs], int(total)

        return await self._run(run, atomic=True)

    async def get_text(self, kind: str, id: str) -> str | None:
        text = await self._read(
            "SELECT doc FROM records WHERE id = ? AND kind = ?", (id, kind), first=True
        )
        return None if text is None else str(text)

    async def list_texts(
        self,
        kind: str,
        *,
        limit: int,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[tuple[str, str]]:
        clause, args = _filters(kind, group_key, statuses)
        sql = (
            f"SELECT id, doc FROM records WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        rows: list[tuple[str, str]] = await self._read(sql, (*args, limit))
        return rows

    async def in_status(self, kind: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))

        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                f"SELECT doc FROM records WHERE kind = ? AND status IN ({marks})"
                " ORDER BY created_at, id",
                (kind, *statuses),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run, atomic=True)

    async def all_docs(self, kind: str) -> list[dict[str, Any]]:
        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT doc FROM records WHERE kind = ? ORDER BY created_at, id", (kind,)
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run, atomic=True)

    async def claim(
        self, kind: str, id: str, from_status: str, owner: str, lease_s: float = 30.0
    ) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "UPDATE records SET owner = ?, lease_until = ? WHERE id = ? AND kind = ?"
                " AND status = ? AND owner IS NULL",
                (owner, time.time() + lease_s, id, kind, from_status),
            )
            return cur.rowcount == 1

        return await self._run(run, atomic=True)

    async def put_if(self, row: Row, expected_status: str) -> bool:
        text = dumps(row.doc)

        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "UPDATE records SET status = ?, latency_ms = ?, cost_usd = ?, technique = ?,"
                " doc = ? WHERE id = ? AND status = ?",
                (
                    row.status,
                    row.latency_ms,
                    row.cost_usd,
                    row.technique,
                    text,
                    row.id,
                    expected_status,
                ),
            )
            return cur.rowcount == 1

        return await self._run(run, atomic=True)

    async def status_of(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))

        def run(db: sqlite3.Connection) -> dict[str, str]:
            rows = db.execute(
                f"SELECT id, status FROM records WHERE kind = ? AND id IN ({marks})", (kind, *ids)
            ).fetchall()
            return {str(r[0]): str(r[1]) for r in rows}

        return await self._run(run, atomic=True)

    async def renew(self, kind: str, ids: Sequence[str], owner: str, lease_s: float) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        until = time.time() + lease_s
        await self._run(
            lambda db: db.execute(
                f"UPDATE records SET lease_until = ? WHERE kind = ? AND owner = ? AND id IN ({marks})",
                (until, kind, owner, *ids),
            )
        )

    async def expired(self, kind: str, status: str, now: float) -> list[dict[str, Any]]:
        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT doc FROM records WHERE kind = ? AND status = ? AND lease_until < ?",
                (kind, status, now),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run, atomic=True)

    async def unclaimed(self, kind: str, status: str, limit: int) -> list[dict[str, Any]]:
        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT doc FROM records WHERE kind = ? AND status = ? AND owner IS NULL"
                " ORDER BY created_at LIMIT ?",
                (kind, status, limit),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run, atomic=True)

    async def release(self, kind: str, owner: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))

        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                f"SELECT doc FROM records WHERE kind = ? AND owner = ? AND status IN ({marks})",
                (kind, owner, *statuses),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run, atomic=True)

    async def disown(self, kind: str, status: str, owner: str | None) -> None:
        where, args = "kind = ? AND status = ?", [kind, status]
        if owner is not None:
            where += " AND owner = ?"
            args.append(owner)
        await self._run(
            lambda db: db.execute(f"UPDATE records SET owner = NULL WHERE {where}", args)
        )

    async def agent_totals(self, agent_type: str) -> dict[str, float]:
        def run(db: sqlite3.Connection) -> dict[str, float]:
            row = db.execute(
                "SELECT SUM(status = 'completed'), SUM(status = 'failed'),"
                " AVG(CASE WHEN status = 'completed' THEN latency_ms END),"
                " COALESCE(SUM(cost_usd), 0)"
                " FROM records WHERE kind = 'task' AND group_key = ?",
                (agent_type,),
            ).fetchone()
            return {
                "completed": float(row[0] or 0),
                "failed": float(row[1] or 0),
                "avg_latency_ms": float(row[2] or 0.0),
                "total_cost_usd": float(row[3] or 0.0),
            }

        return await self._run(run, atomic=True)

    async def technique_stats(self, agent_type: str | None) -> list[TechniqueStat]:
        where = "kind = 'task' AND technique IS NOT NULL AND status IN ('completed','failed')"
        args: tuple[str, ...] = ()
        if agent_type is not None:
            where += " AND group_key = ?"
            args = (agent_type,)

        def run(db: sqlite3.Connection) -> list[TechniqueStat]:
            rows = db.execute(
                "SELECT technique, json_extract(doc, '$.category'), COUNT(*),"
                " SUM(status = 'completed'), AVG(latency_ms)"
                f" FROM records WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
                args,
            ).fetchall()
            return [
                TechniqueStat(r[0], r[1] or "general", int(r[2]), int(r[3] or 0), float(r[4] or 0))
                for r in rows
            ]

        return await self._run(run, atomic=True)

    # -- key/value state -----------------------------------------------------------
    async def get_state(self, key: str) -> dict[str, Any] | None:
        def run(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return json.loads(row[0]) if row else None

        return await self._run(run, atomic=True)

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        text = dumps(value)
        await self._run(
            lambda db: db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, text),
            )
        )

    # -- metrics -------------------------------------------------------------------
    async def add_samples(self, samples: Sequence[tuple[float, dict[str, float]]]) -> None:
        values = [("raw", ts, dumps(doc)) for ts, doc in samples]

        def run(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT OR REPLACE INTO samples (resolution, ts, doc) VALUES (?, ?, ?)", values
            )

        await self._run(run)

    async def samples(self, since: float, resolution: str) -> list[tuple[float, dict[str, float]]]:
        def run(db: sqlite3.Connection) -> list[tuple[float, dict[str, float]]]:
            rows = db.execute(
                "SELECT ts, doc FROM samples WHERE resolution = ? AND ts >= ? ORDER BY ts",
                (resolution, since),
            ).fetchall()
            return [(float(r[0]), json.loads(r[1])) for r in rows]

        return await self._run(run, atomic=True)

    async def rollup(self, now: float) -> dict[str, int]:
        def run(db: sqlite3.Connection) -> dict[str, int]:
            for source, target, width in ROLLUPS:
                _rollup(db, source, target, width, now)
            for resolution, keep in RETENTION.items():
                db.execute(
                    "DELETE FROM samples WHERE resolution = ? AND ts < ?", (resolution, now - keep)
                )
            counts = db.execute(
                "SELECT resolution, COUNT(*) FROM samples GROUP BY resolution"
            ).fetchall()
            return {r[0]: int(r[1]) for r in counts}

        return await self._run(run)

    async def count_rows(self, table: str) -> int:
        if table not in ("records", "samples", "state"):
            raise ValueError(f"unknown table {table!r}")
        return await self._run(
            lambda db: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        )

    async def status_counts(self, kind: str) -> dict[str, int]:
        def run(db: sqlite3.Connection) -> dict[str, int]:
            rows = db.execute(
                "SELECT status, COUNT(*) FROM records WHERE kind = ? GROUP BY status", (kind,)
            ).fetchall()
            return {str(r[0]): int(r[1]) for r in rows}

        return await self._run(run, atomic=True)

    async def cost_total(self, kind: str) -> float:
        def run(db: sqlite3.Connection) -> float:
            row = db.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM records WHERE kind = ?", (kind,)
            ).fetchone()
            return float(row[0])

        return await self._run(run, atomic=True)

    async def provider_task_stats(self) -> list[dict[str, Any]]:
        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT json_extract(doc, '$.metrics.provider'), COUNT(*),"
                " SUM(status = 'completed'), AVG(latency_ms), COALESCE(SUM(cost_usd), 0)"
                " FROM records WHERE kind = 'task' AND status IN ('completed', 'failed')"
                " GROUP BY 1 ORDER BY 1"
            ).fetchall()
            return [
                {
                    "provider": r[0] or "unknown",
                    "uses": int(r[1]),
                    "success_rate": round(int(r[2] or 0) / int(r[1]), 4) if r[1] else 0.0,
                    "mean_latency_ms": round(float(r[3] or 0.0), 3),
                    "cost_usd": round(float(r[4]), 6),
                }
                for r in rows
            ]

        return await self._run(run, atomic=True)

    async def integrity_ok(self) -> bool:
        return await self._run(
            lambda db: db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        )


_RECORDS = f"records ({RECORD_COLUMNS})"
_INSERT = f"INSERT INTO {_RECORDS} VALUES (?,?,?,?,?,?,?,?,?)"
_UPSERT = (
    _INSERT + " ON CONFLICT(id) DO UPDATE SET group_key=excluded.group_key,"
    " status=excluded.status, latency_ms=excluded.latency_ms, cost_usd=excluded.cost_usd,"
    " technique=excluded.technique, doc=excluded.doc"
)


def _filters(
    kind: str, group_key: str | None, statuses: Sequence[str] | None
) -> tuple[str, list[str]]:
    """The WHERE clause (and its arguments) every record list shares."""
    where, args = ["kind = ?"], [kind]
    if group_key is not None:
        where.append("group_key = ?")
        args.append(group_key)
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        args.extend(statuses)
    return " AND ".join(where), args


def _rollup(db: sqlite3.Connection, source: str, target: str, width: float, now: float) -> None:
    """Average finished buckets of `source` into `target` (idempotent per bucket)."""
    last = db.execute("SELECT MAX(ts) FROM samples WHERE resolution = ?", (target,)).fetchone()[0]
    start = float(last) + width if last is not None else 0.0
    end = (now // width) * width  # only buckets that are over
    rows = db.execute(
        "SELECT ts, doc FROM samples WHERE resolution = ? AND ts >= ? AND ts < ? ORDER BY ts",
        (source, start, end),
    ).fetchall()
    buckets: dict[float, list[dict[str, float]]] = {}
    for ts, doc in rows:
        buckets.setdefault((float(ts) // width) * width, []).append(json.loads(doc))
    db.executemany(
        "INSERT OR REPLACE INTO samples (resolution, ts, doc) VALUES (?, ?, ?)",
        [(target, ts, dumps(_average(docs))) for ts, docs in buckets.items()],
    )


def _average(docs: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for d in docs for k in d}
    out: dict[str, float] = {}
    for key in keys:
        values = [float(d[key]) for d in docs if isinstance(d.get(key), int | float)]
        if values:
            out[key] = round(sum(values) / len(values), 4)
    return out


def _migrate(db: sqlite3.Connection) -> None:
    """Apply numbered migrations once each; a transaction makes concurrent starts safe."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
        done = {r[0] for r in db.execute("SELECT version FROM schema_version")}
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                db.execute(statement.replace("{json}", "TEXT").replace("{real}", "REAL"))
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
