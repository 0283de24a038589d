"""Shared fixtures: a real app on a real socket, tokens, and free ports."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from devskyy_ws import JWT_KEY, Settings, create_app
from devskyy_ws.store.sqlite import SqliteStore

REQUIRE_SYSTEM = os.environ.get("DEVSKYY_REQUIRE_SYSTEM_TESTS") == "1"

ClientFactory = Callable[..., Awaitable[TestClient[Any, web.Application]]]


def require(condition: bool, reason: str) -> None:
    """Skip for a missing system service, or fail when CI demands system tests."""
    if condition:
        return
    if REQUIRE_SYSTEM:
        pytest.fail(f"DEVSKYY_REQUIRE_SYSTEM_TESTS=1 but {reason}")
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed")
    assert path is not None
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast settings for tests: short intervals, a fresh data dir, no rate limit."""
    return Settings(
        data_dir=tmp_path / "data",
        jwt_secret="test-secret-that-is-long-enough-for-hs256",
        metrics_interval=3600,
        rate_limit=0,
        handshake_rate=0,
        task_step_delay=0.01,
    )


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open SQLite store on a fresh file, closed after the test."""
    opened = SqliteStore(tmp_path / "store.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def make_client(aiohttp_client: Any, settings: Settings) -> ClientFactory:
    """Start the app on a real port with `settings` changed by keyword arguments."""

    async def make(**changes: Any) -> TestClient[Any, web.Application]:
        app = create_app(attrs.evolve(settings, **changes))
        client: TestClient[Any, web.Application] = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient[Any, web.Application]:
    return await make_client()


def token_for(
    client: TestClient[Any, web.Application], scope: str = "admin", sub: str = "tester"
) -> str:
    return client.app[JWT_KEY].mint(sub, scope)


def auth(client: TestClient[Any, web.Application], scope: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, scope)}"}
