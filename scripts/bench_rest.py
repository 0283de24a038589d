#!/usr/bin/env python3
"""REST benchmark: the task endpoints over 100,000 stored tasks, beside aiohttp's floor.

    python scripts/bench_rest.py [--tasks 100000] [--seconds 5] [--rounds 3] [--concurrency 32]
                                 [--only "POST"] [--client wrk|python]

Fills a fresh SQLite database with N tasks, starts `python -m devskyy_ws` on it and a
floor server (a bare aiohttp handler returning JSON of the same size), then drives each
endpoint from a separate load process for a fixed time: requests/s, p50/p99 latency,
and each server's worst event-loop lag while it ran (devskyy's from its monitoring
endpoint, the floor's from the same probe), so a lag the machine causes shows on both
sides; "blocked" is that lag less the time the kernel gave the loop's thread no CPU
(services/looplag.py). The load is wrk where it is installed (see loadgen.py for why the
client matters), else a Python client; the output names which.

devskyy and the floor take turns (`--rounds`, each `--seconds` long), so a shared
machine's drift in speed, which is seen as ±15% between minutes, falls on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from benchproc import ROOT, fetch, free_port, mint_token, wait_healthy
from loadgen import default_client, run_load

TASK_BODY = {"agentType": "support", "prompt": "bench"}
"""What every benchmarked POST /api/v1/tasks sends."""
POST_FLOOR_BODY = json.dumps({"taskId": "x" * 12}).encode() * 20
"""The floor's answer to a POST: about the size of the 201 body."""


async def fill(data: Path, count: int) -> list[str]:
    from devskyy_ws.records import TaskRecord
    from devskyy_ws.services.tasks import task_row
    from devskyy_ws.store.sqlite import SqliteStore

    store = SqliteStore(data / "devskyy.sqlite3")
    await store.open()
    agents = ["commerce", "creative", "marketing", "support", "operations", "analytics"]
    statuses = ["completed", "completed", "completed", "failed", "cancelled"]
    base = datetime.now(UTC) - timedelta(days=30)
    ids = []
    batch = []
    for i in range(count):
        task = TaskRecord(
            task_id=f"task-{i:012x}",
            agent_type=agents[i % 6],
            prompt=f"bench prompt {i}",
            status=statuses[i % 5],
            created_at=base + timedelta(seconds=i * 10),
            technique_used="chain_of_thought",
            category="analysis",
            result="done",
            progress=100.0,
        )
        task.metrics.latency_ms = 100.0 + i % 50
        batch.append(task_row(task))
        ids.append(task.task_id)
        if len(batch) == 5000:
            await store.put_many(batch)
            batch = []
    if batch:
        await store.put_many(batch)
    await store.close()
    return ids


def floor_server(port: int, body: bytes, loop_kind: str) -> None:
    from aiohttp import web

    from devskyy_ws.cli import new_event_loop
    from devskyy_ws.services.looplag import LoopLag

    lag = LoopLag()  # devskyy's own probe, so both sides are measured alike

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def take_lag(request: web.Request) -> web.Response:
        worst, blocked = lag.take()
        return web.json_response({"event_loop_lag_ms": worst, "event_loop_blocked_ms": blocked})

    async def probe(app: web.Application) -> Any:
        task = asyncio.create_task(lag.watch())
        yield
        task.cancel()

    app = web.Application()
    app.cleanup_ctx.append(probe)
    app.router.add_get("/__lag", take_lag)
    app.router.add_route("*", "/{tail:.*}", handler)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        print=lambda _: print("ready", flush=True),
        access_log=None,
        loop=new_event_loop(loop_kind),  # the same loop as the server it is the floor of
    )


