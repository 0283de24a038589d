"""examples/embed.py run for real: host events reach the channels; shutdown sends 1001."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp

from .conftest import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "embed.py"


async def test_embedded_host_publishes_and_shuts_down_cleanly(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(EXAMPLE),
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/devskyy/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            tasks = await http.ws_connect(f"{base.replace('http', 'ws')}/devskyy/api/ws/tasks")
            agents = await http.ws_connect(f"{base.replace('http', 'ws')}/devskyy/api/ws/agents")
            async with http.post(f"{base}/shop/orders", json={"sku": "ROSE-RING"}) as resp:
                assert resp.status == 201
                assert (await resp.json())["dashboards_notified"] == 1
            update = json.loads((await tasks.receive(timeout=5)).data)
            assert update["type"] == "task_update" and update["data"]["sku"] == "ROSE-RING"
            status = json.loads((await agents.receive(timeout=5)).data)
            assert status["agent_id"] == "shop-frontend" and status["status"] == "running"
            async with http.get(f"{base}/shop/orders") as resp:
                assert await resp.json() == [{"sku": "ROSE-RING"}]

            proc.send_signal(signal.SIGTERM)
            for ws in (tasks, agents):
                msg = await ws.receive(timeout=10)
                assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "shop ready" in log and "shop stopped" in log and "Traceback" not in log
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
