"""Real Redis and PostgreSQL for tests, with a unique namespace each, cleaned up after.

The fixtures are synchronous (they run their own short event loop) so that any test,
sync or async, and other fixtures can depend on them.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator

import pytest

from .conftest import require

REDIS = "redis://127.0.0.1:6379/0"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis:// URL with a fresh key prefix; every key under it is deleted afterwards."""
    require(_listening(6379), "Redis is not running on 127.0.0.1:6379")
    prefix = f"devskyy-test-{secrets.token_hex(4)}"
    yield f"{REDIS}?prefix={prefix}"

    async def clean() -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(REDIS)
        async for key in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()

    asyncio.run(clean())


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A postgresql:// URL with a fresh schema, dropped afterwards."""
    require(_listening(5432), "PostgreSQL is not running on 127.0.0.1:5432")
    schema = f"devskyy_test_{secrets.token_hex(4)}"
    yield f"{POSTGRES}?schema={schema}"

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()

    asyncio.run(drop())
