"""Real Redis and PostgreSQL for tests, with a unique namespace each, cleaned up after."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from .conftest import require

REDIS = "redis://127.0.0.1:6379/0"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


async def _redis_up() -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", 6379), 1)
        writer.write(b"PING\r\n")
        line = await asyncio.wait_for(reader.readline(), 1)
        writer.close()
        return line.startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A redis:// URL with a fresh key prefix; every key under it is deleted afterwards."""
    require(await _redis_up(), "Redis is not running on 127.0.0.1:6379")
    import redis.asyncio as aioredis

    prefix = f"devskyy-test-{secrets.token_hex(4)}"
    yield f"{REDIS}?prefix={prefix}"
    client = aioredis.from_url(REDIS)
    async for key in client.scan_iter(match=f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A postgresql:// URL with a fresh schema, dropped afterwards."""
    try:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(POSTGRES), 3)
    except (OSError, TimeoutError, ImportError) as exc:
        require(False, f"PostgreSQL is not reachable on 127.0.0.1:5432 ({type(exc).__name__})")
        raise
    schema = f"devskyy_test_{secrets.token_hex(4)}"
    yield f"{POSTGRES}?schema={schema}"
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()