def summarize(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Requests/s over every round together; the rounds' median p50 and worst p99
    (wrk reports percentiles, not each latency, so rounds are not pooled)."""
    return {
        "rps": round(sum(run["requests"] for run in runs) / sum(run["elapsed"] for run in runs)),
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 2),
        "p99_ms": round(max(run["p99_ms"] for run in runs), 2),
        "errors": sum(run["errors"] for run in runs),
    }


def rate(run: dict[str, Any]) -> float:
    """Requests per second of one load run."""
    return float(run["requests"] / run["elapsed"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="turns each side takes")
    parser.add_argument(
        "--only", default="", help="measure only endpoints whose name contains this text"
    )
    parser.add_argument(
        "--event-loops",
        default="auto",
        help="server loops to measure, comma-separated (auto, asyncio, uvloop)",
    )
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default=default_client(),
        help="load generator (default: wrk if installed)",
    )
    parser.add_argument("--floor", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor_server(int(args.floor[0]), Path(args.floor[1]).read_bytes(), args.floor[2])
        return 0
    for loop_kind in args.event_loops.split(","):
        measure(args, loop_kind)
    return 0


def measure(args: argparse.Namespace, loop_kind: str) -> list[dict[str, Any]]:
    """Every endpoint against a fresh server and database on one event loop."""

    data = Path(tempfile.mkdtemp(prefix="devskyy-bench-"))
    started = time.perf_counter()
    ids = asyncio.run(fill(data, args.tasks))
    print(
        f"cores: {os.cpu_count()}  client: {args.client}  "
        f"filled {len(ids)} tasks in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    port, floor_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devskyy_ws",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--rate-limit",
            "0",
            "--log-level",
            "WARNING",
            "--metrics-interval",
            "3600",
            "--event-loop",
            loop_kind,
        ],
        stderr=subprocess.DEVNULL,
        env=env,
    )
    token = mint_token(data, "bench")
    headers = {"Authorization": f"Bearer {token}"}
    wait_healthy(port)

    cases = [
        ("GET /api/v1/tasks?limit=20", "GET", "/api/v1/tasks?limit=20", None),
        (
            "GET /api/v1/tasks?limit=20&agent_type=support&status=failed",
            "GET",
            "/api/v1/tasks?limit=20&agent_type=support&status=failed",
            None,
        ),
        ("GET /api/v1/tasks/{id}", "GET", f"/api/v1/tasks/{ids[len(ids) // 2]}", None),
        (
            "POST /api/v1/tasks",
            "POST",
            "/api/v1/tasks",
            TASK_BODY,
        ),
    ]
    cases = [case for case in cases if args.only in case[0]]
    rows = []
    try:
        for name, method, path, body in cases:
            sample = fetch(port, token, path) if method == "GET" else POST_FLOOR_BODY
            sample_file = data / "floor.json"
            sample_file.write_bytes(sample)
            floor = subprocess.Popen(
                [sys.executable, __file__, "--floor", str(floor_port), str(sample_file), loop_kind],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert floor.stdout is not None
            floor.stdout.readline()
            runs: dict[str, list[dict[str, Any]]] = {"devskyy": [], "floor": []}
            lag = {"devskyy": 0.0, "floor": 0.0}
            blocked: dict[str, float | None] = {"devskyy": 0.0, "floor": 0.0}
            gc_ms = 0.0
            turns = [("devskyy", port), ("floor", floor_port)] * args.rounds
            for label, target in turns:
                url = f"http://127.0.0.1:{target}{path}"
                lag_path = "/api/v1/monitoring/metrics?metrics=health"
                if label == "floor":
                    lag_path = "/__lag"

                load = partial(
                    run_load,
                    url,
                    method,
                    concurrency=args.concurrency,
                    headers=headers,
                    body=body,
                    client=args.client,
                    env=env,
                )
                load(seconds=1.0)  # warm-up, not counted
                fetch(target, token, lag_path)  # a fresh lag window for this turn
                runs[label].append(load(seconds=args.seconds))
                report = json.loads(fetch(target, token, lag_path))
                if label == "devskyy":
                    report = report["health"]
                    gc_ms = max(gc_ms, report["gc_pause_ms"])
                lag[label] = max(lag[label], report["event_loop_lag_ms"])
                was, now = blocked[label], report["event_loop_blocked_ms"]
                blocked[label] = None if was is None or now is None else max(was, now)
            floor.terminate()
            floor.wait()
            results = {label: summarize(label_runs) for label, label_runs in runs.items()}
            row = {
                "event_loop": loop_kind,
                "endpoint": name,
                "bytes": len(sample),
                **{f"devskyy_{k}": v for k, v in results["devskyy"].items()},
                **{f"floor_{k}": v for k, v in results["floor"].items()},
                "ratio": round(results["devskyy"]["rps"] / results["floor"]["rps"], 2),
                "ratio_by_round": [
                    round(rate(d) / rate(f), 2)
                    for d, f in zip(runs["devskyy"], runs["floor"], strict=True)
                ],
                "max_loop_lag_ms": lag["devskyy"],
                "floor_max_loop_lag_ms": lag["floor"],
                "max_loop_blocked_ms": blocked["devskyy"],
                "floor_max_loop_blocked_ms": blocked["floor"],
                "max_gc_pause_ms": gc_ms,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)  # 100,000 tasks: tens of MB per run
    return rows


if __name__ == "__main__":
    sys.exit(main())
