#!/usr/bin/env python3
"""Producers' path: POST /api/v1/events, one event or a batch, beside a bare aiohttp handler
doing the same work behind the same path, side by side.

    python scripts/bench_publish.py [--subscribers 1,1000] [--batches 1,10,100]
                                    [--seconds 4] [--rounds 3]

Servers (each its own process, taking turns round after round):
  devskyy - the real server (`python -m devskyy_ws`, limits off for the load)
  bare    - aiohttp: read the body, parse it, check the channel, stamp a seq, encode once,
            build one frame and write it to every subscriber's transport (a batch's frames
            in one write per socket); answers 202 with JSON
Subscribers: one process holding N sockets on /api/ws/tasks, reading and discarding.
Load: loadgen.py's (wrk where installed), 32 connections, POSTing the same body.
Reported per (N, batch): POSTs/s, deliveries/s, server CPU per POST and per delivery,
and the ratio to the bare handler.
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
from typing import Any

from benchproc import ROOT, cpu_seconds, free_port, mint_token, wait_healthy
from loadgen import default_client, run_load

EVENT = {
    "channel": "tasks",
    "message": {"type": "task_update", "task_id": "t-1", "status": "running", "progress": 50,
                "data": {"agent_type": "commerce", "note": "x" * 150}},
}  # fmt: skip


def body_for(batch: int) -> dict[str, Any]:
    return EVENT if batch == 1 else {"events": [EVENT] * batch}


# --------------------------------------------------------------------------- servers
def serve_bare(port: int) -> None:
    """The reference: the same work with nothing else (no auth, limits, history, checks
    beyond the channel)."""
    from aiohttp import web

    from devskyy_ws.channels.frames import text_frame

    sockets: set[Any] = set()
    seq = 0

    async def socket_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(request.transport)
        async for _ in ws:
            pass
        sockets.discard(request.transport)
        return ws

    async def publish(request: web.Request) -> web.Response:
        nonlocal seq
        doc = json.loads(await request.read())
        events = doc.get("events", [doc])
        frames = []
        for event in events:
            if event.get("channel") != "tasks":
                return web.json_response({"error": "unknown_channel"}, status=422)
            seq += 1
            message = dict(event["message"], seq=seq)
            frames.append(text_frame(json.dumps(message, separators=(",", ":")).encode()))
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        for transport in list(sockets):
            if transport is not None and not transport.is_closing():
                transport.write(data)
        return web.json_response({"accepted": len(frames)}, status=202)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/api/ws/tasks", socket_handler)
    app.router.add_post("/api/v1/events", publish)
    app.router.add_get("/health", health)
    from devskyy_ws.cli import new_event_loop

    loop = new_event_loop("auto")
    web.run_app(app, host="127.0.0.1", port=port, print=None, loop=loop, access_log=None)


async def hold_subscribers(port: int, n: int) -> None:
    """N sockets reading and discarding, until killed."""
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [
            await session.ws_connect(f"http://127.0.0.1:{port}/api/ws/tasks") for _ in range(n)
        ]
        print("ready", flush=True)

        async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for _ in ws:
                pass

        await asyncio.gather(*(drain(ws) for ws in sockets))


def start(kind: str, port: int, data: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kind == "bare":
        command = [sys.executable, __file__, "--serve-bare", str(port)]
    else:
        command = [sys.executable, "-m", "devskyy_ws", "--port", str(port), "--data-dir",
                   str(data), "--rate-limit", "0", "--publish-rate", "0", "--handshake-rate",
                   "0", "--log-level", "WARNING", "--metrics-interval", "3600"]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_healthy(port)
    return server


def subscribers(port: int, n: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--subscribe", str(port), str(n)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def turn(
    port: int, pid: int, token: str, batch: int, seconds: float, client: str
) -> dict[str, float]:
    def load(length: float) -> dict[str, Any]:
        return run_load(f"http://127.0.0.1:{port}/api/v1/events", "POST", seconds=length,
                        concurrency=32, headers={"Authorization": f"Bearer {token}"},
                        body=body_for(batch), client=client,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip

    load(1.0)  # warm-up
    cpu0 = cpu_seconds(pid)
    out = load(seconds)
    cpu = cpu_seconds(pid) - cpu0
    if out["errors"]:
        raise SystemExit(f"{out['errors']} requests failed on port {port}")
    posts = out["requests"]
    return {"posts_per_s": posts / out["elapsed"], "cpu_us_per_post": cpu / posts * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--subscribe", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--subscribers", default="1,1000")
    parser.add_argument("--batches", default="1,10,100")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=["wrk", "python"], default=default_client())
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.subscribe:
        asyncio.run(hold_subscribers(*args.subscribe))
        return 0
    print(f"cores: {os.cpu_count()}  client: {args.client}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="devskyy-bench-publish-") as scratch:
        data = Path(scratch) / "data"
        ports = {"devskyy": free_port(), "bare": free_port()}
        servers = {kind: start(kind, port, data) for kind, port in ports.items()}
        token = mint_token(data, "bench", "publish")
        try:
            for n in [int(x) for x in args.subscribers.split(",")]:
                holders = [subscribers(ports[k], n) for k in ports]
                try:
                    for batch in [int(x) for x in args.batches.split(",")]:
                        runs: dict[str, list[dict[str, float]]] = {k: [] for k in ports}
                        for _ in range(args.rounds):
                            for kind, port in ports.items():
                                runs[kind].append(
                                    turn(
                                        port,
                                        servers[kind].pid,
                                        token,
                                        batch,
                                        args.seconds,
                                        args.client,
                                    )
                                )
                        row: dict[str, Any] = {"subscribers": n, "batch": batch}
                        for kind, kind_runs in runs.items():
                            posts = statistics.median(r["posts_per_s"] for r in kind_runs)
                            cpu = statistics.median(r["cpu_us_per_post"] for r in kind_runs)
                            row[kind] = {
                                "posts_per_s": round(posts),
                                "deliveries_per_s": round(posts * batch * n),
                                "cpu_us_per_post": round(cpu, 1),
                                "cpu_us_per_delivery": round(cpu / (batch * n), 3),
                            }
                        ratios = [d["cpu_us_per_post"] / b["cpu_us_per_post"]
                                  for d, b in zip(runs["devskyy"], runs["bare"], strict=True)]  # fmt: skip
                        row["cpu_ratio_to_bare"] = round(statistics.median(ratios), 2)
                        row["cpu_ratio_by_round"] = [round(r, 2) for r in ratios]
                        print(json.dumps(row), flush=True)
                        results.append(row)
                finally:
                    for holder in holders:
                        holder.kill()
                        holder.wait()
        finally:
            for server in servers.values():
                server.terminate()
                server.wait(timeout=30)
    if args.json:
        args.json.write_text(
            json.dumps({"date": time.strftime("%Y-%m-%d"), "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
