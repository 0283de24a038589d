"""`python -m devskyy_ws` serving an app: bind first, start, wait for a signal, stop.

Owning this loop (instead of `web.run_app`) buys three things: the port is bound before
start-up runs, so a port in use fails before anything says ready; the listen backlog is
sized for reconnect storms (aiohttp's default is 128); and aiohttp's own answers to
requests it cannot parse (oversized headers, bad request lines) speak the error contract
instead of echoing the request's bytes as text/plain. Embedding hosts keep their own
runner: there, those low-level answers stay aiohttp's (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..version import SERVER_HEADER
from .errors import CODES, error_response

__all__ = ["ContractRunner", "bind", "serve"]

log = logging.getLogger("devskyy_ws")

BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


class ContractRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering unparseable requests in the contract."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; refuses if half-sent
        code, sentence = CODES.get(status, ("bad_request", "The request could not be read."))
        response = error_response(status, code, sentence, headers={"Server": SERVER_HEADER})
        response.force_close()
        return response


class ContractServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ContractRequestHandler(self, loop=self._loop, **self._kwargs)


class ContractRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return ContractServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening socket on the first address `host` resolves to.

    Raises:
        OSError: the address is in use or cannot be bound.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(
    app: web.Application,
    sock: socket.socket,
    shutdown_timeout: float,
    announce: Callable[[], None],
) -> None:
    """Run `app` on `sock` until SIGINT or SIGTERM, then shut it down gracefully."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = ContractRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    try:
        await runner.setup()
        # SockSite hands its own backlog (default 128) to the loop, which calls listen()
        # again with it: without passing ours, the storm-sized queue bound above is lost.
        await web.SockSite(runner, sock, backlog=BACKLOG).start()
        announce()
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        log.info("devskyy_ws stopped")
