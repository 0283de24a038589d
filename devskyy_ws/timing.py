"""Request timing: one access-log line per request and the numbers monitoring reports.

The access line carries the path without its query string (tokens may ride there) and
escapes control characters, so a client cannot forge log lines.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
from aiohttp import web

from .proxy import client_address
from .settings import Network

__all__ = ["RequestStats", "timing_middleware"]

access_log = logging.getLogger("devskyy_ws.access")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def safe_for_log(text: str, limit: int = 300) -> str:
    """Escape control and non-ASCII characters; a path can never start a new log line."""
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii").replace("\n", "\\n")


@attrs.define
class RequestStats:
    """Counts and latencies of REST requests (WebSocket upgrades are not requests here)."""

    window: int = 4096
    total: int = 0
    by_class: Counter[str] = attrs.Factory(Counter)
    recent: deque[tuple[float, float, int]] = attrs.field(init=False)
    _interval_count: int = 0
    _interval_latency: float = 0.0
    _interval_started: float = attrs.field(factory=time.monotonic)
    started: float = attrs.field(factory=time.monotonic)
    observers: list[Callable[[str, str, int, float], None]] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        self.recent = deque(maxlen=self.window)

    def record(self, method: str, route: str, status: int, latency_s: float) -> None:
        self.total += 1
        self.by_class[f"{status // 100}xx"] += 1
        self.recent.append((time.time(), latency_s * 1000.0, status))
        self._interval_count += 1
        self._interval_latency += latency_s
        for observe in self.observers:
            observe(method, route, status, latency_s)

    def take_interval(self) -> tuple[float, float]:
        """Requests per second and mean latency (ms) since the previous call."""
        now = time.monotonic()
        elapsed = max(now - self._interval_started, 1e-9)
        count, latency = self._interval_count, self._interval_latency
        self._interval_count, self._interval_latency = 0, 0.0
        self._interval_started = now
        return count / elapsed, (latency / count * 1000.0 if count else 0.0)

    def percentiles(self, points: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
        latencies = sorted(ms for _, ms, _ in self.recent)
        out: dict[str, float] = {}
        for p in points:
            if not latencies:
                out[f"p{p:g}"] = 0.0
                continue
            index = min(len(latencies) - 1, round(p / 100.0 * (len(latencies) - 1)))
            out[f"p{p:g}"] = round(latencies[index], 3)
        return out

    def error_rate(self) -> dict[str, float]:
        total = sum(self.by_class.values()) or 1
        return {cls: round(n / total, 4) for cls, n in sorted(self.by_class.items())}


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
