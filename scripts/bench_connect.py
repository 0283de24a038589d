#!/usr/bin/env python3
"""Connect storms: how long N WebSockets take to open, devskyy beside a bare aiohttp
WebSocket handler, taking turns.

    python scripts/bench_connect.py [--sockets 1000] [--in-flight 200] [--rounds 3]

devskyy runs with its defaults plus `--ws-auth optional` (Origin check, per-address and
handshake limits, optional auth: every feature on, snapshot off); the bare handler
upgrades and reads. A client process opens N sockets to /api/ws/tasks from one address,
at most `--in-flight` handshakes at a time, and reports the wall time until all are open;
then it closes them. Reported: seconds per storm (median of rounds), the ratio to the
bare handler, and refusals (there must be none at the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchproc import ROOT, free_port, wait_healthy


def serve_bare(port: int) -> None:
    from aiohttp import web

    from devskyy_ws.cli import new_event_loop

    async def socket_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/api/ws/tasks", socket_handler)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None,
                loop=new_event_loop("auto"), backlog=4096)  # fmt: skip


async def storm(port: int, sockets: int, in_flight: int) -> dict[str, float]:
    import aiohttp

    gate = asyncio.Semaphore(in_flight)
    refused = 0

    async def one(session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse | None:
        nonlocal refused
        async with gate:
            try:
                return await session.ws_connect(f"http://127.0.0.1:{port}/api/ws/tasks")
            except aiohttp.WSServerHandshakeError:
                refused += 1
                return None

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        opened = await asyncio.gather(*(one(session) for _ in range(sockets)))
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(ws.close() for ws in opened if ws is not None))
    return {"seconds": elapsed, "refused": refused}


def run_storm(port: int, sockets: int, in_flight: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--storm", str(port), str(sockets), str(in_flight)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--storm", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.storm:
        print(json.dumps(asyncio.run(storm(*args.storm))))
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"cores: {os.cpu_count()}  sockets: {args.sockets}  in flight: {args.in_flight}")
    with tempfile.TemporaryDirectory(prefix="devskyy-bench-connect-") as scratch:
        ports = {"devskyy": free_port(), "bare": free_port()}
        servers = {
            "devskyy": subprocess.Popen(
                [sys.executable, "-m", "devskyy_ws", "--port", str(ports["devskyy"]),
                 "--data-dir", str(Path(scratch) / "data"), "--ws-auth", "optional",
                 "--log-level", "WARNING"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ),
            "bare": subprocess.Popen(
                [sys.executable, __file__, "--serve-bare", str(ports["bare"])],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ),
        }  # fmt: skip
        try:
            for port in ports.values():
                wait_healthy(port)
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in ports}
            for _ in range(args.rounds):
                for kind, port in ports.items():
                    runs[kind].append(run_storm(port, args.sockets, args.in_flight))
                    time.sleep(1.0)  # let the closed sockets' server handlers finish
        finally:
            for server in servers.values():
                server.terminate()
                server.wait(timeout=30)
    medians = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    ratios = [
        d["seconds"] / b["seconds"] for d, b in zip(runs["devskyy"], runs["bare"], strict=True)
    ]
    print(json.dumps({
        "devskyy_s": round(medians["devskyy"], 3),
        "bare_s": round(medians["bare"], 3),
        "ratio": round(statistics.median(ratios), 2),
        "ratio_by_round": [round(r, 2) for r in ratios],
        "refused": {k: sum(r["refused"] for r in v) for k, v in runs.items()},
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
