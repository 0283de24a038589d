"""Monitoring: live metrics on the channel, the report endpoint, history, Prometheus."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devskyy_ws import SERVICES_KEY, STORE_KEY, Settings
from devskyy_ws.store.sqlite import SqliteStore

from .conftest import ClientFactory, auth
from .helpers import collect_until, next_message


async def test_metrics_channel_carries_real_values_that_move_under_load(
    make_client: ClientFactory,
) -> None:
    client = await make_client(metrics_interval=0.2)
    ws = await client.ws_connect("/api/ws/metrics")
    first = (await collect_until(ws, lambda m: m["type"] == "metrics_update"))[-1]
    sample = first["metrics"]
    assert set(sample) == {
        "timestamp",
        "cpu_percent",
        "memory_percent",
        "active_connections",
        "requests_per_second",
        "avg_latency_ms",
    }
    assert 0 < sample["memory_percent"] <= 100 and 0 <= sample["cpu_percent"] <= 100
    assert sample["active_connections"] == 1
    extra = [await client.ws_connect("/api/ws/agents") for _ in range(3)]
    for _ in range(40):
        await client.get("/api/v1/agents", headers=auth(client, "read"))
    loaded = await collect_until(
        ws, lambda m: m["type"] == "metrics_update" and m["metrics"]["requests_per_second"] > 0
    )
    moved = loaded[-1]["metrics"]
    assert moved["avg_latency_ms"] > 0
    assert moved["active_connections"] == 4
    quiet = await collect_until(
        ws, lambda m: m["type"] == "metrics_update" and m["metrics"]["requests_per_second"] == 0
    )
    assert quiet[-1]["metrics"]["avg_latency_ms"] == 0
    for other in extra:
        await other.close()


async def test_report_groups_filters_and_ranges(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "read")
    await client.app[SERVICES_KEY].metrics.sample_once()
    full = await (await client.get("/api/v1/monitoring/metrics", headers=h)).json()
    assert set(full) == {
        "timestamp",
        "time_range",
        "health",
        "performance",
        "ml",
        "business",
        "websocket",
    }
    assert full["time_range"] == "1h" and full["timestamp"].endswith("Z")
    health = full["health"]
    assert health["database"] == "ok" and health["broker"] == "ok" and health["status"] == "ok"
    assert health["agents_by_status"] == {"idle": 6}
    assert len(health["series"]) == 1 and 0 < health["series"][0]["memory_percent"] <= 100
    assert set(full["performance"]["latency_ms"]) == {"p50", "p95", "p99"}
    assert set(full["websocket"]["channels"]) == {
        "agents",
        "round_table",
        "tasks",
        "3d_pipeline",
        "metrics",
    }

    some = await (
        await client.get(
            "/api/v1/monitoring/metrics?metrics=health,business&time_range=24h", headers=h
        )
    ).json()
    assert set(some) == {"timestamp", "time_range", "health", "business", "websocket"}
    repeated = await (
        await client.get(
            "/api/v1/monitoring/metrics?metrics=ml&metrics=performance&time_range=30d", headers=h
        )
    ).json()
    assert set(repeated) == {"timestamp", "time_range", "ml", "performance", "websocket"}

    for query, named in [
        ("metrics=health,magic", "magic"),
        ("time_range=2h", "time_range"),
        ("metrics=", None),
    ]:
        resp = await client.get(f"/api/v1/monitoring/metrics?{query}", headers=h)
        if named is None:
            assert resp.status == 200
            continue
        assert resp.status == 400
        body = await resp.json()
        assert body["error"] == "invalid_query" and named in body["message"]


async def test_business_and_ml_reflect_real_work(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    await client.post(
        "/api/v1/tasks", json={"agentType": "analytics", "prompt": "Analyze trends"}, headers=h
    )
    await collect_until(ws, lambda m: m["status"] == "completed")
    await client.post(
        "/api/v1/round-table/compete",
        json={"prompt": "Write a slogan", "providers": ["offline-concise", "offline-creative"]},
        headers=h,
    )
    report = await (
        await client.get("/api/v1/monitoring/metrics?metrics=ml,business", headers=h)
    ).json()
    business = report["business"]
    assert business["tasks_by_status"] == {"completed": 1} and business["competitions_run"] == 1
    assert business["assets_produced"] == 0
    techniques = report["ml"]["techniques"]
    assert techniques and techniques[0]["uses"] == 1 and techniques[0]["success_rate"] == 1.0
    assert report["ml"]["providers"][0]["provider"] == "offline-detailed"
    assert {s["provider"] for s in report["ml"]["round_table"] if s["total_competitions"]} == {
        "offline-concise",
        "offline-creative",
    }
    channel = report["websocket"]["channels"]["tasks"]
    assert channel["active_connections"] == 1 and channel["messages_sent"] >= 5


async def test_history_survives_restart(settings: Settings, aiohttp_client: object) -> None:
    from devskyy_ws import create_app

    first = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    for _ in range(3):
        await first.app[SERVICES_KEY].metrics.sample_once()
    await first.close()
    second = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    report = await (
        await second.get("/api/v1/monitoring/metrics?metrics=health", headers=auth(second))
    ).json()
    assert len(report["health"]["series"]) == 3


async def test_rollups_keep_storage_bounded(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "m.sqlite3")
    await store.open()
    try:
        now = time.time()
        step = 300.0
        samples = [
            (now - i * step, {"cpu_percent": float(i % 100), "requests_per_second": 1.0})
            for i in range(int(31 * 86400 / step))
        ]
        await store.add_samples(samples)
        counts = await store.rollup(now)
        assert counts["raw"] <= 86400 / step + 1
        assert counts["minute"] <= 7 * 86400 / step + 2
        assert counts["hour"] <= 30 * 24 + 1
        assert counts["hour"] >= 29 * 24
        again = await store.rollup(now)
        assert again == counts  # idempotent
        hours = await store.samples(now - 30 * 86400, "hour")
        assert all(h[1]["requests_per_second"] == 1.0 for h in hours)
    finally:
        await store.close()


async def test_report_series_stay_small_for_long_ranges(make_client: ClientFactory) -> None:
    client = await make_client()
    store = client.app[STORE_KEY]
    now = time.time()
    await store.add_samples(
        [(now - i * 5.0, {"cpu_percent": 10.0, "memory_percent": 20.0}) for i in range(700)]
    )
    report = await (
        await client.get(
            "/api/v1/monitoring/metrics?metrics=health&time_range=1h", headers=auth(client)
        )
    ).json()
    assert 250 <= len(report["health"]["series"]) <= 300
    assert report["health"]["series"][0]["cpu_percent"] == 10.0


async def test_prometheus_output_parses(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/agents")
    await ws.send_json({"type": "ping"})
    await next_message(ws)
    await client.get("/api/v1/agents", headers=auth(client))
    text = await (await client.get("/metrics")).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "devskyy_http_requests" in families
    requests = [
        s
        for s in families["devskyy_http_requests"].samples
        if s.labels.get("route") == "/api/v1/agents"
    ]
    assert requests and requests[0].value == 1
    connections = {s.labels["channel"]: s.value for s in families["devskyy_ws_connections"].samples}
    assert connections["agents"] == 1
    received = {
        s.labels["channel"]: s.value
        for s in families["devskyy_ws_messages_received"].samples
        if s.name.endswith("_total")
    }
    assert received["agents"] == 1
    assert "devskyy_http_request_duration_seconds" in families
    assert "process_resident_memory_bytes" in {s.name for f in families.values() for s in f.samples}


async def test_prometheus_series_cannot_be_minted_by_clients(make_client: ClientFactory) -> None:
    """WebDAV and other odd methods share one label; repeats add to one series."""
    client = await make_client()
    for method in ("PROPFIND", "MKCOL", "PURGE"):
        await client.request(method, "/api/v1/agents", headers=auth(client))
    for _ in range(3):
        await client.get("/api/v1/agents", headers=auth(client))
    text = await (await client.get("/metrics")).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = [s for s in families["devskyy_http_requests"].samples if s.name.endswith("_total")]
    methods = {s.labels["method"] for s in samples}
    assert not methods & {"PROPFIND", "MKCOL", "PURGE"} and "OTHER" in methods
    assert sum(s.value for s in samples if s.labels["method"] == "OTHER") == 3
    gets = [
        s for s in samples if s.labels["route"] == "/api/v1/agents" and s.labels["method"] == "GET"
    ]
    assert [s.value for s in gets] == [3]


async def test_prometheus_latency_histogram_counts_every_request(
    make_client: ClientFactory,
) -> None:
    """Read at scrape time from the request stats: cumulative buckets ending in +Inf at
    the request count, a sum of real latencies, one series per route."""
    client = await make_client()
    for _ in range(5):
        assert (await client.get("/api/v1/agents", headers=auth(client))).status == 200
    assert (await client.get("/api/v1/tasks/task-nope", headers=auth(client))).status == 404
    text = await (await client.get("/metrics")).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = families["devskyy_http_request_duration_seconds"].samples
    for route, count in (("/api/v1/agents", 5), ("/api/v1/tasks/{task_id}", 1)):
        mine = [s for s in samples if s.labels["route"] == route]
        buckets = [s for s in mine if s.name.endswith("_bucket")]
        assert [float(s.labels["le"]) for s in buckets][-1] == float("inf")
        values = [s.value for s in buckets]
        assert values == sorted(values) and values[-1] == count
        assert [s.value for s in mine if s.name.endswith("_count")] == [count]
        assert 0 < next(s.value for s in mine if s.name.endswith("_sum")) < count * 10
    totals = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["devskyy_http_requests"].samples
    }
    assert totals[("/api/v1/agents", "200")] == 5
    assert totals[("/api/v1/tasks/{task_id}", "404")] == 1


def test_request_stats_put_a_latency_in_the_first_bucket_that_holds_it() -> None:
    from prometheus_client import CollectorRegistry

    from devskyy_ws.services.requests import RequestStats

    stats = RequestStats()
    registry = CollectorRegistry()
    registry.register(stats.latency)
    registry.register(stats.counts)
    for seconds in (0.0005, 0.001, 0.003, 0.003, 42.0):
        stats.record("GET", "/r", 200, seconds)

    def bucket(le: str) -> float | None:
        name = "devskyy_http_request_duration_seconds_bucket"
        return registry.get_sample_value(name, {"route": "/r", "le": le})

    assert bucket("0.001") == 2  # le 0.001 holds 0.001 itself
    assert bucket("0.005") == 4 and bucket("10.0") == 4 and bucket("+Inf") == 5
    labels = {"method": "GET", "route": "/r", "status": "200"}
    assert registry.get_sample_value("devskyy_http_requests_total", labels) == 5
    total = registry.get_sample_value("devskyy_http_request_duration_seconds_sum", {"route": "/r"})
    assert total == pytest.approx(sum((0.0005, 0.001, 0.003, 0.003, 42.0)))


async def test_prometheus_can_require_a_token(make_client: ClientFactory) -> None:
    client = await make_client(metrics_require_token=True)
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=auth(client, "read"))).status == 200


async def test_health_reports_loop_lag_and_gc_pauses(make_client: ClientFactory) -> None:
    """A 150 ms block always makes the 100 ms lag probe wake at least 50 ms late."""
    import gc

    client = await make_client()
    h = auth(client, "read")
    url = "/api/v1/monitoring/metrics?metrics=health"
    await client.get(url, headers=h)  # start a fresh window
    # Automatic collections are off until the report is read, so the explicit one is the
    # only pause in the window (an automatic one while building the garbage was once
    # longer than it, and the bound below failed).
    gc.disable()
    try:
        time.sleep(0.15)  # noqa: ASYNC251  # the point: block the loop the server runs on
        cycles: list[list[object]] = [[] for _ in range(200_000)]
        for cycle in cycles:
            cycle.append(cycle)  # garbage only the collector can free
        del cycles, cycle
        started = time.perf_counter()
        gc.collect()
        collect_ms = (time.perf_counter() - started) * 1000.0
        health = (await (await client.get(url, headers=h)).json())["health"]
    finally:
        gc.enable()
    assert health["event_loop_lag_ms"] >= 50.0
    assert health["event_loop_blocked_ms"] >= 50.0  # asleep on the loop: no CPU wait
    assert 0.0 < health["gc_pause_ms"] <= collect_ms + 1.0
    again = (await (await client.get(url, headers=h)).json())["health"]
    assert again["gc_pause_ms"] < health["gc_pause_ms"]  # each read starts a new window
