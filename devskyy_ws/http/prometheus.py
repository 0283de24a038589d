"""`/metrics` in the Prometheus text format, from a registry owned by one app.

A registry per app (not prometheus-client's global one) keeps two embedded apps in one
process from mixing their numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from ..channels.hub import Hub
from ..services.container import Services
from ..services.requests import RequestStats

__all__ = ["build_registry"]


Family = GaugeMetricFamily | CounterMetricFamily


class _LiveCollector(Collector):
    """Reads hub and service counters at scrape time; nothing is double-counted."""

    def __init__(self, hub: Hub, services: Services, requests: RequestStats) -> None:
        self.hub = hub
        self.services = services
        self.requests = requests

    def collect(self) -> Iterator[Family]:
        connections = GaugeMetricFamily(
            "devskyy_ws_connections", "Open WebSocket connections", labels=["channel"]
        )
        sent = CounterMetricFamily(
            "devskyy_ws_messages_sent", "Messages written to sockets", labels=["channel"]
        )
        received = CounterMetricFamily(
            "devskyy_ws_messages_received", "Client messages read", labels=["channel"]
        )
        dropped = CounterMetricFamily(
            "devskyy_ws_messages_dropped", "Messages not delivered", labels=["channel"]
        )
        published = CounterMetricFamily(
            "devskyy_ws_messages_published", "Messages published", labels=["channel"]
        )
        slow = CounterMetricFamily(
            "devskyy_ws_slow_consumer_disconnects", "Sockets closed with 4008", labels=["channel"]
        )
        history = GaugeMetricFamily(
            "devskyy_ws_history_bytes", "Frame bytes kept for resume", labels=["channel"]
        )
        for channel, stats in self.hub.stats.items():
            history.add_metric([channel], self.hub.history_held[channel])
            connections.add_metric([channel], len(self.hub.connections[channel]))
            sent.add_metric([channel], stats.sent)
            received.add_metric([channel], stats.received)
            dropped.add_metric([channel], stats.dropped)
            published.add_metric([channel], stats.published)
            slow.add_metric([channel], stats.slow_consumer_disconnects)
        yield from (connections, sent, received, dropped, published, slow, history)
        finished = CounterMetricFamily(
            "devskyy_tasks_finished", "Tasks finished since start", labels=["status"]
        )
        for status, count in sorted(self.services.tasks.finished.items()):
            finished.add_metric([status], count)
        yield finished
        active = GaugeMetricFamily(
            "devskyy_tasks_active", "Tasks pending or running", labels=["status"]
        )
        tasks = self.services.tasks
        for status in ("pending", "running"):
            live = sum(1 for t in tasks.active.values() if t.status == status)
            active.add_metric([status], live + (tasks.parked if status == "pending" else 0))
        yield active
        competitions = CounterMetricFamily(
            "devskyy_competitions", "Round Table competitions since start", labels=["status"]
        )
        for status, count in sorted(self.services.round_table.finished.items()):
            competitions.add_metric([status], count)
        yield competitions
        pipelines = CounterMetricFamily(
            "devskyy_pipelines", "3D pipeline runs finished since start", labels=["stage"]
        )
        for stage, count in sorted(self.services.pipeline.finished.items()):
            pipelines.add_metric([stage], count)
        yield pipelines
        ingest = CounterMetricFamily(
            "devskyy_ingest_events",
            "Entries of the Redis ingest stream taken by this instance",
            labels=["outcome"],
        )
        broker = self.hub.broker
        ingest.add_metric(["published"], getattr(broker, "ingested", 0))
        ingest.add_metric(["refused"], getattr(broker, "ingest_refused", 0))
        yield ingest
        yield CounterMetricFamily(
            "devskyy_store_unreadable_records",
            "Stored rows that could not be loaded and were skipped",
            value=self.services.loader.unreadable,
        )


def build_registry(hub: Hub, services: Services, requests: RequestStats) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_LiveCollector(hub, services, requests))
    registry.register(requests.counts)
    registry.register(requests.latency)
    ProcessCollector(registry=registry)
    return registry
