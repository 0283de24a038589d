"""What every local stand-in for an outside API shares: a loopback server's lifecycle."""

from __future__ import annotations

from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer


class LocalFake:
    """Serves `app` on a free loopback port between `start()` and `close()`."""

    def __init__(self, app: web.Application) -> None:
        self.server = TestServer(app, host="127.0.0.1")

    async def start(self) -> Self:
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"
