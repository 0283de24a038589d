"""The data dir, database, secret and assets are private to the server's user, whatever
the umask; responses name the product, not the Python and aiohttp versions; and what
aiohttp answers before the app (requests it cannot parse) speaks the error contract
without echoing the request."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devskyy_ws.http.auth import JwtKeys
from devskyy_ws.providers.three_d import LocalStorage, UploadRequest
from devskyy_ws.settings import Settings
from devskyy_ws.store.sqlite import SqliteStore

from .server_process import ServerProcess


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_everything_is_created_private_under_a_zero_umask(
    tmp_path: Path, open_umask: None
) -> None:
    data = tmp_path / "deep" / "data"
    JwtKeys.from_settings(Settings(data_dir=data))
    assert _mode(data) == 0o700 and _mode(data / "jwt-secret") == 0o600
    store = SqliteStore(data / "devskyy.sqlite3")
    await store.open()
    try:
        for name in ("devskyy.sqlite3", "devskyy.sqlite3-wal", "devskyy.sqlite3-shm"):
            assert _mode(data / name) == 0o600, name
    finally:
        await store.close()
    assets = LocalStorage(data / "assets", lambda pid: f"/a/{pid}")
    await assets.upload(UploadRequest("3d-0123456789ab", b"glTF", "glb", "preview", None, "now"))
    assert _mode(data / "assets") == 0o700
    assert _mode(data / "assets" / "3d-0123456789ab.glb") == 0o600
    assert (data / "assets" / "3d-0123456789ab.glb").read_bytes() == b"glTF"


async def test_the_server_header_names_only_the_product(client: Any, tmp_path: Path) -> None:
    resp = await client.get("/health")
    assert resp.headers["Server"] == "devskyy_ws"
    resp = await client.get("/api/v1/agents")  # an error through the middlewares
    assert resp.status == 401 and resp.headers["Server"] == "devskyy_ws"
    with ServerProcess(tmp_path / "data") as server:
        for raw in (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"secret" * 1500 + b"\r\n\r\n",
            b"GET /<script>secret HTTP/9.9\r\n\r\n",
            b"SECRET\x00 / HTTP/1.1\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(raw)
            head, _, body = (await asyncio.wait_for(reader.read(), 10)).partition(b"\r\n\r\n")
            writer.close()
            assert head.split()[1] == b"400"  # aiohttp's own answer, before the app
            assert b"Server: devskyy_ws" in head and b"Python" not in head
            assert b"Content-Type: application/json" in head
            doc = json.loads(body)
            assert doc == {
                "error": "bad_request",
                "message": "The request could not be understood.",
            }
