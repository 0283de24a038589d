"""SQLite store: one file in the data dir, WAL mode, one connection on one thread.

Every call runs on that thread, in the order made, so the event loop never waits on
disk, SQLite sees one writer, and a read made after a write sees it. WAL lets readers
in other processes (backups, the CLI) in, and SQLite checkpoints the WAL by itself.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..private import private_file
from ..serde import dumps
from .base import RECORD_COLUMNS, Row, StoreUnavailable, TechniqueStat, record_values
from .schema import MIGRATIONS, RETENTION, ROLLUPS

__all__ = ["SqliteStore"]

T = TypeVar("T")


class SqliteStore:
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

    # -- records -------------------------------------------------------------------
    async def put(self, row: Row) -> None:
        values = record_values(row)
        await self._run(lambda db: db.execute(_UPSERT, values))

    async def add(self, row: Row) -> bool:
        values = record_values(row)
        return await self._run(lambda db: db.execute(_ADD, values).rowcount == 1)

    async def put_many(self, rows: Sequence[Row]) -> None:
        values = [record_values(r) for r in rows]
        await self._run(lambda db: db.executemany(_UPSERT, values), transaction=True)

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

        return await self._run(run)

    async def get_text(self, kind: str, id: str) -> str | None:
        def run(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT doc FROM records WHERE id = ? AND kind = ?", (id, kind)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(run)

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
        return await self._run(lambda db: db.execute(sql, (*args, limit)).fetchall())

    async def in_status(self, kind: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))

        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                f"SELECT doc FROM records WHERE kind = ? AND status IN ({marks})"
                " ORDER BY created_at, id",
                (kind, *statuses),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run)

    async def all_docs(self, kind: str) -> list[dict[str, Any]]:
        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT doc FROM records WHERE kind = ? ORDER BY created_at, id", (kind,)
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run)

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

        return await self._run(run)

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

        return await self._run(run)

    async def status_of(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))

        def run(db: sqlite3.Connection) -> dict[str, str]:
            rows = db.execute(
                f"SELECT id, status FROM records WHERE kind = ? AND id IN ({marks})", (kind, *ids)
            ).fetchall()
            return {str(r[0]): str(r[1]) for r in rows}

        return await self._run(run)

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

        return await self._run(run)

    async def unclaimed(self, kind: str, status: str, limit: int) -> list[dict[str, Any]]:
        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT doc FROM records WHERE kind = ? AND status = ? AND owner IS NULL"
                " ORDER BY created_at LIMIT ?",
                (kind, status, limit),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run)

    async def release(self, kind: str, owner: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))

        def run(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                f"SELECT doc FROM records WHERE kind = ? AND owner = ? AND status IN ({marks})",
                (kind, owner, *statuses),
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._run(run)

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

        return await self._run(run)

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

        return await self._run(run)

    # -- key/value state -----------------------------------------------------------
    async def get_state(self, key: str) -> dict[str, Any] | None:
        def run(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return json.loads(row[0]) if row else None

        return await self._run(run)

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

        await self._run(run, transaction=True)

    async def samples(self, since: float, resolution: str) -> list[tuple[float, dict[str, float]]]:
        def run(db: sqlite3.Connection) -> list[tuple[float, dict[str, float]]]:
            rows = db.execute(
                "SELECT ts, doc FROM samples WHERE resolution = ? AND ts >= ? ORDER BY ts",
                (resolution, since),
            ).fetchall()
            return [(float(r[0]), json.loads(r[1])) for r in rows]

        return await self._run(run)

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

        return await self._run(run, transaction=True)

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

        return await self._run(run)

    async def cost_total(self, kind: str) -> float:
        def run(db: sqlite3.Connection) -> float:
            row = db.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM records WHERE kind = ?", (kind,)
            ).fetchone()
            return float(row[0])

        return await self._run(run)

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

        return await self._run(run)

    async def integrity_ok(self) -> bool:
        return await self._run(
            lambda db: db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        )


_RECORDS = f"records ({RECORD_COLUMNS})"
_INSERT = f"INSERT INTO {_RECORDS} VALUES (?,?,?,?,?,?,?,?,?)"
_ADD = _INSERT + " ON CONFLICT DO NOTHING"
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
