"""PostgreSQL store: the shared state of several instances (asyncpg).

Same schema and migrations as SQLite. Migrations run under a transaction-scoped
advisory lock, so instances starting together apply each exactly once. `?schema=NAME`
in the URL puts everything in that schema (tests use one per test).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg

from .base import RECORD_COLUMNS, Row, StoreUnavailable, TechniqueStat, record_values
from .schema import MIGRATIONS, RETENTION, ROLLUPS

__all__ = ["PostgresStore"]

MIGRATION_LOCK = 0x64657673  # "devs"
_DOWN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


POOL_SIZE = 4
"""Connections per instance unless `?pool_size=N` says otherwise. On the 2-core bench
machine, 10 connections made the list's p99 38 ms and 4 made it 16-21 ms at the same
requests/s: more backends than cores only take turns (docs/benchmarks.md)."""


def _split_options(url: str) -> tuple[str, str | None, int]:
    """The DSN for asyncpg, and this store's own `schema` and `pool_size` options.

    Raises:
        ValueError: `pool_size` is not a whole number from 1 to 100.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = query.pop("schema", [None])[0]
    size = query.pop("pool_size", [str(POOL_SIZE)])[0]
    if not size.isdecimal() or not 1 <= int(size) <= 100:
        raise ValueError(f"pool_size must be a whole number from 1 to 100, not {size!r}")
    rest = urlencode({k: v[0] for k, v in query.items()})
    return urlunsplit(parts._replace(query=rest)), schema, int(size)


