"""What the benchmark and soak scripts share: ports, a server's CPU and memory, tokens.

Linux only (/proc), loopback only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "cpu_seconds",
    "fetch",
    "free_port",
    "mint_token",
    "rss_mb",
    "start_server",
    "stored_tasks",
    "wait_healthy",
]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of the children it has now (a peer's workers count as
    the peer's)."""
    return _own_cpu(pid) + sum(_own_cpu(child) for child in _children(pid))


def _own_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a child that ended between the listing and the read
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Direct children, from /proc (a kernel without CONFIG_PROC_CHILDREN lists none)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that ended, or no such file on this kernel
            continue
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def mint_token(data_dir: Path, sub: str, scope: str = "write") -> str:
    """A token from the server's own command, signed with the data dir's secret."""
    command = [sys.executable, "-m", "devskyy_ws", "token", "--sub", sub, "--scope", scope]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*command, "--data-dir", str(data_dir)], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def fetch(port: int, token: str, path: str) -> bytes:
    """GET `path` from the server on `port` with a bearer token."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return bytes(resp.read())


def wait_healthy(port: int, tries: int = 100) -> None:
    """Until the server on `port` answers /health (10 s at most), then go on either way:
    the first request's error tells more than a timeout here would."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def start_server(port: int, data_dir: Path, *flags: str) -> subprocess.Popen[bytes]:
    """`python -m devskyy_ws` from this checkout on `port`, answering /health on return."""
    command = [sys.executable, "-m", "devskyy_ws", "--port", str(port), "--data-dir"]
    server = subprocess.Popen(
        [*command, str(data_dir), *flags],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wait_healthy(port)
    return server


def stored_tasks(count: int) -> Iterator[dict[str, Any]]:
    """The REST benchmark's stored tasks, as devskyy_ws and its peers are filled."""
    agents = ["commerce", "creative", "marketing", "support", "operations", "analytics"]
    statuses = ["completed", "completed", "completed", "failed", "cancelled"]
    base = datetime.now(UTC) - timedelta(days=30)
    for i in range(count):
        yield {
            "task_id": f"task-{i:012x}",
            "agent_type": agents[i % 6],
            "prompt": f"bench prompt {i}",
            "status": statuses[i % 5],
            "created_at": base + timedelta(seconds=i * 10),
            "technique_used": "chain_of_thought",
            "category": "analysis",
            "result": "done",
            "progress": 100.0,
            "latency_ms": 100.0 + i % 50,
        }
