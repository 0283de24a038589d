#!/usr/bin/env python3
"""Producers' paths, each beside like-for-like references, side by side in one run.

    python scripts/bench_publish.py [--subscribers 1,1000,5000] [--batches 1,10,100]
                                    [--paths post,ws,ingest,node] [--seconds 3] [--rounds 3]

Servers (each its own process, taking turns round after round):
  devskyy - the real server (`python -m devskyy_ws`: limits off for the load, and a send
            buffer large enough that the bench's subscribers are never cut as slow;
            pings and keepalives at their defaults: readers seconds behind by design
            answer pings late, and are kept because they are still taking data)
  bare    - aiohttp: read the body (or socket message), parse it, check the channel, stamp
            a seq, encode once, build one frame and write it to every subscriber's
            transport (a batch's frames in one write per socket); answers 202 / an ack
  node    - Node `ws` broadcasting from an in-process loop (scripts/node_broadcast.mjs):
            no producer at all, the ceiling a Node server users might pick reaches
Paths:
  post - POST /api/v1/events, one event or batches, wrk with up to 32 connections
  ws   - /api/ws/publish: one producer pipelining single events, up to 1,000 unacknowledged
  ingest - Redis (127.0.0.1:6379): one producer XADDing to the ingest stream in pipelines
         of 100, never more than 2,000 entries ahead of the consumer group; devskyy with
         `--broker redis://` (every event through the broker's stream and back), bare
         reading the stream in its own group, 100 entries at a time, fanning each read
         out in one write per socket and acknowledging it in one XACK
  node - the Node loop with the same batch sizes
Subscribers: N sockets on /api/ws/tasks per server, spread over `--subscriber-procs`
processes, reading and discarding. Each measured run lasts from its start until every
subscriber has read all of it (a server that only buffers is charged for writing out
later). Reported per (path, N, batch): deliveries/s, server CPU per delivery, and the
ratio of devskyy's CPU per delivery to bare's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from benchproc import ROOT, cpu_seconds, free_port, mint_token, wait_healthy
from loadgen import default_client, run_load

EVENT = {
    "channel": "tasks",
    "message": {"type": "task_update", "task_id": "t-1", "status": "running", "progress": 50,
                "data": {"agent_type": "commerce", "note": "x" * 150}},
}  # fmt: skip


REDIS = "redis://127.0.0.1:6379/0"
INGEST_AHEAD = 2000  # entries the ingest producer may be ahead of the consumer group
INGEST_PIPELINE = 100


def body_for(batch: int) -> dict[str, Any]:
    return EVENT if batch == 1 else {"events": [EVENT] * batch}


# --------------------------------------------------------------------------- servers
def serve_bare(port: int, ingest_prefix: str | None = None) -> None:
    """The reference: the same work with nothing else (no auth, limits, history, checks
    beyond the channel). With `ingest_prefix`, it also consumes that Redis ingest stream."""
    from aiohttp import WSMsgType, web

    from devskyy_ws.channels.frames import text_frame

    sockets: set[Any] = set()
    seq = 0

    def fan_out(events: list[dict[str, Any]]) -> list[int] | None:
        nonlocal seq
        frames, seqs = [], []
        for event in events:
            if event.get("channel") != "tasks":
                return None
            seq += 1
            seqs.append(seq)
            message = dict(event["message"], seq=seq)
            frames.append(text_frame(json.dumps(message, separators=(",", ":")).encode()))
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        for transport in list(sockets):
            if transport is not None and not transport.is_closing():
                transport.write(data)
        return seqs

    async def socket_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(request.transport)
        async for _ in ws:
            pass
        sockets.discard(request.transport)
        return ws

    async def publish(request: web.Request) -> web.Response:
        doc = json.loads(await request.read())
        seqs = fan_out(doc.get("events", [doc]))
        if seqs is None:
            return web.json_response({"error": "unknown_channel"}, status=422)
        return web.json_response({"accepted": len(seqs)}, status=202)

    async def publish_socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                doc = json.loads(msg.data)
                seqs = fan_out(doc.get("events", [doc]))
                answer = {"type": "ack", "id": doc.get("id"), "seq": seqs}
                await ws.send_str(json.dumps(answer, separators=(",", ":")))
        return ws

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def consume_ingest(_: web.Application) -> AsyncIterator[None]:
        import redis.asyncio as aioredis
        from redis.exceptions import ResponseError

        client = aioredis.from_url(REDIS, decode_responses=True)
        key = f"{ingest_prefix}:ingest"
        with contextlib.suppress(ResponseError):  # BUSYGROUP
            await client.xgroup_create(key, "bare", id="$", mkstream=True)

        async def consume() -> None:
            while True:
                answer = await client.xreadgroup("bare", "one", {key: ">"}, count=100, block=1000)
                for _, entries in answer or []:
                    fan_out([{"channel": fields["channel"],
                              "message": json.loads(fields["message"])}
                             for _, fields in entries])  # fmt: skip
                    await client.xack(key, "bare", *(entry_id for entry_id, _ in entries))

        consumer = asyncio.create_task(consume())
        yield
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await client.aclose()

    app = web.Application(client_max_size=4 * 1024 * 1024)
    if ingest_prefix:
        app.cleanup_ctx.append(consume_ingest)
    app.router.add_get("/api/ws/publish", publish_socket)
    app.router.add_get("/api/ws/tasks", socket_handler)
    app.router.add_post("/api/v1/events", publish)
    app.router.add_get("/health", health)
    from devskyy_ws.cli import new_event_loop

    loop = new_event_loop("auto")
    web.run_app(app, host="127.0.0.1", port=port, print=None, loop=loop, access_log=None,
                backlog=4096)  # fmt: skip


def _more_files() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def hold_subscribers(port: int, n: int) -> None:
    """N sockets reading and discarding, until killed."""
    import aiohttp

    _more_files()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        gate = asyncio.Semaphore(100)

        async def connect() -> aiohttp.ClientWebSocketResponse:
            async with gate:
                return await session.ws_connect(f"http://127.0.0.1:{port}/api/ws/tasks")

        sockets = await asyncio.gather(*(connect() for _ in range(n)))
        received = 0
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGUSR1, lambda: print(received, flush=True)
        )
        print("ready", flush=True)

        async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received
            async for _ in ws:
                received += 1

        await asyncio.gather(*(drain(ws) for ws in sockets))
        await asyncio.Event().wait()  # closed by the server: still answer for the count


async def ws_load(port: int, token: str, seconds: float, window: int) -> None:
    """One producer on the publish socket pipelining single events, at most `window`
    unacknowledged; prints {"acked", "elapsed"}."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/api/ws/publish?token={token}")
        room = asyncio.Semaphore(window)
        acked = sent = 0
        done = asyncio.Event()

        async def read_acks() -> None:
            nonlocal acked
            async for msg in ws:
                answer = json.loads(msg.data)
                if answer.get("type") != "ack":
                    raise SystemExit(f"refused: {answer}")
                acked += 1
                room.release()
                if done.is_set() and acked == sent:
                    return

        reader = asyncio.create_task(read_acks())
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await room.acquire()
            sent += 1
            await ws.send_str(json.dumps({**EVENT, "id": sent}))
        done.set()
        if acked < sent:
            await asyncio.wait_for(reader, 60)
        elapsed = time.perf_counter() - started
        await ws.close()
    print(json.dumps({"acked": acked, "elapsed": elapsed}), flush=True)


