"""Several instances on Redis and PostgreSQL behave as one server."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from .fakes.openai import FakeOpenAI
from .server_process import ServerProcess
from .system import postgres_url, redis_url
from .test_tasks_functional import providers_file

__all__ = ["postgres_url", "redis_url"]

SECRET = "scale-out-shared-secret-" + "x" * 20


def _cluster(
    tmp_path: Path, n: int, redis_url: str, postgres_url: str, *extra: str
) -> list[ServerProcess]:
    common = (
        "--broker",
        redis_url,
        "--database",
        postgres_url,
        "--jwt-secret",
        SECRET,
        "--task-lease",
        "0.6",
        *extra,
    )
    return [
        ServerProcess(tmp_path / f"data{i}", *common, "--instance-id", f"node{i}") for i in range(n)
    ]


async def _start(servers: list[ServerProcess]) -> dict[str, str]:
    for server in servers:
        await asyncio.to_thread(server.start)
    return {"Authorization": f"Bearer {await asyncio.to_thread(servers[0].token, 'write')}"}


async def test_task_on_a_is_visible_and_cancellable_through_b(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    fake = await FakeOpenAI().start()
    fake.gate = asyncio.Event()
    servers = _cluster(
        tmp_path,
        2,
        redis_url,
        postgres_url,
        "--providers-file",
        str(providers_file(tmp_path, fake)),
    )
    headers = await _start(servers)
    a, b = servers
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            watch = await http.ws_connect(b.base.replace("http", "ws") + "/api/ws/tasks")
            async with http.post(
                f"{a.base}/api/v1/tasks", json={"agentType": "support", "prompt": "shared"}
            ) as resp:
                task_id = (await resp.json())["taskId"]
            await asyncio.wait_for(fake.arrived.wait(), 10)  # running on some instance
            async with http.get(f"{b.base}/api/v1/tasks/{task_id}") as resp:
                assert (await resp.json())["status"] == "running"
            async with http.get(f"{b.base}/api/v1/tasks?limit=5") as resp:
                assert task_id in [t["taskId"] for t in await resp.json()]
            async with http.post(f"{b.base}/api/v1/tasks/{task_id}/cancel") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
            statuses = []
            while "cancelled" not in statuses:
                doc = json.loads((await watch.receive(timeout=10)).data)
                if doc.get("task_id") == task_id:
                    statuses.append(doc["status"])
            fake.gate.set()  # the provider answers now; the cancelled task must stay cancelled
            async with http.post(
                f"{b.base}/api/v1/tasks", json={"agentType": "support", "prompt": "next"}
            ) as resp:
                next_id = (await resp.json())["taskId"]
            for _ in range(200):
                async with http.get(f"{a.base}/api/v1/tasks/{next_id}") as resp:
                    if (await resp.json())["status"] == "completed":
                        break
                await asyncio.sleep(0.05)
            for server in servers:
                async with http.get(f"{server.base}/api/v1/tasks/{task_id}") as resp:
                    assert (await resp.json())["status"] == "cancelled"
            assert "Traceback" not in a.log() + b.log()
    finally:
        for server in servers:
            assert server.terminate() == 0
        await fake.close()


async def test_queued_tasks_run_exactly_once_over_three_instances(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    servers = _cluster(tmp_path, 3, redis_url, postgres_url, "--max-concurrent-tasks", "2")
    headers = await _start(servers)
    total = 24
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            watch = await http.ws_connect(servers[2].base.replace("http", "ws") + "/api/ws/tasks")
            ids = []
            for n in range(total):
                async with http.post(
                    f"{servers[0].base}/api/v1/tasks",
                    json={"agentType": "analytics", "prompt": f"job {n}"},
                ) as resp:
                    ids.append((await resp.json())["taskId"])
            starts: Counter[str] = Counter()
            instances: Counter[str] = Counter()
            finished: set[str] = set()
            while len(finished) < total:
                doc: dict[str, Any] = json.loads((await watch.receive(timeout=20)).data)
                if doc.get("type") != "task_update":
                    continue
                if doc["status"] == "running" and doc["progress"] == 5.0:
                    starts[doc["task_id"]] += 1
                    instances[doc["data"]["instance"]] += 1
                if doc["status"] in ("completed", "failed"):
                    finished.add(doc["task_id"])
    finally:
        for server in servers:
            assert server.terminate() == 0
    assert set(starts) == set(ids) and set(starts.values()) == {1}
    assert len(instances) >= 2, instances  # the work was shared


async def test_a_killed_instance_s_running_tasks_are_failed_by_the_others(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    fake = await FakeOpenAI().start()
    fake.gate = asyncio.Event()
    servers = _cluster(
        tmp_path,
        2,
        redis_url,
        postgres_url,
        "--providers-file",
        str(providers_file(tmp_path, fake)),
    )
    a, b = servers
    await asyncio.to_thread(a.start)
    headers = {"Authorization": f"Bearer {await asyncio.to_thread(a.token, 'write')}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(
                f"{a.base}/api/v1/tasks", json={"agentType": "support", "prompt": "doomed"}
            ) as resp:
                task_id = (await resp.json())["taskId"]
            await asyncio.wait_for(fake.arrived.wait(), 10)  # a runs it (b is not up yet)
            a.kill()
            await asyncio.to_thread(b.start)
            for _ in range(200):
                async with http.get(f"{b.base}/api/v1/tasks/{task_id}") as resp:
                    task = await resp.json()
                if task["status"] != "running":
                    break
                await asyncio.sleep(0.05)
            assert task["status"] == "failed" and "instance stopped responding" in task["error"]
    finally:
        fake.gate.set()
        assert b.terminate() == 0
        await fake.close()


async def test_postgres_down_gives_503_on_writes_and_loses_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    from .tcp_proxy import TcpProxy

    proxy = await TcpProxy(5432).start()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    server = ServerProcess(
        tmp_path / "data", "--database", url, "--jwt-secret", SECRET, "--shutdown-grace", "0.5"
    )
    await asyncio.to_thread(server.start)
    headers = {"Authorization": f"Bearer {await asyncio.to_thread(server.token, 'write')}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(
                f"{server.base}/api/v1/tasks", json={"agentType": "support", "prompt": "before"}
            ) as resp:
                assert resp.status == 201
                before = (await resp.json())["taskId"]
            await proxy.cut()
            async with http.post(
                f"{server.base}/api/v1/tasks", json={"agentType": "support", "prompt": "during"}
            ) as resp:
                assert resp.status == 503
                body = await resp.json()
                assert (
                    body["error"] == "database_unavailable"
                    and "nothing was changed" in body["message"]
                )
            async with http.get(f"{server.base}/health") as resp:
                assert resp.status == 503 and (await resp.json())["services"]["database"] == "down"
            await proxy.restore()
            for _ in range(100):
                async with http.get(f"{server.base}/api/v1/tasks/{before}") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.05)
            assert resp.status == 200
            async with http.post(
                f"{server.base}/api/v1/tasks", json={"agentType": "support", "prompt": "after"}
            ) as resp:
                assert resp.status == 201
    finally:
        # Off the loop: the proxy runs on it, and the server may still need the
        # database while it drains (a blocking wait here once stalled both for 15 s).
        try:
            assert await asyncio.to_thread(server.terminate) == 0
        finally:
            await proxy.cut()
