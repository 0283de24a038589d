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

    python scripts/bench_connect.py --reconnect 10000 [--rounds 3]

A reconnect storm, as after a deploy: 100 dashboards stay connected to /api/ws/tasks while
a producer publishes 50 messages a second to them; then 10,000 sockets open at once on
/api/ws/agents (a quiet channel: this machine's load clients cannot read 50 x 10,000
messages a second) from two client processes, spread over 50 office addresses (`X-Forwarded-For` through a trusted proxy, as
behind nginx; devskyy's per-address limits keep their defaults), and close again.
Reported per server: the connected dashboards' publish-to-receive p50 / p99 / max before
and during the storm, the storm's length and refusals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchproc import ROOT, free_port, mint_token, wait_healthy


def serve_bare(port: int) -> None:
    from aiohttp import web

    from devskyy_ws.cli import new_event_loop

    async def socket_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        members = sockets.setdefault(request.match_info["channel"], set())
        members.add(ws)
        async for _ in ws:
            pass
        members.discard(ws)
        return ws

    async def publish(request: web.Request) -> web.Response:
        """The storm's producer: the message to every socket, as devskyy's /events does."""
        doc = json.loads(await request.read())
        data = json.dumps(doc["message"], separators=(",", ":"))
        members = list(sockets.get(doc["channel"], ()))
        for ws in members:
            if not ws.closed:
                await ws.send_str(data)
        return web.json_response({"delivered": len(members)}, status=202)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    sockets: dict[str, set[web.WebSocketResponse]] = {}
    app = web.Application()
    app.router.add_post("/api/v1/events", publish)
    app.router.add_get("/api/ws/{channel}", socket_handler)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None,
                loop=new_event_loop("auto"), backlog=4096)  # fmt: skip


async def storm(
    port: int, sockets: int, in_flight: int, offices: int = 0, channel: str = "tasks"
) -> dict[str, float]:
    """Open `sockets` WebSockets, at most `in_flight` handshakes at a time, then close
    them; with `offices`, each says (X-Forwarded-For) it comes from one of that many."""
    import aiohttp

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gate = asyncio.Semaphore(in_flight)
    refused = retried = 0
    count = 0

    async def one(session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse | None:
        """One dashboard: a refusal counts; a connection the kernel dropped (its accept
        queue full) is retried after a jittered backoff, as the browser client does."""
        nonlocal refused, retried, count
        count += 1
        office = {"X-Forwarded-For": f"10.0.{count % offices}.1"} if offices else {}
        for attempt in range(6):
            async with gate:
                try:
                    return await session.ws_connect(
                        f"http://127.0.0.1:{port}/api/ws/{channel}", headers=office
                    )
                except aiohttp.WSServerHandshakeError:
                    refused += 1
                    return None
                except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                    retried += 1
            await asyncio.sleep(random.uniform(0.5, 1.5) * 0.1 * 2**attempt)
        refused += 1
        return None

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        opened = await asyncio.gather(*(one(session) for _ in range(sockets)))
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(ws.close() for ws in opened if ws is not None))
    return {"seconds": elapsed, "refused": refused, "retried": retried}


