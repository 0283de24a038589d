"""Request timing: one access-log line per request and the numbers monitoring reports.

The access line carries the path without its query string (tokens may ride there) and
escapes control characters, so a client cannot forge log lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from ..services.requests import RequestStats
from ..settings import Network
from .proxy import client_address

__all__ = ["timing_middleware"]

access_log = logging.getLogger("devskyy_ws.access")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def safe_for_log(text: str, limit: int = 300) -> str:
    """Escape control and non-ASCII characters; a path can never start a new log line."""
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii").replace("\n", "\\n")


def timing_middleware(
    stats_for: Callable[[web.Request], RequestStats],
    trusted_for: Callable[[web.Request], Sequence[Network]],
) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            elapsed = time.perf_counter() - started
            is_socket = isinstance(response, web.WebSocketResponse)
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            if not is_socket:
                stats_for(request).record(request.method, route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d %.1fms %s",
                    request.method,
                    safe_for_log(request.path),
                    101 if is_socket else status,
                    elapsed * 1000.0,
                    safe_for_log(client_address(request, trusted_for(request))),
                )

    return middleware
