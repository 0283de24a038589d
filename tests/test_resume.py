"""Never miss an update: seq and epoch, resume after a killed connection, resync, snapshot."""

from __future__ import annotations

import asyncio
import json
import random
import weakref
from typing import Any

from aiohttp import ClientSession, WSMsgType

from devskyy_ws import HUB_KEY
from devskyy_ws.contract.messages import AgentStatusUpdate, TaskUpdate

from .conftest import ClientFactory
from .helpers import next_message


def _update(n: int) -> TaskUpdate:
    return TaskUpdate(task_id=f"t{n}", status="running", progress=0, data={"n": n})


async def test_published_messages_carry_rising_seq_and_epoch(make_client: ClientFactory) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_json({"type": "ping"})
    pong = await next_message(ws)
    assert "seq" not in pong and "epoch" not in pong
    for n in range(3):
        await hub.publish("tasks", _update(n))
    got = [await next_message(ws) for _ in range(3)]
    assert [g["seq"] for g in got] == [1, 2, 3]
    assert len({g["epoch"] for g in got}) == 1 and got[0]["epoch"] == hub.epochs["tasks"]
    await hub.publish("agents", AgentStatusUpdate(agent_id="a", status="idle"))
    assert hub.seqs["agents"] == 1  # per channel


async def test_killed_connections_resume_with_every_message_once_in_order(
    make_client: ClientFactory,
) -> None:
    client = await make_client(history_size=20_000)
    hub = client.app[HUB_KEY]
    url = str(client.make_url("/api/ws/tasks"))
    total = 10_000
    rng = random.Random(12)
    kill_at = sorted(rng.sample(range(500, total - 500), 6))
    received: list[int] = []
    reconnects = 0
    done = asyncio.Event()

    async def reader() -> None:
        nonlocal reconnects
        last: int | None = None
        epoch: str | None = None
        async with ClientSession() as http:
            while not done.is_set():
                query = f"?since={last}&epoch={epoch}" if last is not None else ""
                async with http.ws_connect(url + query) as ws:
                    async for msg in ws:
                        if msg.type is not WSMsgType.TEXT:
                            break
                        doc = json.loads(msg.data)
                        if doc["type"] != "task_update":
                            assert doc["type"] == "keepalive", doc
                            continue
                        received.append(doc["data"]["n"])
                        last, epoch = doc["seq"], doc["epoch"]
                        if doc["data"]["n"] == total - 1:
                            done.set()
                            return
                reconnects += 1

    killed: weakref.WeakSet[Any] = weakref.WeakSet()
    fresh: list[Any] = []
    task = asyncio.create_task(reader())
    for _ in range(1000):  # bounded: until the reader has connected
        if hub.connections["tasks"]:
            break
        await asyncio.sleep(0.01)
    for n in range(total):
        await hub.publish("tasks", _update(n))
        if kill_at and n == kill_at[0]:
            kill_at.pop(0)
            for _ in range(1000):  # bounded: wait for the reader to be back
                fresh = [c for c in hub.connections["tasks"] if c not in killed]
                if fresh:
                    break
                await asyncio.sleep(0.005)
            for conn in fresh:
                killed.add(conn)
                conn._transport.abort()  # an abrupt TCP death: no close frame
        if n % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(task, 60)
    assert reconnects == 6
    assert received == list(range(total))


async def test_resync_after_the_history_window_or_a_new_epoch(make_client: ClientFactory) -> None:
    client = await make_client(history_size=5)
    hub = client.app[HUB_KEY]
    for n in range(3):
        await hub.publish("tasks", _update(n))
    epoch = hub.epochs["tasks"]
    ok = await client.ws_connect(f"/api/ws/tasks?since=1&epoch={epoch}")
    assert [(await next_message(ok))["seq"] for _ in range(2)] == [2, 3]
    for n in range(20):
        await hub.publish("tasks", _update(n))
    gone = await client.ws_connect(f"/api/ws/tasks?since=3&epoch={epoch}")
    resync = await next_message(gone)
    assert resync["type"] == "resync_required" and resync["latest_seq"] == 23
    assert resync["oldest_seq"] == 19 and "older than" in resync["reason"]
    other = await client.ws_connect("/api/ws/tasks?since=22&epoch=deadbeef")
    assert "epoch changed" in (await next_message(other))["reason"]
    by_message = await client.ws_connect("/api/ws/tasks")
    await by_message.send_json({"type": "resume", "since": 20, "epoch": epoch})
    assert [(await next_message(by_message))["seq"] for _ in range(3)] == [21, 22, 23]


async def test_snapshot_then_live_has_no_gap_under_concurrent_publishes(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    stop = asyncio.Event()

    async def publisher() -> None:
        n = 0
        while not stop.is_set():
            await hub.publish(
                "agents", AgentStatusUpdate(agent_id=f"a{n % 3}", status="running", data={"n": n})
            )
            n += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(publisher())
    ws = await client.ws_connect("/api/ws/agents")
    await ws.send_json({"type": "snapshot"})
    before: list[int] = []
    while True:
        doc = await next_message(ws)
        if doc["type"] == "snapshot":
            snapshot = doc
            break
        before.append(doc["seq"])
    after = [(await next_message(ws))["seq"] for _ in range(200)]
    stop.set()
    await task
    assert snapshot["channel"] == "agents" and snapshot["epoch"] == hub.epochs["agents"]
    assert {a["agent_id"] for a in snapshot["state"]["agents"]} >= {"commerce-001", "analytics-001"}
    assert all(s <= snapshot["seq"] for s in before)
    assert after == list(range(snapshot["seq"] + 1, snapshot["seq"] + 201))


async def test_snapshot_on_connect_for_every_channel(make_client: ClientFactory) -> None:
    client = await make_client()
    expected: dict[str, Any] = {
        "agents": "agents",
        "tasks": "tasks",
        "round_table": "competitions",
        "3d_pipeline": "pipelines",
        "metrics": "metrics",
    }
    for channel, key in expected.items():
        ws = await client.ws_connect(f"/api/ws/{channel}?snapshot=1")
        doc = await next_message(ws)
        assert doc["type"] == "snapshot" and doc["channel"] == channel and key in doc["state"]
        assert doc["seq"] == client.app[HUB_KEY].seqs[channel]
        await ws.close()


async def test_a_compressed_socket_resumes_from_kept_frames(make_client: ClientFactory) -> None:
    """History keeps frames only; a permessage-deflate socket gets their payloads."""
    client = await make_client(ws_compression=True)
    hub = client.app[HUB_KEY]
    for i in range(3):
        await hub.publish("tasks", TaskUpdate(task_id=f"z{i}", status="running", progress=i))
    ws = await client.ws_connect("/api/ws/tasks?since=1", compress=15)
    got = [await next_message(ws) for _ in range(2)]
    assert [(m["seq"], m["task_id"]) for m in got] == [(2, "z1"), (3, "z2")]
    await ws.close()
