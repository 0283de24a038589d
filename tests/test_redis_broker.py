"""The Redis backplane with real Redis: several instances behave as one hub."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import redis.asyncio as aioredis

from devskyy_ws import HUB_KEY, Settings, create_app
from devskyy_ws.contract.messages import TaskUpdate

from .conftest import ClientFactory, auth
from .helpers import record_runs
from .server_process import ServerProcess
from .system import REDIS, postgres_url, redis_url

__all__ = ["postgres_url", "redis_url"]


async def _collect(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < n:
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        doc = json.loads(msg.data)
        if doc["type"] == "task_update":
            out.append(doc)
    return out


async def test_publish_on_one_instance_reaches_both_in_the_same_order(
    tmp_path: Path, redis_url: str
) -> None:
    shared = ("--broker", redis_url, "--jwt-secret", "s" * 40)  # instances share one secret
    servers = [ServerProcess(tmp_path / f"data{i}", *shared) for i in range(2)]
    for server in servers:
        await asyncio.to_thread(server.start)
    try:
        headers = {"Authorization": f"Bearer {await asyncio.to_thread(servers[0].token, 'write')}"}
        async with aiohttp.ClientSession() as http:
            sockets = [
                await http.ws_connect(s.base.replace("http", "ws") + "/api/ws/tasks")
                for s in servers
            ]
            for n in range(30):
                target = servers[n % 2]  # publishes enter through both instances
                body = {
                    "channel": "tasks",
                    "message": {
                        "type": "task_update",
                        "task_id": f"t{n}",
                        "status": "running",
                        "progress": n,
                    },
                }
                async with http.post(
                    f"{target.base}/api/v1/events", json=body, headers=headers
                ) as resp:
                    assert resp.status == 202
                    assert (await resp.json())["delivered"] == 1  # the local subscriber
            seen = [await _collect(ws, 30) for ws in sockets]
            for ws in sockets:
                await ws.close()
    finally:
        for server in servers:
            assert server.terminate() == 0
    assert [m["task_id"] for m in seen[0]] == [f"t{n}" for n in range(30)]
    assert [m["seq"] for m in seen[0]] == [m["seq"] for m in seen[1]]
    assert [m["task_id"] for m in seen[0]] == [m["task_id"] for m in seen[1]]
    assert len({m["epoch"] for m in seen[0] + seen[1]}) == 1


async def test_killed_redis_connections_lose_and_duplicate_nothing(
    settings: Settings, redis_url: str, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(attrs.evolve(settings, broker=redis_url)))
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    prefix = redis_url.split("prefix=")[1]
    admin = aioredis.from_url(REDIS, decode_responses=True)
    total = 600
    try:
        for n in range(total):
            await hub.publish(
                "tasks", TaskUpdate(task_id=f"t{n}", status="running", progress=0, data={"n": n})
            )
            if n in (150, 400):
                for line in await admin.client_list():
                    if line.get("name") == f"devskyy:{prefix}":
                        await admin.client_kill_filter(_id=line["id"])
        got = await _collect(ws, total)
    finally:
        await admin.aclose()
    assert [m["data"]["n"] for m in got] == list(range(total))
    assert [m["seq"] for m in got] == list(range(got[0]["seq"], got[0]["seq"] + total))


async def test_resume_across_a_server_restart_replays_from_redis(
    tmp_path: Path, redis_url: str
) -> None:
    first = ServerProcess(tmp_path / "data", "--broker", redis_url)
    await asyncio.to_thread(first.start)
    token = await asyncio.to_thread(first.token, "write")
    headers = {"Authorization": f"Bearer {token}"}

    async def publish(base: str, n: int) -> None:
        body = {
            "channel": "tasks",
            "message": {
                "type": "task_update",
                "task_id": f"t{n}",
                "status": "running",
                "progress": 1,
            },
        }
        async with http.post(f"{base}/api/v1/events", json=body, headers=headers) as resp:
            assert resp.status == 202

    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(first.base.replace("http", "ws") + "/api/ws/tasks")
        for n in range(3):
            await publish(first.base, n)
        seen = await _collect(ws, 3)
        await ws.close()
        assert first.terminate() == 0
        second = ServerProcess(tmp_path / "data", "--broker", redis_url, port=first.port)
        await asyncio.to_thread(second.start)
        try:
            for n in range(3, 6):
                await publish(second.base, n)
            last = seen[-1]
            ws = await http.ws_connect(
                f"{second.base.replace('http', 'ws')}/api/ws/tasks?since={last['seq']}&epoch={last['epoch']}"
            )
            replayed = await _collect(ws, 3)
            assert [m["task_id"] for m in replayed] == ["t3", "t4", "t5"]
            assert [m["seq"] for m in replayed] == [
                last["seq"] + 1,
                last["seq"] + 2,
                last["seq"] + 3,
            ]
            assert {m["epoch"] for m in replayed} == {
                last["epoch"]
            }  # the epoch survived the restart
            await ws.close()
        finally:
            assert second.terminate() == 0


async def test_health_reports_a_broker_outage(
    settings: Settings, redis_url: str, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(attrs.evolve(settings, broker=redis_url)))
    assert (await (await client.get("/health")).json())["services"]["broker"] == "ok"
    broker = client.app[HUB_KEY].broker
    broker._down(ConnectionError("test"))  # what a failed read reports
    resp = await client.get("/health")
    assert resp.status == 503 and (await resp.json())["services"]["broker"] == "down"


def test_an_unreachable_broker_fails_start_up_clearly(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "devskyy_ws",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--broker",
            "redis://127.0.0.1:1/0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 1
    assert "could not start" in out.stderr and "Traceback" not in out.stderr


async def test_a_posted_batch_goes_through_redis_as_one_run(
    make_client: ClientFactory, redis_url: str
) -> None:
    """The batch's appends are one MULTI/EXEC: read back as one run, in order, with each
    event's local deliveries in the answer."""
    client = await make_client(broker=redis_url)
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_json({"type": "ping"})
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"
    runs = record_runs(client.app[HUB_KEY].broker)
    events = [
        {"channel": "tasks",
         "message": {"type": "task_update", "task_id": f"b{n}", "status": "running", "progress": n}}
        for n in range(10)
    ]  # fmt: skip
    resp = await client.post("/api/v1/events", json={"events": events}, headers=auth(client))
    assert resp.status == 202
    assert await resp.json() == {"accepted": 10, "delivered": [1] * 10}
    assert runs == [10]
    got = await _collect(ws, 10)
    assert [m["task_id"] for m in got] == [f"b{n}" for n in range(10)]
    assert [m["seq"] for m in got] == list(range(got[0]["seq"], got[0]["seq"] + 10))
    await ws.close()
