"""Operator expectations: SIGTERM drains within the grace period and exits 0."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from .fakes.openai import FakeOpenAI
from .server_process import ServerProcess
from .test_tasks_functional import providers_file


async def test_sigterm_drains_running_work_within_the_grace_period(tmp_path: Path) -> None:
    fake = await FakeOpenAI().start()
    fake.gate = asyncio.Event()  # the provider never answers: the task runs until shutdown
    try:
        args = ("--providers-file", str(providers_file(tmp_path, fake)), "--shutdown-grace", "1")
        server = ServerProcess(tmp_path / "data", *args)
        await asyncio.to_thread(server.start)
        token = await asyncio.to_thread(server.token, "write")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            ws = await http.ws_connect(server.base.replace("http", "ws") + "/api/ws/tasks")
            async with http.post(
                f"{server.base}/api/v1/tasks", json={"agentType": "support", "prompt": "long"}
            ) as resp:
                task_id = (await resp.json())["taskId"]
            await asyncio.wait_for(fake.arrived.wait(), 10)
            started = time.monotonic()
            terminated = asyncio.create_task(asyncio.to_thread(server.terminate, 15))
            msg = await ws.receive(timeout=5)
            while msg.type is aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
            assert await terminated == 0
            assert time.monotonic() - started < 1 + 5
            await ws.close()
            fake.gate.set()
            again = ServerProcess(tmp_path / "data", *args, port=server.port)
            await asyncio.to_thread(again.start)
            try:
                async with http.get(f"{again.base}/api/v1/tasks/{task_id}") as resp:
                    task = await resp.json()
                assert task["status"] == "failed" and task["error"] == "interrupted by shutdown"
            finally:
                assert again.terminate() == 0
    finally:
        await fake.close()