def _filters(
    kind: str, group_key: str | None, statuses: Sequence[str] | None
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its numbered arguments) every record list shares."""
    where: list[str] = ["kind = $1"]
    args: list[Any] = [kind]
    if group_key is not None:
        args.append(group_key)
        where.append(f"group_key = ${len(args)}")
    if statuses and len(statuses) == 1:
        # `status = ANY($n)` hides the one value from a prepared statement's generic
        # plan, which then sorts every match instead of walking the index in order.
        args.append(statuses[0])
        where.append(f"status = ${len(args)}")
    elif statuses:
        args.append(list(statuses))
        where.append(f"status = ANY(${len(args)}::text[])")
    return " AND ".join(where), args


class PostgresStore:
    name = "postgresql"
    shared = True

    def __init__(self, url: str) -> None:
        self.dsn, self.schema, self.pool_size = _split_options(url)
        self._pool: Any = None

    async def open(self) -> None:
        settings = {"search_path": f'"{self.schema}"'} if self.schema else {}
        if self.schema:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self.pool_size,
            max_size=self.pool_size,
            server_settings=settings,
            command_timeout=30,
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_version")}
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    sql = statement.replace("{json}", "JSONB").replace("{real}", "DOUBLE PRECISION")
                    await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            return list(await self._pool.fetch(sql, *args))
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _execute(self, sql: str, *args: Any) -> str:
        try:
            return str(await self._pool.execute(sql, *args))
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT 1") == 1)
        except Exception:
            return False

    # -- records -------------------------------------------------------------------
    _INSERT = f"INSERT INTO records ({RECORD_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb)"
    _ADD = _INSERT + " ON CONFLICT (id) DO NOTHING"
    _UPSERT = (
        _INSERT + " ON CONFLICT (id) DO UPDATE SET group_key = EXCLUDED.group_key,"
        " status = EXCLUDED.status, latency_ms = EXCLUDED.latency_ms, cost_usd = EXCLUDED.cost_usd,"
        " technique = EXCLUDED.technique, doc = EXCLUDED.doc"
    )

    async def put(self, row: Row) -> None:
        await self._execute(self._UPSERT, *record_values(row))

    async def add(self, row: Row) -> bool:
        return (await self._execute(self._ADD, *record_values(row))).endswith(" 1")

    async def put_many(self, rows: Sequence[Row]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.executemany(self._UPSERT, [record_values(r) for r in rows])
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def put_if(self, row: Row, expected_status: str) -> bool:
        result = await self._execute(
            "UPDATE records SET status = $1, latency_ms = $2, cost_usd = $3, technique = $4,"
            " doc = $5::jsonb WHERE id = $6 AND status = $7",
            row.status,
            row.latency_ms,
            row.cost_usd,
            row.technique,
            json.dumps(row.doc, separators=(",", ":")),
            row.id,
            expected_status,
        )
        return result.endswith(" 1")

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
        rows = await self._fetch(
            f"SELECT doc FROM records WHERE {clause} ORDER BY created_at DESC, id DESC"
            f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        counted = await self._fetch(f"SELECT COUNT(*) AS n FROM records WHERE {clause}", *args)
        total = int(counted[0]["n"])
        return [json.loads(r["doc"]) for r in rows], total

    async def get_text(self, kind: str, id: str) -> str | None:
        rows = await self._fetch(
            "SELECT doc::text AS doc FROM records WHERE id = $1 AND kind = $2", id, kind
        )
        return str(rows[0]["doc"]) if rows else None

    async def list_texts(
        self,
        kind: str,
        *,
        limit: int,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[tuple[str, str]]:
        clause, args = _filters(kind, group_key, statuses)
        rows = await self._fetch(
            f"SELECT id, doc::text AS doc FROM records WHERE {clause}"
            f" ORDER BY created_at DESC, id DESC LIMIT ${len(args) + 1}",
            *args,
            limit,
        )
        return [(r["id"], r["doc"]) for r in rows]

    async def in_status(self, kind: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT doc FROM records WHERE kind = $1 AND status = ANY($2::text[]) ORDER BY created_at, id",
            kind,
            list(statuses),
        )
        return [json.loads(r["doc"]) for r in rows]

    async def all_docs(self, kind: str) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT doc FROM records WHERE kind = $1 ORDER BY created_at, id", kind
        )
        return [json.loads(r["doc"]) for r in rows]

    async def claim(
        self, kind: str, id: str, from_status: str, owner: str, lease_s: float = 30.0
    ) -> bool:
        result = await self._execute(
            "UPDATE records SET owner = $1, lease_until = $2 WHERE id = $3 AND kind = $4"
            " AND status = $5 AND owner IS NULL",
            owner,
            time.time() + lease_s,
            id,
            kind,
            from_status,
        )
        return result.endswith(" 1")

    async def status_of(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = await self._fetch(
            "SELECT id, status FROM records WHERE kind = $1 AND id = ANY($2::text[])",
            kind,
            list(ids),
        )
        return {r["id"]: r["status"] for r in rows}

    async def renew(self, kind: str, ids: Sequence[str], owner: str, lease_s: float) -> None:
        if ids:
            await self._execute(
                "UPDATE records SET lease_until = $1 WHERE kind = $2 AND owner = $3 AND id = ANY($4::text[])",
                time.time() + lease_s,
                kind,
                owner,
                list(ids),
            )

    async def expired(self, kind: str, status: str, now: float) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT doc FROM records WHERE kind = $1 AND status = $2 AND lease_until < $3",
            kind,
            status,
            now,
        )
        return [json.loads(r["doc"]) for r in rows]

    async def unclaimed(self, kind: str, status: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT doc FROM records WHERE kind = $1 AND status = $2 AND owner IS NULL"
            " ORDER BY created_at LIMIT $3",
            kind,
            status,
            limit,
        )
        return [json.loads(r["doc"]) for r in rows]

    async def release(self, kind: str, owner: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT doc FROM records WHERE kind = $1 AND owner = $2 AND status = ANY($3::text[])",
            kind,
            owner,
            list(statuses),
        )
        return [json.loads(r["doc"]) for r in rows]

    async def disown(self, kind: str, status: str, owner: str | None) -> None:
        if owner is None:
            await self._execute(
                "UPDATE records SET owner = NULL WHERE kind = $1 AND status = $2", kind, status
            )
        else:
            await self._execute(
                "UPDATE records SET owner = NULL WHERE kind = $1 AND status = $2 AND owner = $3",
                kind,
                status,
                owner,
            )

    async def agent_totals(self, agent_type: str) -> dict[str, float]:
        rows = await self._fetch(
            "SELECT COUNT(*) FILTER (WHERE status = 'completed') AS completed,"
            " COUNT(*) FILTER (WHERE status = 'failed') AS failed,"
            " AVG(latency_ms) FILTER (WHERE status = 'completed') AS latency,"
            " COALESCE(SUM(cost_usd), 0) AS cost FROM records WHERE kind = 'task' AND group_key = $1",
            agent_type,
        )
        r = rows[0]
        return {
            "completed": float(r["completed"] or 0),
            "failed": float(r["failed"] or 0),
            "avg_latency_ms": float(r["latency"] or 0.0),
            "total_cost_usd": float(r["cost"] or 0.0),
        }

    async def technique_stats(self, agent_type: str | None) -> list[TechniqueStat]:
        args: list[Any] = []
        where = "kind = 'task' AND technique IS NOT NULL AND status IN ('completed', 'failed')"
        if agent_type is not None:
            args.append(agent_type)
            where += " AND group_key = $1"
        rows = await self._fetch(
            "SELECT technique, doc->>'category' AS category, COUNT(*) AS uses,"
            " COUNT(*) FILTER (WHERE status = 'completed') AS ok, AVG(latency_ms) AS latency"
            f" FROM records WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
            *args,
        )
        return [
            TechniqueStat(
                r["technique"],
                r["category"] or "general",
                int(r["uses"]),
                int(r["ok"]),
                float(r["latency"] or 0),
            )
            for r in rows
        ]

    async def status_counts(self, kind: str) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT status, COUNT(*) AS n FROM records WHERE kind = $1 GROUP BY status", kind
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def cost_total(self, kind: str) -> float:
        rows = await self._fetch(
            "SELECT COALESCE(SUM(cost_usd), 0) AS c FROM records WHERE kind = $1", kind
        )
        return float(rows[0]["c"])

    async def provider_task_stats(self) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT doc->'metrics'->>'provider' AS provider, COUNT(*) AS uses,"
            " COUNT(*) FILTER (WHERE status = 'completed') AS ok, AVG(latency_ms) AS latency,"
            " COALESCE(SUM(cost_usd), 0) AS cost FROM records"
            " WHERE kind = 'task' AND status IN ('completed', 'failed') GROUP BY 1 ORDER BY 1"
        )
        return [
            {
                "provider": r["provider"] or "unknown",
                "uses": int(r["uses"]),
                "success_rate": round(int(r["ok"]) / int(r["uses"]), 4) if r["uses"] else 0.0,
                "mean_latency_ms": round(float(r["latency"] or 0.0), 3),
                "cost_usd": round(float(r["cost"]), 6),
            }
            for r in rows
        ]

    # -- state ---------------------------------------------------------------------
    async def get_state(self, key: str) -> dict[str, Any] | None:
        rows = await self._fetch("SELECT value FROM state WHERE key = $1", key)
        return json.loads(rows[0]["value"]) if rows else None

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        await self._execute(
            "INSERT INTO state (key, value) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            key,
            json.dumps(value),
        )

    # -- metrics -------------------------------------------------------------------
    async def add_samples(self, samples: Sequence[tuple[float, dict[str, float]]]) -> None:
        try:
            await self._pool.executemany(
                "INSERT INTO samples (resolution, ts, doc) VALUES ('raw', $1, $2::jsonb)"
                " ON CONFLICT (resolution, ts) DO UPDATE SET doc = EXCLUDED.doc",
                [(ts, json.dumps(doc)) for ts, doc in samples],
            )
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def samples(self, since: float, resolution: str) -> list[tuple[float, dict[str, float]]]:
        rows = await self._fetch(
            "SELECT ts, doc FROM samples WHERE resolution = $1 AND ts >= $2 ORDER BY ts",
            resolution,
            since,
        )
        return [(float(r["ts"]), json.loads(r["doc"])) for r in rows]

    async def rollup(self, now: float) -> dict[str, int]:
        from .sqlite import _average

        async with self._pool.acquire() as conn, conn.transaction():
            for source, target, width in ROLLUPS:
                last = await conn.fetchval(
                    "SELECT MAX(ts) FROM samples WHERE resolution = $1", target
                )
                start = float(last) + width if last is not None else 0.0
                end = (now // width) * width
                rows = await conn.fetch(
                    "SELECT ts, doc FROM samples WHERE resolution = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
                    source,
                    start,
                    end,
                )
                buckets: dict[float, list[dict[str, float]]] = {}
                for r in rows:
                    buckets.setdefault((float(r["ts"]) // width) * width, []).append(
                        json.loads(r["doc"])
                    )
                await conn.executemany(
                    "INSERT INTO samples (resolution, ts, doc) VALUES ($1, $2, $3::jsonb)"
                    " ON CONFLICT (resolution, ts) DO UPDATE SET doc = EXCLUDED.doc",
                    [(target, ts, json.dumps(_average(docs))) for ts, docs in buckets.items()],
                )
            for resolution, keep in RETENTION.items():
                await conn.execute(
                    "DELETE FROM samples WHERE resolution = $1 AND ts < $2", resolution, now - keep
                )
            counts = await conn.fetch(
                "SELECT resolution, COUNT(*) AS n FROM samples GROUP BY resolution"
            )
        return {r["resolution"]: int(r["n"]) for r in counts}

    async def count_rows(self, table: str) -> int:
        if table not in ("records", "samples", "state"):
            raise ValueError(f"unknown table {table!r}")
        return int((await self._fetch(f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"])

    async def integrity_ok(self) -> bool:
        return await self.ping()
