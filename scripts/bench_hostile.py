"""Hostile input against a real server process: how long it holds the event loop.

1. Maximal inputs: a 32,768-byte prompt on each endpoint that takes one (tasks, execute,
   Round Table; the 3D prompt is capped at 500 characters), beside the same requests with
   a 10-byte prompt (the anchor). The figure is the server's own worst loop stall
   (`event_loop_blocked_ms` of the health report) over each phase.
2. An inbound flood: one socket sends pings as fast as it can until the server closes it
   (1008); a second socket pings every 10 ms meanwhile. Its round trips are compared with
   the same pings and no flood.

Usage: python scripts/bench_hostile.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from benchproc import free_port, mint_token, start_server

BIG = 32 * 1024
BODIES = {
    "/api/v1/tasks": lambda p: {"agentType": "commerce", "prompt": p},
    "/api/v1/agents/commerce/execute": lambda p: {"task": p},
    "/api/v1/round-table/compete": lambda p: {"prompt": p},
}


def prompt(size: int) -> str:
    words = "review pricing trends for ceramic vases across regions and seasons "
    return (words * (size // len(words) + 1))[:size]


async def worst_blocked(http: aiohttp.ClientSession, base: str) -> float:
    url = f"{base}/api/v1/monitoring/metrics?metrics=health"
    async with http.get(url) as resp:
        doc = await resp.json()
    health = doc["health"]
    return float(health["event_loop_blocked_ms"] or health["event_loop_lag_ms"])


async def stalls(http: aiohttp.ClientSession, base: str, size: int, rounds: int) -> float:
    await worst_blocked(http, base)  # starts a fresh window
    for _ in range(rounds):
        for path, body in BODIES.items():
            async with http.post(base + path, json=body(prompt(size))) as resp:
                assert resp.status in (200, 201, 202), (path, resp.status, await resp.text())
    await asyncio.sleep(0.5)  # the tasks run their steps; their work counts too
    return await worst_blocked(http, base)


async def pings(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        await ws.send_str('{"type":"ping"}')
        while json.loads((await ws.receive(timeout=10)).data)["type"] != "pong":
            pass
        out.append((time.perf_counter() - started) * 1000.0)
        await asyncio.sleep(0.01)
    return out


async def flood(ws_base: str, http: aiohttp.ClientSession) -> tuple[int, int | None]:
    ws = await http.ws_connect(f"{ws_base}/api/ws/agents")
    sent = 0
    while not ws.closed and sent < 1_000_000:
        try:
            await ws.send_str('{"type":"ping"}')
        except (ConnectionError, RuntimeError):
            break
        sent += 1
        if sent % 100 == 0:
            await asyncio.sleep(0)
    while not ws.closed:
        msg = await ws.receive(timeout=10)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    return sent, ws.close_code


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms"


async def run(port: int, token: str, rounds: int) -> None:
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        small = [await stalls(http, base, 10, 3) for _ in range(rounds)]
        big = [await stalls(http, base, BIG, 3) for _ in range(rounds)]
        print("| input | worst loop stall per round (ms) |\n|---|---|")
        print(f"| 10-byte prompts (anchor) | {', '.join(f'{v:.1f}' for v in small)} |")
        print(f"| 32,768-byte prompts | {', '.join(f'{v:.1f}' for v in big)} |")
        watcher = await http.ws_connect(f"{ws_base}/api/ws/agents")
        quiet = await pings(watcher, 200)
        flooding = asyncio.create_task(flood(ws_base, http))
        during = await pings(watcher, 200)
        sent, code = await flooding
        print(f"\nflooder: sent {sent} messages, closed with {code}")
        print("| watcher's ping round trip | figures |\n|---|---|")
        print(f"| no flood (anchor) | {summary(quiet)} |")
        print(f"| during the flood | {summary(during)} |")
        await watcher.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="devskyy-hostile-"))
    port = free_port()
    server = start_server(port, data, "--rate-limit", "0", "--log-level", "WARNING")
    try:
        token = mint_token(data, "bench", "write")
        print(f"# bench_hostile: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores\n")
        asyncio.run(run(port, token, args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
