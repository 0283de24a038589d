#!/usr/bin/env python3
"""REST benchmark: the task endpoints over 100,000 stored tasks, beside the peers users
would pick instead.

    python scripts/bench_rest.py [--stores sqlite,postgresql] [--tasks 100000]
                                 [--seconds 5] [--rounds 3] [--concurrency 32] [--only POST]

For each store, devskyy_ws and its peer (scripts/peers.py) get the same N tasks in fresh
databases: on SQLite, FastAPI + SQLAlchemy 2 (async ORM, aiosqlite, WAL); on PostgreSQL
(127.0.0.1:5432, database `test`, a fresh schema each), FastAPI + an asyncpg pool with
hand-written SQL. Both run as one process on uvloop. Each endpoint is driven by the same
closed-loop load (wrk where installed, see loadgen.py) from a separate process, the two
servers taking turns (`--rounds`, each `--seconds` long) so a shared machine's drift
falls on both. Reported per endpoint: requests/s, p50/p99 ms, the ratio to the peer,
and the longest time devskyy's event loop was blocked meanwhile (services/looplag.py).

Needs the bench extras: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from benchproc import (
    ROOT,
    fetch,
    free_port,
    mint_token,
    start_server,
    stored_tasks,
    wait_healthy,
)
from loadgen import default_client, run_load

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TASK_BODY = {"agentType": "support", "prompt": "bench"}
PEERS = {"sqlite": "sqlalchemy", "postgresql": "asyncpg"}
LAG = "/api/v1/monitoring/metrics?metrics=health"


async def fill_devskyy(url: str, count: int) -> list[str]:
    from devskyy_ws.contract.records import TaskRecord
    from devskyy_ws.services.tasks import task_row
    from devskyy_ws.store import open_store

    store = open_store(url)
    await store.open()
    ids, batch = [], []
    for fields in stored_tasks(count):
        latency = fields.pop("latency_ms")
        task = TaskRecord(**fields)
        task.metrics.latency_ms = latency
        batch.append(task_row(task))
        ids.append(task.task_id)
        if len(batch) == 5000:
            await store.put_many(batch)
            batch = []
    if batch:
        await store.put_many(batch)
    await store.close()
    return ids


def summarize(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Requests/s over every round together; the rounds' median p50 and worst p99."""
    return {
        "rps": round(sum(run["requests"] for run in runs) / sum(run["elapsed"] for run in runs)),
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 2),
        "p99_ms": round(max(run["p99_ms"] for run in runs), 2),
        "errors": sum(run["errors"] for run in runs),
    }


def measure(args: argparse.Namespace, store: str) -> list[dict[str, Any]]:
    """Every endpoint against devskyy_ws and the store's peer, fresh databases each."""
    data = Path(tempfile.mkdtemp(prefix="devskyy-bench-"))
    schema = f"devskyy_bench_{secrets.token_hex(4)}"
    ours = f"sqlite:///{data / 'devskyy.sqlite3'}"
    theirs = str(data / "peer.sqlite3")
    if store == "postgresql":
        ours = f"{POSTGRES}?schema={schema}"
        if args.pg_pool:
            ours += f"&pool_size={args.pg_pool}"
        theirs = f"{POSTGRES}?schema={schema}_peer"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    peer_script = [sys.executable, str(ROOT / "scripts" / "peers.py"), PEERS[store], "--db"]
    started = time.perf_counter()
    ids = asyncio.run(fill_devskyy(ours, args.tasks))
    subprocess.run([*peer_script, theirs, "--fill", str(args.tasks)], check=True, env=env)
    print(
        f"cores: {os.cpu_count()}  client: {args.client}  store: {store}  filled {len(ids)}"
        f" tasks in each in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    port, peer_port = free_port(), free_port()
    secret = secrets.token_hex(32)  # the server's and the peer's, so one token serves both
    (data / "jwt-secret").write_text(secret)
    (data / "jwt-secret").chmod(0o600)
    flags = ["--rate-limit", "0", "--log-level", "WARNING", "--metrics-interval", "3600"]
    rows = []
    with ExitStack() as stack:
        server = start_server(port, data, "--database", ours, *flags)
        stack.callback(_stop, server)
        peer = subprocess.Popen(
            [*peer_script, theirs, "--port", str(peer_port), "--secret", secret], env=env
        )
        stack.callback(_stop, peer)
        wait_healthy(peer_port)
        token = mint_token(data, "bench")
        headers = {"Authorization": f"Bearer {token}"}
        middle = ids[len(ids) // 2]
        cases = [
            ("GET /api/v1/tasks?limit=20", "GET", "/api/v1/tasks?limit=20", None),
            (
                "GET /api/v1/tasks?limit=20&agent_type=support&status=failed",
                "GET",
                "/api/v1/tasks?limit=20&agent_type=support&status=failed",
                None,
            ),
            ("GET /api/v1/tasks/{id}", "GET", f"/api/v1/tasks/{middle}", None),
            ("POST /api/v1/tasks", "POST", "/api/v1/tasks", TASK_BODY),
        ]
        for name, method, path, body in [c for c in cases if args.only in c[0]]:
            runs: dict[str, list[dict[str, Any]]] = {"devskyy": [], "peer": []}
            blocked: float | None = 0.0
            for label, target in [("devskyy", port), ("peer", peer_port)] * args.rounds:
                load = partial(
                    run_load,
                    f"http://127.0.0.1:{target}{path}",
                    method,
                    concurrency=args.concurrency,
                    headers=headers,
                    body=body,
                    client=args.client,
                    env=env,
                )
                load(seconds=1.0)  # warm-up, not counted
                if label == "devskyy":
                    fetch(port, token, LAG)  # a fresh lag window for this turn
                runs[label].append(load(seconds=args.seconds))
                if label == "devskyy":
                    now = json.loads(fetch(port, token, LAG))["health"]["event_loop_blocked_ms"]
                    blocked = None if blocked is None or now is None else max(blocked, now)
            results = {label: summarize(label_runs) for label, label_runs in runs.items()}
            row = {
                "store": store,
                "endpoint": name,
                **{f"devskyy_{k}": v for k, v in results["devskyy"].items()},
                **{f"{PEERS[store]}_{k}": v for k, v in results["peer"].items()},
                "ratio": round(results["devskyy"]["rps"] / results["peer"]["rps"], 2),
                "ratio_by_round": [
                    round(d["requests"] / d["elapsed"] / (p["requests"] / p["elapsed"]), 2)
                    for d, p in zip(runs["devskyy"], runs["peer"], strict=True)
                ],
                "max_loop_blocked_ms": blocked,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    shutil.rmtree(data, ignore_errors=True)
    if store == "postgresql":
        asyncio.run(_drop_schemas(schema, f"{schema}_peer"))
    return rows


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    process.wait(timeout=30)


async def _drop_schemas(*names: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES)
    try:
        for name in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="turns each side takes")
    parser.add_argument("--only", default="", help="only endpoints whose name contains this")
    parser.add_argument("--pg-pool", type=int, default=0, help="devskyy's pool_size on PostgreSQL")
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default=default_client(),
        help="load generator (default: wrk if installed)",
    )
    args = parser.parse_args()
    for store in args.stores.split(","):
        measure(args, store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
