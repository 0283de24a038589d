"""Resume history is bounded by bytes, keeps one copy of each message, and lets go of
expired entries even on a channel nobody publishes to any more."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from devskyy_ws import HUB_KEY
from devskyy_ws.contract.messages import TaskUpdate

from .conftest import ClientFactory
from .server_process import ServerProcess
from .test_abuse import _rss_mb

MIB = 1024 * 1024
BOUND = 16 * MIB


def _big_event(i: int) -> dict[str, Any]:
    """About 1 MB of task_update, in strings under the 32 KiB text limit."""
    data = {f"part{k}": chr(97 + (i + k) % 26) * 32_000 for k in range(32)}
    return {
        "channel": "tasks",
        "message": {
            "type": "task_update",
            "task_id": f"big-{i}",
            "status": "running",
            "progress": 1,
            "data": data,
        },
    }


def _held(metrics: str) -> int:
    found = re.search(r'devskyy_ws_history_bytes\{channel="tasks"\} (\S+)', metrics)
    assert found, metrics
    return int(float(found.group(1)))


async def test_history_of_1mb_events_stays_within_its_byte_bound(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data",
        "--history-bytes",
        str(BOUND),
        "--max-body",
        str(2 * MIB),
        "--rate-limit",
        "0",
        "--log-level",
        "WARNING",
    )
    await asyncio.to_thread(server.start)
    assert server.proc is not None
    token = await asyncio.to_thread(server.token, "write")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            watcher = await http.ws_connect(server.base.replace("http", "ws") + "/api/ws/tasks")

            async def publish(i: int) -> None:
                async with http.post(f"{server.base}/api/v1/events", json=_big_event(i)) as resp:
                    assert resp.status == 202, await resp.text()
                msg = await watcher.receive(timeout=30)  # delivered whole
                assert msg.type is aiohttp.WSMsgType.TEXT and len(msg.data) > 1_000_000

            for i in range(4):  # warm up: pools, buffers, one full round trip
                await publish(i)
            base = _rss_mb(server.proc.pid)
            for i in range(4, 2 * BOUND // MIB + 4):  # twice the bound
                await publish(i)
            async with http.get(f"{server.base}/metrics") as resp:
                held = _held(await resp.text())
            grown = _rss_mb(server.proc.pid) - base
            print(f"\nhistory: held {held / MIB:.1f} MiB, RSS grew {grown:.1f} MB")
            assert BOUND - 2 * MIB < held <= BOUND
            # three copies a message (the old layout) would have grown by ~90 MB
            assert grown < BOUND / MIB + 24, f"RSS grew by {grown:.1f} MB"
            await watcher.close()
    finally:
        assert server.terminate() == 0


async def test_expired_entries_are_released_without_a_new_publish(
    make_client: ClientFactory,
) -> None:
    client: TestClient[Any, Any] = await make_client(history_ttl=0.2, keepalive=0.05)
    hub = client.app[HUB_KEY]
    for i in range(5):
        await hub.publish("tasks", TaskUpdate(task_id=f"t{i}", status="running", progress=i))
    assert len(hub.history["tasks"]) == 5 and hub.history_held["tasks"] > 0
    for _ in range(200):  # bounded: the keepalive tick runs every 12.5 ms here
        if not hub.history["tasks"]:
            break
        await asyncio.sleep(0.01)
    assert not hub.history["tasks"] and hub.history_held["tasks"] == 0


async def test_the_byte_bound_drops_oldest_first_and_resume_says_resync(
    make_client: ClientFactory,
) -> None:
    client: TestClient[Any, Any] = await make_client(history_bytes=2000)
    hub = client.app[HUB_KEY]
    for i in range(40):
        await hub.publish("tasks", TaskUpdate(task_id=f"t{i}", status="running", progress=i))
    kept = list(hub.history["tasks"])
    assert sum(len(e.frame) for e in kept) == hub.history_held["tasks"] <= 2000
    assert [e.seq for e in kept] == list(range(41 - len(kept), 41))
    assert kept[-1].doc["task_id"] == "t39"  # derived from the one kept frame
    ws = await client.ws_connect("/api/ws/tasks?since=1")
    msg = await ws.receive_json(timeout=5)
    assert msg["type"] == "resync_required" and msg["oldest_seq"] == kept[0].seq