def start_servers(data: Path, *flags: str) -> dict[str, tuple[int, subprocess.Popen[bytes]]]:
    """devskyy (`--ws-auth optional` and `flags`, defaults otherwise) and the bare handler,
    each on a free port, healthy: {kind: (port, process)}."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = {
        "devskyy": [sys.executable, "-m", "devskyy_ws", "--data-dir", str(data),
                    "--ws-auth", "optional", "--log-level", "WARNING", *flags],
        "bare": [sys.executable, __file__],
    }  # fmt: skip
    servers = {}
    for kind, command in commands.items():
        port = free_port()
        flag = "--port" if kind == "devskyy" else "--serve-bare"
        servers[kind] = (port, subprocess.Popen([*command, flag, str(port)], env=env,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))  # fmt: skip
    for port, _ in servers.values():
        wait_healthy(port)
    return servers


def stop_servers(servers: dict[str, tuple[int, subprocess.Popen[bytes]]]) -> None:
    for _, server in servers.values():
        server.terminate()
        server.wait(timeout=30)


PRODUCER_CONNECTIONS = 4


def storm_command(
    port: int, sockets: int, in_flight: int, offices: int = 0, channel: str = "tasks"
) -> list[str]:
    return [sys.executable, __file__, "--storm", str(port), str(sockets), str(in_flight),
            str(offices), channel]  # fmt: skip


def run_storm(port: int, sockets: int, in_flight: int) -> dict[str, float]:
    out = subprocess.run(
        storm_command(port, sockets, in_flight),
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


async def watch(port: int, token: str, dashboards: int) -> None:
    """Dashboards that stay connected, and a producer posting to them 50 times a second
    until stdin closes; prints every message's (sent_at, latency in seconds)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    stop = loop.run_in_executor(None, sys.stdin.read)
    samples: list[tuple[float, float]] = []
    url = f"http://127.0.0.1:{port}"
    # The producer keeps its connections, as a worker's HTTP client does, and opens them
    # all before the storm: one opened during it waits in the listen backlog with the
    # storm's handshakes, and a SYN the full queue drops is retried a second later. That
    # second, not the server's fan-out, was the whole of an earlier run's p99.
    producer = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=PRODUCER_CONNECTIONS))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [await session.ws_connect(f"{url}/api/ws/tasks") for _ in range(dashboards)]

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                doc = json.loads(msg.data)
                sent = doc.get("data", {}).get("sent_at") if doc.get("task_id") == "w" else None
                if sent is not None:
                    samples.append((sent, time.time() - sent))

        async def post(n: int) -> None:
            event = {"channel": "tasks", "message": {"type": "task_update", "task_id": "w",
                     "status": "running", "progress": n % 100, "data": {"sent_at": time.time()}}}  # fmt: skip
            async with producer.post(f"{url}/api/v1/events", json=event,
                                     headers={"Authorization": f"Bearer {token}"}) as resp:  # fmt: skip
                await resp.read()  # an unread body closes the connection
                if resp.status != 202:
                    raise SystemExit(f"publish refused: {resp.status}")

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        await asyncio.gather(*(post(0) for _ in range(PRODUCER_CONNECTIONS)))
        print("ready", flush=True)
        posts, n = [], 0
        while not stop.done():
            n += 1
            posts.append(asyncio.create_task(post(n)))
            await asyncio.sleep(0.02)
        await asyncio.gather(*posts)
        await asyncio.sleep(1.0)  # the last messages arrive
        for task in readers:
            task.cancel()
    await producer.close()
    print(json.dumps(samples), flush=True)


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"count": 0}
    ordered = sorted(latencies)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000, 1)

    return {"count": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


def reconnect_round(port: int, token: str, sockets: int) -> dict[str, Any]:
    """One storm while dashboards watch: latencies before and during, storm length."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    watcher = subprocess.Popen(
        [sys.executable, __file__, "--watch", str(port), token, "100"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert watcher.stdin is not None and watcher.stdout is not None
    assert watcher.stdout.readline().strip() == "ready"
    time.sleep(2.0)  # the baseline
    started = time.time()
    half = sockets // 2
    # The storm's clients would be other machines: niced, they take only the CPU the
    # server and the watching dashboards leave.
    storms = [subprocess.Popen(["nice", "-n", "19", *storm_command(port, share, share, 50, "agents")],
                               stdout=subprocess.PIPE, text=True, env=env)
              for share in (half, sockets - half)]  # fmt: skip
    outs = [json.loads(storm.communicate(timeout=600)[0]) for storm in storms]
    ended = time.time()
    time.sleep(1.0)
    watcher.stdin.close()
    samples = json.loads(watcher.stdout.read().strip().splitlines()[-1])
    watcher.wait(timeout=60)
    return {
        "storm_s": round(ended - started, 2),
        "open_s": round(max(o["seconds"] for o in outs), 2),
        "refused": sum(o["refused"] for o in outs),
        "retried": sum(o["retried"] for o in outs),
        "before": _percentiles([lat for sent, lat in samples if sent < started]),
        "during": _percentiles([lat for sent, lat in samples if started <= sent <= ended]),
    }


def reconnect(sockets: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="devskyy-bench-reconnect-") as scratch:
        data = Path(scratch) / "data"
        servers = start_servers(data, "--trusted-proxies", "127.0.0.1/32")
        try:
            token = mint_token(data, "storm", "publish")
            for _ in range(rounds):
                for kind, (port, _) in servers.items():
                    row = {"server": kind, **reconnect_round(port, token, sockets)}
                    print(json.dumps(row), flush=True)
                    time.sleep(2.0)  # the closed sockets' handlers finish
        finally:
            stop_servers(servers)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--storm", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--watch", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--reconnect", type=int, metavar="N", help="a reconnect storm of N")
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.storm:
        port, sockets, in_flight, offices, channel = args.storm
        result = storm(int(port), int(sockets), int(in_flight), int(offices), channel)
        print(json.dumps(asyncio.run(result)))
        return 0
    if args.watch:
        port, token, dashboards = args.watch
        asyncio.run(watch(int(port), token, int(dashboards)))
        return 0
    if args.reconnect:
        print(f"cores: {os.cpu_count()}  reconnect storm of {args.reconnect}", flush=True)
        reconnect(args.reconnect, args.rounds)
        return 0
    print(f"cores: {os.cpu_count()}  sockets: {args.sockets}  in flight: {args.in_flight}")
    with tempfile.TemporaryDirectory(prefix="devskyy-bench-connect-") as scratch:
        servers = start_servers(Path(scratch) / "data")
        try:
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in servers}
            for _ in range(args.rounds):
                for kind, (port, _) in servers.items():
                    runs[kind].append(run_storm(port, args.sockets, args.in_flight))
                    time.sleep(1.0)  # let the closed sockets' server handlers finish
        finally:
            stop_servers(servers)
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
