"""Nothing accepted is lost: SIGKILL the server mid-run and check every task after restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from .fakes.openai import FakeOpenAI
from .server_process import ServerProcess
from .test_tasks_functional import providers_file


async def test_sigkill_mid_run_loses_nothing(tmp_path: Path) -> None:
    fake = await FakeOpenAI().start()
    fake.gate = asyncio.Event()
    try:
        args = (
            "--providers-file",
            str(providers_file(tmp_path, fake)),
            "--max-concurrent-tasks",
            "2",
        )
        server = ServerProcess(tmp_path / "data", *args)
        await asyncio.to_thread(server.start)
        token = await asyncio.to_thread(server.token, "write")
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            accepted = []
            for i in range(6):
                async with http.post(
                    f"{server.base}/api/v1/tasks",
                    json={"agentType": "operations", "prompt": f"job {i}"},
                    headers=headers,
                ) as resp:
                    assert resp.status == 201
                    accepted.append((await resp.json())["taskId"])
            for _ in range(500):  # bounded wait until two tasks are inside the provider call
                if len(fake.requests) >= 2:
                    break
                await asyncio.sleep(0.01)
            assert len(fake.requests) == 2
            server.kill()
            fake.gate.set()

            restarted = ServerProcess(tmp_path / "data", *args, port=server.port)
            await asyncio.to_thread(restarted.start)
            try:
                final: dict[str, dict[str, object]] = {}
                for _ in range(400):
                    for task_id in accepted:
                        async with http.get(
                            f"{restarted.base}/api/v1/tasks/{task_id}", headers=headers
                        ) as resp:
                            assert resp.status == 200
                            final[task_id] = await resp.json()
                    if all(t["status"] in ("completed", "failed") for t in final.values()):
                        break
                    await asyncio.sleep(0.05)
                statuses = sorted(str(t["status"]) for t in final.values())
                assert statuses == ["completed"] * 4 + ["failed"] * 2
                failed = [t for t in final.values() if t["status"] == "failed"]
                assert all(t["error"] == "interrupted by restart" for t in failed)
            finally:
                assert restarted.terminate() == 0
    finally:
        await fake.close()
