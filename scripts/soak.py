#!/usr/bin/env python3
"""Soak test: a mixed load against a real server for a while, reported every minute.

    python scripts/soak.py --minutes 10 [--report docs/soak.txt]

Starts `python -m devskyy_ws` on a free loopback port with a fresh data dir, then runs,
until the time is up: WebSocket connections churning on every channel, tasks and Round
Table competitions submitted, 3D pipelines, and clients streaming metrics every second.
Each minute it prints the server's RSS, open file descriptors, worst event-loop lag and
the errors seen; the run fails (exit 1) on any error or when memory keeps growing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from benchproc import free_port, mint_token, rss_mb


class Soak:
    def __init__(self, base: str, token: str, deadline: float) -> None:
        self.base = base
        self.ws = base.replace("http", "ws")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.deadline = deadline
        self.errors: list[str] = []
        self.counts = {
            "ws_connects": 0,
            "tasks": 0,
            "competitions": 0,
            "pipelines": 0,
            "metrics_msgs": 0,
        }

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def churn(self, http: aiohttp.ClientSession) -> None:
        channels = ["agents", "tasks", "round_table", "3d_pipeline", "metrics"]
        while self.running():
            try:
                async with http.ws_connect(f"{self.ws}/api/ws/{random.choice(channels)}") as ws:
                    await ws.send_json({"type": "ping"})
                    msg = await ws.receive(timeout=5)
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        self.errors.append(f"churn: {msg.type}")
                self.counts["ws_connects"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.errors.append(f"churn: {type(exc).__name__}")
            await asyncio.sleep(0.02)

    async def work(self, http: aiohttp.ClientSession) -> None:
        n = 0
        while self.running():
            n += 1
            try:
                async with http.post(
                    f"{self.base}/api/v1/tasks",
                    json={"agentType": "analytics", "prompt": f"[soak] {n}"},
                    headers=self.headers,
                ) as resp:
                    self._expect(resp.status, 201, "task")
                    self.counts["tasks"] += 1
                if n % 5 == 0:
                    body = {
                        "prompt": f"[soak] {n}",
                        "providers": ["offline-concise", "offline-structured"],
                    }
                    async with http.post(
                        f"{self.base}/api/v1/round-table/compete", json=body, headers=self.headers
                    ) as resp:
                        self._expect(resp.status, 200, "competition")
                        self.counts["competitions"] += 1
                if n % 20 == 0:
                    async with http.post(
                        f"{self.base}/api/v1/3d-pipeline",
                        json={"prompt": f"[soak] ring {n:06d}"},
                        headers=self.headers,
                    ) as resp:
                        self._expect(resp.status, 202, "pipeline")
                        self.counts["pipelines"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.errors.append(f"work: {type(exc).__name__}")
            await asyncio.sleep(0.05)

    async def stream(self, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(f"{self.ws}/api/ws/metrics") as ws:
            while self.running():
                try:
                    msg = await ws.receive(timeout=5)
                except TimeoutError:
                    self.errors.append("metrics: no update within 5 s")
                    continue
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    self.errors.append(f"metrics: {msg.type}")
                    return
                if json.loads(msg.data)["type"] == "metrics_update":
                    self.counts["metrics_msgs"] += 1

    def _expect(self, status: int, wanted: int, what: str) -> None:
        if status != wanted:
            self.errors.append(f"{what}: HTTP {status}")


async def run(minutes: float, report: Path | None) -> int:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="devskyy-soak-"))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devskyy_ws",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--metrics-interval",
            "1",
            "--rate-limit",
            "0",
            "--handshake-rate",
            "0",
            "--log-level",
            "WARNING",
        ],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            token = mint_token(data, "soak")
            soak = Soak(base, token, time.monotonic() + minutes * 60)
            load = [asyncio.create_task(soak.churn(http)) for _ in range(4)]
            load += [asyncio.create_task(soak.work(http)) for _ in range(2)]
            load += [asyncio.create_task(soak.stream(http)) for _ in range(20)]
            started = time.monotonic()
            header = f"{'minute':>6} {'rss_mb':>8} {'fds':>5} {'lag_ms':>8} {'errors':>6}  counts"
            print(header, flush=True)
            lines.append(header)
            rss: list[float] = []
            minute = 0
            while soak.running():
                await asyncio.sleep(max(0.0, min(60.0, soak.deadline - time.monotonic())))
                minute += 1
                async with http.get(
                    f"{base}/api/v1/monitoring/metrics?metrics=health", headers=soak.headers
                ) as resp:
                    lag = (await resp.json())["health"]["event_loop_lag_ms"]
                rss.append(rss_mb(server.pid))
                fds = len(os.listdir(f"/proc/{server.pid}/fd"))
                line = f"{minute:>6} {rss[-1]:>8.1f} {fds:>5} {lag:>8.1f} {len(soak.errors):>6}  {soak.counts}"
                print(line, flush=True)
                lines.append(line)
            await asyncio.gather(*load)
            elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
    summary = f"ran {elapsed:.0f} s; errors: {len(soak.errors)} {sorted(set(soak.errors))[:5]}"
    print(summary)
    lines.append(summary)
    if report is not None:
        report.write_text("\n".join(lines) + "\n")
    flat = len(rss) < 3 or max(rss[len(rss) // 2 :]) - rss[len(rss) // 2] < 20
    return 0 if not soak.errors and flat else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    return asyncio.run(run(args.minutes, args.report))


if __name__ == "__main__":
    sys.exit(main())
