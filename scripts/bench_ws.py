#!/usr/bin/env python3
"""WebSocket fan-out benchmark: devskyy_ws against two baselines, side by side.

    python scripts/bench_ws.py [--sizes 1000,5000,10000] [--messages 200] [--rate 10]

For each N it starts, in turn, three servers on loopback:
  devskyy  - the real app (create_app) with a host route that publishes through hub.publish
  naive    - aiohttp with the loop most people write: for ws in clients: await ws.send_json(m)
  minimal  - aiohttp writing one pre-encoded frame to every transport (Python's practical floor)
and one client process (raw asyncio protocols, frame headers parsed, JSON only on a 2%
sample) that opens N connections to one channel. Each server publishes M messages of
about 300 bytes at R per second, then as fast as it can. Reported: delivered messages/s,
p50/p99/max publish-to-receive latency (sampled), lost messages, server CPU seconds per
100,000 deliveries, and server RSS with N idle connections. `--compression` adds a run
with a client offering permessage-deflate against --ws-compression on.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from benchproc import ROOT, cpu_seconds, free_port, rss_mb

PAD = "x" * 180  # makes a message about 300 bytes on the wire


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------- servers
def serve(
    kind: str, port: int, compression: bool, broker: str = "memory://", loop_kind: str = "auto"
) -> None:
    raise_nofile()
    from aiohttp import web

    from devskyy_ws.cli import new_event_loop

    async def publisher(request: web.Request, publish: Any) -> web.Response:
        count, rate = int(request.query["count"]), float(request.query["rate"])
        started = time.perf_counter()
        for n in range(count):
            await publish({"n": n, "t": time.time(), "pad": PAD})
            if rate > 0:
                delay = started + (n + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif n % 10 == 9:
                await asyncio.sleep(0)
        return web.json_response({"published": count, "seconds": time.perf_counter() - started})

    if kind == "devskyy":
        import tempfile

        from devskyy_ws import HUB_KEY, Settings, create_app
        from devskyy_ws.contract.messages import TaskUpdate

        settings = Settings(
            data_dir=Path(tempfile.mkdtemp()),
            max_connections=100_000,
            max_connections_per_ip=100_000,
            handshake_rate=0,
            rate_limit=0,
            ws_compression=compression,
            metrics_interval=3600,
            send_buffer_bytes=4 * 1024 * 1024,
            broker=broker,
            jwt_secret="bench-" + "x" * 40,
        )
        app = web.Application()
        inner = create_app(settings)
        hub_app = inner

        async def publish(data: dict[str, Any]) -> None:
            await hub_app[HUB_KEY].publish(
                "tasks", TaskUpdate(task_id="bench", status="running", progress=50.0, data=data)
            )

        async def trigger(request: web.Request) -> web.Response:
            return await publisher(request, publish)

        from devskyy_ws.http.auth import public

        inner.router.add_post("/bench/publish", public(trigger))  # loopback-only bench route
        app = inner
    else:
        clients: set[web.WebSocketResponse] = set()
        app = web.Application()
        frame_cache: dict[str, bytes] = {}

        async def socket_handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(compress=compression)
            await ws.prepare(request)
            clients.add(ws)
            try:
                async for _ in ws:
                    pass
            finally:
                clients.discard(ws)
            return ws

        if kind == "naive":

            async def publish(data: dict[str, Any]) -> None:
                message = {
                    "type": "task_update",
                    "task_id": "bench",
                    "status": "running",
                    "progress": 50.0,
                    "data": data,
                }
                for ws in list(clients):
                    await ws.send_json(message)
        else:

            async def publish(data: dict[str, Any]) -> None:
                message = {
                    "type": "task_update",
                    "task_id": "bench",
                    "status": "running",
                    "progress": 50.0,
                    "data": data,
                }
                payload = json.dumps(message).encode()
                n = len(payload)
                header = (
                    struct.pack("!BB", 0x81, n) if n < 126 else struct.pack("!BBH", 0x81, 126, n)
                )
                frame = header + payload
                for ws in list(clients):
                    transport = ws._req.transport if ws._req else None
                    if transport is not None and not transport.is_closing():
                        transport.write(frame)

        async def trigger(request: web.Request) -> web.Response:
            return await publisher(request, publish)

        app.router.add_get("/api/ws/tasks", socket_handler)
        app.router.add_post("/bench/publish", trigger)
        del frame_cache
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        print=lambda _: print("ready", flush=True),
        access_log=None,
        loop=new_event_loop(loop_kind),  # every server on the same loop, for a fair comparison
    )


# --------------------------------------------------------------------------- client
class Counter(asyncio.Protocol):
    def __init__(self, sample: bool, stats: dict[str, Any], ready: asyncio.Future[None]) -> None:
        self.sample = sample
        self.stats = stats
        self.ready = ready
        self.buffer = bytearray()
        self.upgraded = False
        self.inflater = zlib.decompressobj(-15)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            del buf[: end + 4]
            self.upgraded = True
            if not self.ready.done():
                self.ready.set_result(None)
        pos, n = 0, len(buf)
        frames = 0
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if n - pos < head + length:
                break
            if buf[pos] & 0x0F == 0x9:  # a protocol ping: answer like any client (masked pong)
                body = bytes(buf[pos + head : pos + head + length])
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
                self.transport.write(bytes((0x8A, 0x80 | len(body))) + mask + masked)
                pos += head + length
                continue
            if self.sample:
                body = bytes(buf[pos + head : pos + head + length])
                if buf[pos] & 0x40:  # RSV1: permessage-deflate, context kept across messages
                    body = self.inflater.decompress(body + b"\x00\x00\xff\xff")
                doc = json.loads(body)
                if doc.get("type") == "task_update":
                    self.stats["latency"].append((time.time() - doc["data"]["t"]) * 1000.0)
            frames += 1
            pos += head + length
        del buf[:pos]
        self.stats["frames"] += frames


async def client(
    host: str, ports: list[int], n: int, compression: bool, channel: str = "tasks"
) -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    stats: dict[str, Any] = {"frames": 0, "latency": []}
    transports = []
    ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if compression else ""
    sem = asyncio.Semaphore(200)

    async def open_one(i: int) -> None:
        async with sem:
            ready: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(
                lambda: Counter(i % 50 == 0, stats, ready), host, ports[i % len(ports)]
            )
            key = base64.b64encode(os.urandom(16)).decode()
            transport.write(
                f"GET /api/ws/{channel} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n".encode()
            )
            await asyncio.wait_for(ready, 30)
            transports.append(transport)

    await asyncio.gather(*(open_one(i) for i in range(n)))
    print(json.dumps({"connected": len(transports)}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = line.decode().strip()
        if command == "reset":
            stats["frames"], stats["latency"] = 0, []
            print(json.dumps({"ok": True}), flush=True)
        elif command.startswith("wait "):
            expected, timeout = int(command.split()[1]), float(command.split()[2])
            deadline = time.monotonic() + timeout
            while stats["frames"] < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            lat = sorted(stats["latency"]) or [0.0]
            print(
                json.dumps(
                    {
                        "frames": stats["frames"],
                        "p50": statistics.median(lat),
                        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                        "max": lat[-1],
                    }
                ),
                flush=True,
            )
        elif command == "quit":
            break
    for t in transports:
        t.close()


# --------------------------------------------------------------------------- orchestration
def bench(
    kind: str,
    n: int,
    messages: int,
    rate: float,
    compression: bool,
    instances: int = 1,
    broker: str = "memory://",
    loop_kind: str = "auto",
) -> dict[str, Any]:
    import urllib.request

    ports = [free_port() for _ in range(instances)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    flags = ["--compression"] if compression else []
    servers = [
        subprocess.Popen(
            [
                *(sys.executable, __file__, "serve", kind, str(p), "--broker", broker),
                *(*flags, "--event-loop", loop_kind),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        for p in ports
    ]
    for proc in servers:
        assert proc.stdout is not None
        proc.stdout.readline()
    cl = subprocess.Popen(
        [sys.executable, __file__, "client", ",".join(map(str, ports)), str(n), *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert cl.stdin is not None and cl.stdout is not None

    def ask(command: str) -> dict[str, Any]:
        assert cl.stdin is not None and cl.stdout is not None
        cl.stdin.write(command + "\n")
        cl.stdin.flush()
        return dict(json.loads(cl.stdout.readline()))

    def cpu() -> float:
        return sum(cpu_seconds(proc.pid) for proc in servers)

    try:
        connected = json.loads(cl.stdout.readline())["connected"]
        time.sleep(1.0)
        label_kind = kind if instances == 1 else f"{kind} x{instances} ({broker.split(':')[0]})"
        if loop_kind != "auto":
            label_kind += f" [{loop_kind}]"
        out: dict[str, Any] = {
            "kind": label_kind,
            "n": n,
            "connected": connected,
            "idle_rss_mb": round(sum(rss_mb(proc.pid) for proc in servers), 1),
        }
        for label, r in (("paced", rate), ("max", 0.0)):
            ask("reset")
            cpu0, client_cpu0 = cpu(), cpu_seconds(cl.pid)
            started = time.perf_counter()
            request = urllib.request.Request(
                f"http://127.0.0.1:{ports[0]}/bench/publish?count={messages}&rate={r}",
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=600) as resp:
                json.loads(resp.read())
            result = ask(f"wait {messages * connected} 60")
            elapsed = time.perf_counter() - started
            used, client_used = cpu() - cpu0, cpu_seconds(cl.pid) - client_cpu0
            delivered = result["frames"]
            out[label] = {
                "delivered_per_s": round(delivered / elapsed),
                "p50_ms": round(result["p50"], 1),
                "p99_ms": round(result["p99"], 1),
                "max_ms": round(result["max"], 1),
                "lost": messages * connected - delivered,
                "cpu_s_per_100k": round(used / max(delivered, 1) * 100_000, 3),
                # the load client's own: it must stay under the server's to not be the
                # bottleneck (one core each, on two cores)
                "client_cpu_s_per_100k": round(client_used / max(delivered, 1) * 100_000, 3),
            }
        cl.stdin.write("quit\n")
        cl.stdin.flush()
        return out
    finally:
        cl.kill()
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve")
    s.add_argument("kind")
    s.add_argument("port", type=int)
    s.add_argument("--compression", action="store_true")
    s.add_argument("--broker", default="memory://")
    s.add_argument("--event-loop", default="auto")
    c = sub.add_parser("client")
    c.add_argument("port", help="one port or several, comma-separated")
    c.add_argument("n", type=int)
    c.add_argument("--compression", action="store_true")
    c.add_argument("--channel", default="tasks")
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--kinds", default="devskyy,naive,minimal")
    parser.add_argument(
        "--compression", action="store_true", help="also measure permessage-deflate"
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--event-loops",
        default="auto",
        help="servers' loops, comma-separated (auto, asyncio, uvloop): e.g. asyncio,uvloop",
    )
    parser.add_argument("--instances", type=int, default=1, help="devskyy instances on --broker")
    parser.add_argument(
        "--broker", default="memory://", help="redis://127.0.0.1:6379/0?prefix=bench"
    )
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.kind, args.port, args.compression, args.broker, args.event_loop)
        return 0
    if args.command == "client":
        # The load generator takes the fastest loop there is, so that it is not the
        # bottleneck (on asyncio's it was, at N = 5,000: docs/benchmarks.md).
        from devskyy_ws.cli import new_event_loop

        ports = [int(p) for p in args.port.split(",")]
        with asyncio.Runner(loop_factory=lambda: new_event_loop("auto")) as runner:
            runner.run(client("127.0.0.1", ports, args.n, args.compression, args.channel))
        return 0
    results = []
    print(
        f"cores: {os.cpu_count()}  messages: {args.messages}  paced rate: {args.rate}/s", flush=True
    )
    for n in (int(x) for x in args.sizes.split(",")):
        if args.instances > 1:
            result = bench(
                "devskyy", n, args.messages, args.rate, False, args.instances, args.broker
            )
            results.append(result)
            print(json.dumps(result), flush=True)
            continue
        for loop_kind in args.event_loops.split(","):
            for kind in [k for k in args.kinds.split(",") if k]:
                result = bench(kind, n, args.messages, args.rate, False, loop_kind=loop_kind)
                results.append(result)
                print(json.dumps(result), flush=True)
        if args.compression:
            for kind in ("devskyy",):
                result = bench(kind, n, args.messages, args.rate, True)
                result["kind"] += "+deflate"
                results.append(result)
                print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