async def ingest_load(prefix: str, group: str, seconds: float) -> None:
    """One producer XADDing in pipelines, at most INGEST_AHEAD entries ahead of what
    `group` has acknowledged (Redis 7's lag plus the pending entries); prints {"added"}."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS, decode_responses=True)
    key = f"{prefix}:ingest"
    fields = {"channel": EVENT["channel"], "message": json.dumps(EVENT["message"])}
    added = 0

    async def lag() -> int:
        for info in await client.xinfo_groups(key):
            if info["name"] == group:
                return int(info["lag"] or 0) + int(info["pending"])
        raise SystemExit(f"no consumer group {group} on {key}")

    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if await lag() > INGEST_AHEAD - INGEST_PIPELINE:
            await asyncio.sleep(0.001)  # the consumer is behind: a producer would wait too
            continue
        pipe = client.pipeline(transaction=False)
        for _ in range(INGEST_PIPELINE):
            pipe.xadd(key, fields)
        await pipe.execute()
        added += INGEST_PIPELINE
    while await lag():
        await asyncio.sleep(0.01)
    await client.xtrim(key, maxlen=0)  # read and acknowledged: Redis need not keep it
    await client.aclose()
    print(json.dumps({"added": added}), flush=True)


def ingest_turn(prefix: str, group: str, seconds: float) -> int:
    """The ingest producer for `seconds`; returns the entries it added."""
    done = subprocess.run(
        [sys.executable, __file__, "--ingest-load", prefix, group, str(seconds)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return int(json.loads(done.stdout.strip().splitlines()[-1])["added"])


def drop_keys(prefix: str) -> None:
    """Every Redis key a run made under `prefix`."""
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def start(kind: str, port: int, data: Path, prefix: str = "") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kind == "bare":
        command = [sys.executable, __file__, "--serve-bare", str(port)]
    elif kind == "bare-ingest":
        command = [sys.executable, __file__, "--serve-bare", str(port), "--ingest-prefix",
                   f"{prefix}-bare"]  # fmt: skip
    elif kind == "node":
        command = ["node", str(ROOT / "scripts" / "node_broadcast.mjs"), str(port)]
    else:
        own = data if kind == "devskyy" else data.with_name(f"data-{kind}")  # one file each
        command = [sys.executable, "-m", "devskyy_ws", "--port", str(port), "--data-dir",
                   str(own), "--rate-limit", "0", "--publish-rate", "0", "--handshake-rate",
                   "0", "--send-buffer", str(64 * 1024 * 1024), "--log-level", "WARNING",
                   "--metrics-interval", "3600"]  # fmt: skip
        if kind == "devskyy-ingest":
            command += ["--broker", f"{REDIS}?prefix={prefix}-devskyy"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_healthy(port)
    return server


def subscribers(port: int, n: int, procs: int) -> list[subprocess.Popen[str]]:
    shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    holders = [
        subprocess.Popen(
            [sys.executable, __file__, "--subscribe", str(port), str(share)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for share in shares
        if share
    ]
    for holder in holders:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
    return holders


def post_turn(port: int, token: str, batch: int, subscribers: int, client: str,
              seconds: float) -> int:  # fmt: skip
    """POSTs of `batch` events for `seconds`; returns the events published. Concurrent
    POSTs are fewer as each fans out further (32 for small fan-outs, 1 for 100,000
    deliveries a POST), so every POST is answered within the run."""
    concurrency = max(1, min(32, 32_000 // (batch * subscribers)))
    out = run_load(f"http://127.0.0.1:{port}/api/v1/events", "POST", seconds=seconds,
                   concurrency=concurrency, headers={"Authorization": f"Bearer {token}"},
                   body=body_for(batch), client=client,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    if out["errors"] or not out["requests"]:
        raise SystemExit(f"port {port}, {batch} a POST: {out}")
    return int(out["requests"]) * batch


def ws_turn(port: int, token: str, subscribers: int, seconds: float) -> int:
    """One producer pipelining single events for `seconds`, with up to 1,000
    unacknowledged (fewer as each fans out further); returns the events acknowledged."""
    window = max(10, min(1000, 200_000 // subscribers))
    done = subprocess.run(
        [sys.executable, __file__, "--ws-load", str(port), token, str(seconds), str(window)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return int(json.loads(done.stdout.strip().splitlines()[-1])["acked"])


def node_turn(port: int, batch: int, seconds: float) -> int:
    """Node's own broadcast loop for `seconds`; returns the messages it sent."""
    url = f"http://127.0.0.1:{port}/run?seconds={seconds}&batch={batch}"
    with urllib.request.urlopen(url, timeout=seconds + 60) as response:
        return int(json.loads(response.read())["messages"])


