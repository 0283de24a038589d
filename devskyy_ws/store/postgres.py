"""PostgreSQL store: the shared state of several instances (asyncpg).

Same schema and migrations as SQLite. Migrations run under a transaction-scoped
advisory lock, so instances starting together apply each exactly once. `?schema=NAME`
in the URL puts everything in that schema (tests use one per test).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg

from .base import StoreUnavailable
from .schema import MIGRATIONS, statements
from .sql import SqlStore

__all__ = ["PostgresStore"]

MIGRATION_LOCK = 0x64657673  # "devs"
_DOWN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


POOL_SIZE = 3
"""Connections per instance unless `?pool_size=N` says otherwise: more backends than
the database has cores only take turns and lengthen the tail (docs/benchmarks.md); a
database on a larger machine of its own may want more."""


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


@functools.cache
def _numbered(sql: str) -> str:
    """`?` placeholders as asyncpg's `$1, $2, ...` (no `?` appears in this store's SQL
    otherwise)."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


class PostgresStore(SqlStore):
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
            for version, migration in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements(migration, "postgresql"):
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT 1") == 1)
        except Exception:
            return False

    # -- the primitives sql.py builds on -------------------------------------------
    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]:
        try:
            return [tuple(r) for r in await self._pool.fetch(_numbered(sql), *args)]
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        try:
            status = await self._pool.execute(_numbered(sql), *args)
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1", "INSERT 0 1"

    async def _write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.executemany(_numbered(sql), rows)
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc
