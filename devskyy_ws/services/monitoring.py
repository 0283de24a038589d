"""The monitoring report: health, performance, ml, business and websocket groups."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from ..channels.hub import Hub
from ..contract import serde
from ..contract.messages import utcnow
from ..store.base import Store
from ..version import __version__
from . import stats as tallied
from .agents import AgentService
from .metrics import MetricsService
from .requests import RequestStats
from .round_table import RoundTableService
from .series import RANGES, downsample

__all__ = ["GROUPS", "MonitoringService"]

GROUPS = ("health", "performance", "ml", "business")


class MonitoringService:
    def __init__(
        self,
        store: Store,
        hub: Hub,
        requests: RequestStats,
        metrics: MetricsService,
        agents: AgentService,
        round_table: RoundTableService,
        started: float,
    ) -> None:
        self.store = store
        self.hub = hub
        self.requests = requests
        self.metrics = metrics
        self.agents = agents
        self.round_table = round_table
        self.started = started

    async def start(self) -> None:
        return None

    async def stop(self, grace: float) -> None:
        return None

    async def report(self, groups: list[str], time_range: str) -> dict[str, Any]:
        seconds, resolution = RANGES[time_range]
        now = time.time()
        since = now - seconds
        points = downsample(await self.store.samples(since, resolution), since, now)
        out: dict[str, Any] = {
            "timestamp": serde.format_timestamp(utcnow()),
            "time_range": time_range,
        }
        if "health" in groups:
            out["health"] = await self._health(points)
        if "performance" in groups:
            out["performance"] = self._performance(points)
        if "ml" in groups:
            out["ml"] = await self._ml()
        if "business" in groups:
            out["business"] = await self._business()
        out["websocket"] = self.websocket()
        return out

    async def _health(self, points: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
        database = "ok" if await self.store.ping() else "down"
        broker = "ok" if self.hub.broker.healthy else "down"
        system = self.metrics.system or {}
        lag_ms, blocked_ms = self.metrics.loop_lag.take()
        return {
            "status": "ok" if database == broker == "ok" else "degraded",
            "uptime_s": round(time.monotonic() - self.started, 3),
            "version": __version__,
            "database": database,
            "broker": broker,
            "agents_by_status": dict(Counter(r.status for r in self.agents.agents.values())),
            "cpu_percent": system.get("cpu_percent"),
            "memory_percent": system.get("memory_percent"),
            "disk_percent": system.get("disk_percent"),
            "event_loop_lag_ms": lag_ms,
            "event_loop_blocked_ms": blocked_ms,
            "gc_pause_ms": self.metrics.gc_pauses.take(),
            "series": [
                {
                    "timestamp": _ts(ts),
                    "cpu_percent": d.get("cpu_percent"),
                    "memory_percent": d.get("memory_percent"),
                    "disk_percent": d.get("disk_percent"),
                }
                for ts, d in points
            ],
        }

    def _performance(self, points: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
        latest = self.metrics.latest
        return {
            "requests_total": self.requests.total,
            "requests_per_second": latest.requests_per_second if latest else 0.0,
            "latency_ms": self.requests.percentiles(),
            "error_rate": self.requests.error_rate(),
            "series": [
                {
                    "timestamp": _ts(ts),
                    "requests_per_second": d.get("requests_per_second"),
                    "avg_latency_ms": d.get("avg_latency_ms"),
                    "active_connections": d.get("active_connections"),
                }
                for ts, d in points
            ],
        }

    async def _ml(self) -> dict[str, Any]:
        techniques = [
            {
                "technique": s.technique,
                "category": s.category,
                "uses": s.uses,
                "success_rate": round(s.successes / s.uses, 4) if s.uses else 0.0,
                "mean_latency_ms": round(s.mean_latency_ms, 3),
            }
            for s in tallied.technique_stats(
                await self.store.tally("task", ["technique", "category"])
            )
        ]
        return {
            "techniques": techniques,
            "providers": tallied.provider_stats(await self.store.tally("task", ["provider"])),
            "round_table": await self.round_table.stats(),
        }

    async def _business(self) -> dict[str, Any]:
        task_tallies = await self.store.tally("task")
        competition_tallies = await self.store.tally("competition")
        tasks = tallied.status_counts(task_tallies)
        competitions = tallied.status_counts(competition_tallies)
        pipelines = tallied.status_counts(await self.store.tally("pipeline"))
        task_cost = tallied.cost_total(task_tallies)
        competition_cost = tallied.cost_total(competition_tallies)
        return {
            "tasks_by_status": tasks,
            "tasks_total": sum(tasks.values()),
            "competitions_run": sum(competitions.values()),
            "competitions_by_status": competitions,
            "assets_produced": pipelines.get("completed", 0),
            "pipelines_by_stage": pipelines,
            "total_llm_cost_usd": round(task_cost + competition_cost, 6),
        }

    def websocket(self) -> dict[str, Any]:
        uptime = max(time.monotonic() - self.started, 1e-9)
        channels: dict[str, Any] = {}
        for channel, stats in self.hub.stats.items():
            open_durations = self.hub.open_durations(channel)
            channels[channel] = {
                "active_connections": len(open_durations),
                "messages_sent": stats.sent,
                "messages_received": stats.received,
                "messages_dropped": stats.dropped,
                "messages_published": stats.published,
                "throughput_per_second": round(stats.sent / uptime, 3),
                "errors": stats.errors,
                "error_rate": round(stats.errors / stats.received, 4) if stats.received else 0.0,
                "slow_consumer_disconnects": stats.slow_consumer_disconnects,
                "connections_total": stats.connections_total,
                "connection_duration_s": {
                    "mean_open": round(sum(open_durations) / len(open_durations), 3)
                    if open_durations
                    else 0.0,
                    "max_open": round(max(open_durations), 3) if open_durations else 0.0,
                    "mean_closed": round(stats.closed_duration_total / stats.closed_count, 3)
                    if stats.closed_count
                    else 0.0,
                },
            }
        return {
            "active_connections": self.hub.active,
            "channels": channels,
        }


def _ts(epoch: float) -> str:
    from datetime import UTC, datetime

    return serde.format_timestamp(datetime.fromtimestamp(epoch, UTC))
