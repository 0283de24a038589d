"""Counts and latencies of REST requests: what monitoring and /metrics report.

Kept outside the HTTP layer; its timing middleware records each request here
(http/timing.py). The per-route series are prometheus-client's own Counter and
Histogram, registered in the app's registry by http/prometheus.py.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

import attrs
import prometheus_client

__all__ = ["LATENCY_BOUNDS", "RequestStats"]


LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the latency histogram's buckets; +Inf holds the rest."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CLASSES = tuple(f"{n}xx" for n in range(10))


@attrs.define
class RequestStats:
    """Counts and latencies of REST requests (WebSocket upgrades are not requests here)."""

    window: int = 4096
    total: int = 0
    by_class: Counter[str] = attrs.Factory(Counter)
    recent: deque[float] = attrs.field(init=False)  # latencies in ms, for percentiles
    counts: prometheus_client.Counter = attrs.field(init=False)
    """Requests per (method, route, status). Methods beyond REST's (the parser admits
    WebDAV and more) share "OTHER", so clients cannot mint series."""
    latency: prometheus_client.Histogram = attrs.field(init=False)
    _counters: dict[tuple[str, str, int], Any] = attrs.field(init=False, factory=dict)
    _histograms: dict[str, Any] = attrs.field(init=False, factory=dict)
    _interval_count: int = 0
    _interval_latency: float = 0.0
    _interval_started: float = attrs.field(factory=time.monotonic)
    started: float = attrs.field(factory=time.monotonic)

    def __attrs_post_init__(self) -> None:
        self.recent = deque(maxlen=self.window)
        self.counts = prometheus_client.Counter(
            "devskyy_http_requests",
            "REST requests",
            ["method", "route", "status"],
            registry=None,  # the app's own registry takes it (two apps, two sets)
        )
        self.latency = prometheus_client.Histogram(
            "devskyy_http_request_duration_seconds",
            "REST request latency",
            ["route"],
            buckets=LATENCY_BOUNDS,
            registry=None,
        )

    def record(self, method: str, route: str, status: int, latency_s: float) -> None:
        self.total += 1
        self.by_class[_CLASSES[status // 100]] += 1
        self.recent.append(latency_s * 1000.0)
        self._interval_count += 1
        self._interval_latency += latency_s
        key = (method if method in _METHODS else "OTHER", route, status)
        counter = self._counters.get(key)
        if counter is None:  # labels() takes a lock and builds a key: once per series
            counter = self._counters[key] = self.counts.labels(*key[:2], str(status))
        counter.inc()
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        histogram.observe(latency_s)

    def take_interval(self) -> tuple[float, float]:
        """Requests per second and mean latency (ms) since the previous call."""
        now = time.monotonic()
        elapsed = max(now - self._interval_started, 1e-9)
        count, latency = self._interval_count, self._interval_latency
        self._interval_count, self._interval_latency = 0, 0.0
        self._interval_started = now
        return count / elapsed, (latency / count * 1000.0 if count else 0.0)

    def percentiles(self, points: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
        latencies = sorted(self.recent)
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
