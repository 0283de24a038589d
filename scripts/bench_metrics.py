#!/usr/bin/env python3
"""What metrics collection costs: server CPU with and without 1,000 idle metrics clients.

    python scripts/bench_metrics.py [--seconds 30] [--clients 1000] [--interval 5]

Starts `python -m devskyy_ws` (metrics every --interval seconds), measures its CPU
seconds over a window with no clients, then with N clients idle on /api/ws/metrics
(they receive every metrics_update), and reports both as a share of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchproc import ROOT, cpu_seconds, free_port, rss_mb


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devskyy_ws",
            "--port",
            str(port),
            "--data-dir",
            tempfile.mkdtemp(),
            "--metrics-interval",
            str(args.interval),
            "--handshake-rate",
            "0",
            "--max-connections-per-ip",
            "100000",
            "--log-level",
            "WARNING",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stderr is not None
    while "listening on" not in server.stderr.readline():
        pass
    try:
        time.sleep(1)
        cpu0 = cpu_seconds(server.pid)
        time.sleep(args.seconds)
        idle = cpu_seconds(server.pid) - cpu0
        client = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "bench_ws.py"),
                "client",
                str(port),
                str(args.clients),
                "--channel",
                "metrics",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert client.stdout is not None and client.stdin is not None
        connected = json.loads(client.stdout.readline())["connected"]
        time.sleep(1)
        cpu0 = cpu_seconds(server.pid)
        client.stdin.write("reset\n")
        client.stdin.flush()
        client.stdout.readline()
        time.sleep(args.seconds)
        loaded = cpu_seconds(server.pid) - cpu0
        client.stdin.write("wait 0 1\n")
        client.stdin.flush()
        frames = json.loads(client.stdout.readline())["frames"]
        rss = rss_mb(server.pid)
        client.kill()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "interval_s": args.interval,
                "window_s": args.seconds,
                "cpu_share_no_clients": round(idle / args.seconds, 4),
                "cpu_share_with_clients": round(loaded / args.seconds, 4),
                "clients": connected,
                "metrics_messages_delivered": frames,
                "rss_mb_with_clients": round(rss, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
