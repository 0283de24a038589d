#!/usr/bin/env python3
"""A/B of one REST endpoint: servers built from several source trees take turns.

    git worktree add /tmp/before HEAD~1
    python scripts/bench_ab.py before=/tmp/before after=. [--rounds 8] [--seconds 3]
                               [--path /api/v1/tasks] [--tasks 100000]

On these shared machines the speed drifts by 10-30% between minutes, more than most
single changes are worth, so two separate benchmark runs cannot tell a change from the
drift. Here every tree's server (a fresh data dir each) serves the same load one after
another, round after round; each round's ratio to the first tree is read from runs
seconds apart, and the medians are reported beside
each server's CPU per request (from /proc). The load is loadgen.py's (wrk if installed):
32 keep-alive connections from a separate process, POST with a small task body, GET
otherwise. `--tasks N` fills each data dir with N stored tasks first, as bench_rest.py
does, for the reads whose cost depends on the table.
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
from pathlib import Path
from typing import Any

from bench_rest import TASK_BODY, fill_devskyy
from benchproc import ROOT, cpu_seconds, free_port, mint_token, wait_healthy
from loadgen import default_client, run_load

POST_PATH = "/api/v1/tasks"  # POSTed with TASK_BODY; any other path is a GET
SCRATCH: list[Path] = []  # data dirs, removed at the end


def start(label: str, tree: Path, tasks: int) -> tuple[str, int, str, subprocess.Popen[bytes]]:
    """`tree`'s server on a free port with a fresh data dir (holding `tasks` stored
    tasks), and a token for it."""
    data, port = Path(tempfile.mkdtemp(prefix=f"devskyy-ab-{label}-")), free_port()
    SCRATCH.append(data)
    if tasks:
        asyncio.run(fill_devskyy(f"sqlite:///{data / 'devskyy.sqlite3'}", tasks))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    flags = ["--rate-limit", "0", "--log-level", "WARNING", "--metrics-interval", "3600"]
    command = [sys.executable, "-m", "devskyy_ws", "--port", str(port), "--data-dir", str(data)]
    server = subprocess.Popen(
        [*command, *flags], cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_healthy(port)
    return label, port, mint_token(data, "ab"), server


def turn(
    port: int, token: str, pid: int, path: str, seconds: float, client: str
) -> tuple[float, float]:
    """One load run after a warm-up: (requests/s, server CPU microseconds per request)."""
    post = path == POST_PATH

    def load(length: float) -> dict[str, Any]:
        return run_load(
            f"http://127.0.0.1:{port}{path}",
            "POST" if post else "GET",
            seconds=length,
            concurrency=32,
            headers={"Authorization": f"Bearer {token}"},
            body=TASK_BODY if post else None,
            client=client,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    load(1.0)  # warm-up, not counted
    cpu0 = cpu_seconds(pid)
    out = load(seconds)
    cpu = cpu_seconds(pid) - cpu0
    if out["errors"]:
        raise SystemExit(f"{out['errors']} requests failed on port {port}")
    return out["requests"] / out["elapsed"], cpu / out["requests"] * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="+", help="label=path of a source tree")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--path", default="/api/v1/tasks")
    parser.add_argument("--tasks", type=int, default=0, help="stored tasks in each data dir")
    parser.add_argument("--client", choices=["wrk", "python"], default=default_client())
    args = parser.parse_args()
    specs = [spec.split("=", 1) for spec in args.trees]
    if any(len(spec) != 2 for spec in specs):
        parser.error("each tree is label=path")
    servers = [start(label, Path(path).resolve(), args.tasks) for label, path in specs]
    rows: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in servers}
    try:
        for n in range(args.rounds):
            for label, port, token, server in servers:
                rows[label].append(
                    turn(port, token, server.pid, args.path, args.seconds, args.client)
                )
            line = "  ".join(f"{k} {v[-1][0]:,.0f}/s {v[-1][1]:.0f}us" for k, v in rows.items())
            print(f"round {n + 1}: {line}", flush=True)
    finally:
        for *_, server in servers:
            server.terminate()
            server.wait(timeout=30)
        for scratch in SCRATCH:
            shutil.rmtree(scratch, ignore_errors=True)
    first = servers[0][0]
    for label, runs in rows.items():
        to_first = [r[0] / f[0] for r, f in zip(runs, rows[first], strict=True)]
        print(
            json.dumps(
                {
                    "tree": label,
                    "median_rps": round(statistics.median(r[0] for r in runs)),
                    "median_cpu_us_per_request": round(statistics.median(r[1] for r in runs), 1),
                    f"ratio_to_{first}": round(statistics.median(to_first), 3),
                    "ratio_by_round": [round(x, 2) for x in to_first],
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
