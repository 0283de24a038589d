"""System metrics: sampled every `--metrics-interval`, broadcast, stored, rolled up.

psutil is read in a worker thread so the event loop never waits on /proc; CPU is the
system-wide share since the previous sample (psutil's non-blocking mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from pathlib import Path
from typing import Any

import psutil

from ..channels.hub import Hub
from ..contract import serde
from ..contract.messages import MetricsSample, MetricsUpdate, utcnow
from ..store.base import Store
from .looplag import LoopLag
from .requests import RequestStats

__all__ = ["MetricsService", "read_system"]

log = logging.getLogger("devskyy_ws.metrics")

ROLLUP_EVERY_S = 60.0


def read_system(data_dir: Path) -> dict[str, float]:
    """One reading of CPU, memory and disk (blocking: call it in a thread)."""
    disk_path = data_dir if data_dir.exists() else Path("/")
    return {
        "cpu_percent": float(psutil.cpu_percent(interval=None)),
        "memory_percent": float(psutil.virtual_memory().percent),
        "disk_percent": float(psutil.disk_usage(str(disk_path)).percent),
    }


class GcPauses:
    """The longest garbage collection since the last read, in any thread.

    A collection holds the GIL, so it stalls the event loop like blocking code does;
    beside the loop's lag it tells a collector pause from a slow call.
    """

    def __init__(self) -> None:
        self._started = 0.0
        self.worst_ms = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - self._started) * 1000.0)
            self._started = 0.0

    def take(self) -> float:
        worst, self.worst_ms = self.worst_ms, 0.0
        return round(worst, 3)


class MetricsService:
    def __init__(
        self, store: Store, hub: Hub, requests: RequestStats, *, interval: float, data_dir: Path
    ) -> None:
        self.store = store
        self.hub = hub
        self.requests = requests
        self.interval = interval
        self.data_dir = data_dir
        self.latest: MetricsSample | None = None
        self.system: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self.loop_lag = LoopLag()
        self._last_rollup = 0.0
        self.gc_pauses = GcPauses()

    async def start(self) -> None:
        await asyncio.to_thread(read_system, self.data_dir)  # primes psutil's CPU counter
        self.requests.take_interval()
        self.hub.snapshot_providers["metrics"] = self.snapshot
        self._task = asyncio.create_task(self._loop())
        self._lag_task = asyncio.create_task(self.loop_lag.watch())
        gc.callbacks.append(self.gc_pauses)

    async def stop(self, grace: float) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self.gc_pauses)
        for task in (self._task, self._lag_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def snapshot(self) -> dict[str, Any]:
        return {"metrics": serde.unstructure(self.latest) if self.latest else None}

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sample_once()
            except Exception:
                log.exception("metrics sample failed")

    async def sample_once(self) -> MetricsSample:
        """Measure, publish `metrics_update`, store the sample, roll up once a minute."""
        self.system = await asyncio.to_thread(read_system, self.data_dir)
        rps, latency = self.requests.take_interval()
        sample = MetricsSample(
            timestamp=utcnow(),
            cpu_percent=self.system["cpu_percent"],
            memory_percent=self.system["memory_percent"],
            active_connections=self.hub.active,
            requests_per_second=round(rps, 3),
            avg_latency_ms=round(latency, 3),
        )
        self.latest = sample
        await self.hub.publish("metrics", MetricsUpdate(metrics=sample))
        now = time.time()
        doc = {
            "cpu_percent": sample.cpu_percent,
            "memory_percent": sample.memory_percent,
            "disk_percent": self.system["disk_percent"],
            "active_connections": float(sample.active_connections),
            "requests_per_second": sample.requests_per_second,
            "avg_latency_ms": sample.avg_latency_ms,
        }
        await self.store.add_samples([(now, doc)])
        if now - self._last_rollup >= ROLLUP_EVERY_S:
            self._last_rollup = now
            await self.store.rollup(now)
        return sample
