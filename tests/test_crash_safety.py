"""SIGKILL at random moments during a busy run, repeated: nothing accepted is lost, every
record ends in a terminal or resumed state, and the SQLite file stays intact."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
from pathlib import Path

import aiohttp

from .server_process import ServerProcess

ROUNDS = int(os.environ.get("DEVSKYY_CRASH_ROUNDS", "4"))
TERMINAL = {
    "task": {"completed", "failed", "cancelled"},
    "competition": {"completed", "failed"},
    "pipeline": {"completed", "failed"},
}


async def _busy(
    http: aiohttp.ClientSession, base: str, accepted: dict[str, set[str]], stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        try:
            async with http.post(
                f"{base}/api/v1/tasks", json={"agentType": "analytics", "prompt": f"crash test {n}"}
            ) as resp:
                if resp.status == 201:
                    accepted["task"].add((await resp.json())["taskId"])
            if n % 3 == 0:
                async with http.post(
                    f"{base}/api/v1/3d-pipeline", json={"prompt": f"crash test ring number {n}"}
                ) as resp:
                    if resp.status == 202:
                        accepted["pipeline"].add((await resp.json())["pipeline_id"])
            if n % 5 == 0:
                body = {
                    "prompt": f"crash test {n}",
                    "providers": ["offline-concise", "offline-detailed"],
                }
                async with http.post(f"{base}/api/v1/round-table/compete", json=body) as resp:
                    if resp.status == 200:
                        accepted["competition"].add((await resp.json())["competition_id"])
        except (aiohttp.ClientError, OSError):
            return  # the server died under us


async def test_repeated_sigkill_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(7)
    data = tmp_path / "data"
    accepted: dict[str, set[str]] = {"task": set(), "competition": set(), "pipeline": set()}
    server = ServerProcess(data, "--rate-limit", "0", "--max-concurrent-tasks", "8")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(ROUNDS):
            stop = asyncio.Event()
            load = [asyncio.create_task(_busy(http, server.base, accepted, stop)) for _ in range(4)]
            await asyncio.sleep(rng.uniform(0.2, 0.8))  # a random moment in a busy run
            server.kill()
            stop.set()
            await asyncio.gather(*load)
            server = ServerProcess(
                data, "--rate-limit", "0", "--max-concurrent-tasks", "8", port=server.port
            )
            await asyncio.to_thread(server.start)
        # after the last restart everything settles: pending work resumes and finishes
        paths = {"task": "tasks", "competition": "round-table", "pipeline": "3d-pipeline"}
        for _ in range(300):
            states: dict[str, str] = {}
            for kind, ids in accepted.items():
                for record_id in ids:
                    async with http.get(f"{server.base}/api/v1/{paths[kind]}/{record_id}") as resp:
                        assert resp.status == 200, (kind, record_id)
                        body = await resp.json()
                        states[record_id] = body.get("status") or body.get("stage")
            unsettled = [i for i, s in states.items() if s not in set().union(*TERMINAL.values())]
            if not unsettled:
                break
            await asyncio.sleep(0.1)
        assert not unsettled, unsettled
    assert server.terminate() == 0
    assert sum(len(v) for v in accepted.values()) > 20
    db = sqlite3.connect(data / "devskyy.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