SAMPLE_S = 0.2


def settle(pids: list[int], limit: float = 120.0) -> float:
    """Wait until the subscribers have read everything (they idle); returns when their
    last busy moment ended. A server that buffers what sockets cannot take yet is
    thereby charged for writing it out, and a turn never pays for the last one's."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.monotonic()
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(SAMPLE_S)
        # Idle: all of them together under a tenth of one core (per process, the readers
        # of the busy server could be starved by it and still pass for idle).
        if sum(cpu_seconds(pid) for pid in pids) - before < 0.1 * SAMPLE_S:
            return started
    raise SystemExit("the subscribers never caught up")


def received(holders: list[subprocess.Popen[str]]) -> int:
    """Messages the subscribers have read so far, as they count them."""
    total = 0
    for holder in holders:
        assert holder.stdout is not None
        os.kill(holder.pid, signal.SIGUSR1)
        total += int(holder.stdout.readline())
    return total


def measure(turns: dict[str, tuple[int, Any]], seconds: float, rounds: int, n: int,
            holders: list[subprocess.Popen[str]]) -> dict[str, Any]:  # fmt: skip
    """Every kind's turn, round after round: a warm-up, then a measured run from its
    start until every subscriber has read all of it. Deliveries are what the
    subscribers counted; `lost` what they should have and did not (a server may cut
    a reader that falls too far behind). Readers idle for a moment before they have
    counted every accepted event are waited for (up to 30 s more): without that, one
    server's tail was counted in the next server's turn. Medians per kind; CPU ratios by
    round."""
    readers = [holder.pid for holder in holders]
    runs: dict[str, list[tuple[float, float, float, int]]] = {kind: [] for kind in turns}
    for _ in range(rounds):
        for kind, (pid, turn) in turns.items():
            turn(1.0)
            settle(readers)
            before = received(holders)
            cpu0, started = cpu_seconds(pid), time.monotonic()
            events = turn(seconds)
            ended = settle(readers)
            got = received(holders) - before
            patience = time.monotonic() + 30.0
            while got < events * n and time.monotonic() < patience:  # a lull, not the end
                ended = settle(readers)
                got = received(holders) - before
            cpu = cpu_seconds(pid) - cpu0
            elapsed = ended - started
            runs[kind].append((events / elapsed, got / elapsed, cpu / max(got, 1),
                               events * n - got))  # fmt: skip
    row: dict[str, Any] = {}
    for kind, kind_runs in runs.items():
        row[kind] = {"events_per_s": round(statistics.median(r[0] for r in kind_runs)),
                     "deliveries_per_s": round(statistics.median(r[1] for r in kind_runs)),
                     "cpu_us_per_delivery": round(statistics.median(r[2] for r in kind_runs)
                                                  * 1e6, 3),
                     "lost": sum(r[3] for r in kind_runs)}  # fmt: skip
    if "bare" in runs:
        ratios = [d[2] / b[2] for d, b in zip(runs["devskyy"], runs["bare"], strict=True)]
        row["cpu_ratio_to_bare"] = round(statistics.median(ratios), 2)
        row["cpu_ratio_by_round"] = [round(r, 2) for r in ratios]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--subscribe", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ws-load", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--ingest-load", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--ingest-prefix", help=argparse.SUPPRESS)
    parser.add_argument("--subscribers", default="1,1000,5000")
    parser.add_argument("--subscriber-procs", type=int, default=2)
    parser.add_argument("--batches", default="1,10,100")
    parser.add_argument("--paths", default="post,ws,ingest,node")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=["wrk", "python"], default=default_client())
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.ingest_prefix)
        return 0
    if args.ingest_load:
        prefix, group, seconds = args.ingest_load
        asyncio.run(ingest_load(prefix, group, float(seconds)))
        return 0
    if args.subscribe:
        asyncio.run(hold_subscribers(*args.subscribe))
        return 0
    if args.ws_load:
        port, token, seconds, window = args.ws_load
        asyncio.run(ws_load(int(port), token, float(seconds), int(window)))
        return 0
    _more_files()
    paths = args.paths.split(",")
    batches = [int(x) for x in args.batches.split(",")]
    print(f"cores: {os.cpu_count()}  client: {args.client}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="devskyy-bench-publish-") as scratch:
        data = Path(scratch) / "data"
        kinds = ["devskyy", "bare"] + (["node"] if "node" in paths else [])
        kinds += ["devskyy-ingest", "bare-ingest"] if "ingest" in paths else []
        prefix = f"bench-publish-{secrets.token_hex(4)}"
        ports = {kind: free_port() for kind in kinds}
        servers = {kind: start(kind, port, data, prefix) for kind, port in ports.items()}
        pids = {kind: server.pid for kind, server in servers.items()}
        token = mint_token(data, "bench", "publish")
        try:
            for n in [int(x) for x in args.subscribers.split(",")]:
                holders = [
                    h for p in ports.values() for h in subscribers(p, n, args.subscriber_procs)
                ]
                try:
                    rows: list[dict[str, Any]] = []
                    pair = ("devskyy", "bare")
                    for batch in batches if "post" in paths else []:
                        turns = {k: (pids[k], partial(post_turn, ports[k], token, batch, n,
                                                      args.client)) for k in pair}  # fmt: skip
                        row = measure(turns, args.seconds, args.rounds, n, holders)
                        rows.append({"path": "post", "batch": batch, **row})
                    if "ws" in paths:
                        turns = {k: (pids[k], partial(ws_turn, ports[k], token, n))
                                 for k in pair}  # fmt: skip
                        row = measure(turns, args.seconds, args.rounds, n, holders)
                        rows.append({"path": "ws", "batch": 1, **row})
                    if "ingest" in paths:
                        turns = {k: (pids[f"{k}-ingest"], partial(ingest_turn, f"{prefix}-{k}", k))
                                 for k in pair}  # fmt: skip
                        row = measure(turns, args.seconds, args.rounds, n, holders)
                        rows.append({"path": "ingest", "batch": 1, **row})
                    for batch in batches if "node" in paths else []:
                        turn = partial(node_turn, ports["node"], batch)
                        row = measure({"node": (pids["node"], turn)}, args.seconds, args.rounds,
                                      n, holders)  # fmt: skip
                        rows.append({"path": "node", "batch": batch, **row})
                    for row in rows:
                        row["subscribers"] = n
                        print(json.dumps(row), flush=True)
                    results.extend(rows)
                finally:
                    for holder in holders:
                        holder.kill()
                        holder.wait()
        finally:
            for server in servers.values():
                server.terminate()
                server.wait(timeout=30)
            if "ingest" in paths:
                drop_keys(prefix)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "results": results},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
