"""The Redis ingest stream: producers in any language XADD events; every instance's
consumer group takes each entry once, checks it like POST /api/v1/events, publishes it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import redis.asyncio as aioredis

from devskyy_ws import HUB_KEY, Settings, create_app

from .conftest import ClientFactory
from .helpers import record_runs, updates
from .system import REDIS, redis_url

__all__ = ["redis_url"]


def _update(n: int) -> dict[str, str]:
    message = {"type": "task_update", "task_id": f"t{n}", "status": "running", "progress": 1}
    return {"channel": "tasks", "message": json.dumps(message)}


async def test_each_entry_is_published_once_and_bad_ones_are_counted(
    settings: Settings, redis_url: str, aiohttp_client: Any, tmp_path: Path
) -> None:
    clients = [
        await aiohttp_client(
            create_app(attrs.evolve(settings, broker=redis_url, data_dir=tmp_path / f"d{i}"))
        )
        for i in range(2)
    ]
    brokers = [c.app[HUB_KEY].broker for c in clients]
    reader = await clients[1].ws_connect("/api/ws/tasks")
    await reader.send_json({"type": "ping"})
    assert json.loads((await reader.receive(timeout=5)).data)["type"] == "pong"
    redis: Any = aioredis.from_url(REDIS, decode_responses=True)
    key = brokers[0].ingest_key
    try:
        bad = [
            {"channel": "tasks", "message": "{not json"},
            {"channel": "nope", "message": json.dumps({"type": "task_update"})},
            {"channel": "tasks", "message": json.dumps({"type": "agent_status_update"})},
            {"something": "else"},
        ]
        for n in range(40):
            await redis.xadd(key, _update(n))
            if n % 10 == 5:
                await redis.xadd(key, bad[n // 10])
        got: list[str] = []
        while len(got) < 40:
            msg = await reader.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            doc = json.loads(msg.data)
            if doc["type"] == "task_update":
                got.append(doc["task_id"])
        # each once; two instances share the stream, so the order is each one's own
        assert sorted(got, key=lambda t: int(t[1:])) == [f"t{n}" for n in range(40)]
        prefix = key.rsplit(":", 1)[0]
        assert await redis.xlen(f"{prefix}:ch:tasks") == 40  # one publish per entry
        for _ in range(200):  # the counts follow the last acknowledgements
            refused = sum(b.ingest_refused for b in brokers)
            if refused == 4:
                break
            await asyncio.sleep(0.02)
        assert sum(b.ingested for b in brokers) == 40
        assert sum(b.ingest_refused for b in brokers) == 4
        pending = await redis.xpending(key, "devskyy")
        assert pending["pending"] == 0  # every entry acknowledged, the bad ones too
        metrics = await (await clients[0].get("/metrics")).text()
        assert "devskyy_ingest_events_total" in metrics
    finally:
        await reader.close()
        await redis.aclose()


async def test_a_read_of_the_stream_is_published_as_one_batch(
    make_client: ClientFactory, redis_url: str
) -> None:
    """Twenty entries with a bad one among them, added at once: the good ones reach the
    socket as one run, in order, and the bad one is refused alone."""
    client = await make_client(broker=redis_url)
    broker: Any = client.app[HUB_KEY].broker
    reader = await client.ws_connect("/api/ws/tasks")
    await reader.send_json({"type": "ping"})
    assert json.loads((await reader.receive(timeout=5)).data)["type"] == "pong"
    runs = record_runs(broker)
    redis: Any = aioredis.from_url(REDIS, decode_responses=True)
    try:
        async with redis.pipeline(transaction=True) as pipe:  # one MULTI/EXEC: one read
            for n in range(20):
                pipe.xadd(broker.ingest_key, _update(n))
                if n == 9:
                    pipe.xadd(broker.ingest_key, {"channel": "tasks", "message": "[" * 10_000})
            await pipe.execute()
        got = await updates(reader, 20, wait=10)
        assert [m["task_id"] for m in got] == [f"t{n}" for n in range(20)]
        assert runs == [20]
        for _ in range(250):  # the counts follow the batch's publish, which follows delivery
            if broker.ingested + broker.ingest_refused == 21:
                break
            await asyncio.sleep(0.02)
        assert (broker.ingested, broker.ingest_refused) == (20, 1)
        assert (await redis.xpending(broker.ingest_key, "devskyy"))["pending"] == 0
    finally:
        await reader.close()
        await redis.aclose()
