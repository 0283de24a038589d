#!/usr/bin/env python3
"""The HTTP load the REST benchmarks drive: wrk where the machine has it, else Python.

    python scripts/loadgen.py '{"url": ..., "method": "GET", "seconds": 5, ...}'

Which client drives the load decides what the floor measures. Measured on the 2-core
machine of 2026-12-01 against the floor (aiohttp's bare handler, ~60 µs of server CPU
per request): the Python client (aiohttp, 32 keep-alive connections) spent 97-117 µs of
its own CPU per request and wrk (Debian's package `wrk`, one thread) 22 µs. With the
Python client the floor served ~8,400 POSTs/s on about half a core: the client, not the
floor, set the pace, and every ratio to that floor was flattered. wrk drove the same
floor to 12,500-26,000 requests/s on a whole core, so the servers set the pace.

Both clients run closed-loop (each connection sends its next request when the answer
arrives) and report one shape: requests, elapsed seconds, errors (failed connections
and answers of 400 or more), and p50/p99 latency in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

__all__ = ["default_client", "run_load"]

WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "elapsed_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""
"""wrk's summary as one JSON line (wrk counts answers of 400 and more in errors.status)."""


def default_client() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def run_load(
    url: str,
    method: str,
    *,
    seconds: float,
    concurrency: int,
    headers: dict[str, str],
    body: Any = None,
    client: str = "wrk",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One closed-loop load run from a separate process, nothing discarded.

    Returns: {"requests", "elapsed", "errors", "p50_ms", "p99_ms"}.
    """
    if client == "wrk":
        return _wrk(url, method, seconds, concurrency, headers, body)
    spec = {
        "url": url,
        "method": method,
        "seconds": seconds,
        "concurrency": concurrency,
        "headers": headers,
        "body": body,
    }
    done = subprocess.run(
        [sys.executable, __file__, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _wrk(
    url: str,
    method: str,
    seconds: float,
    concurrency: int,
    headers: dict[str, str],
    body: Any,
) -> dict[str, Any]:
    script = f"wrk.method = {json.dumps(method)}\n"
    if body is not None:
        script += f"wrk.body = [==[{json.dumps(body)}]==]\n"
        script += 'wrk.headers["Content-Type"] = "application/json"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script + WRK_REPORT)
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s"]
        command += ["-s", lua.name, "--timeout", "10s"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    finally:
        os.unlink(lua.name)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "requests": report["requests"],
        "elapsed": report["elapsed_us"] / 1e6,
        "errors": report["errors"],
        "p50_ms": report["p50_us"] / 1000.0,
        "p99_ms": report["p99_us"] / 1000.0,
    }


async def _python_load(
    url: str, method: str, seconds: float, concurrency: int, headers: dict[str, str], body: Any
) -> dict[str, Any]:
    """`concurrency` aiohttp keep-alive clients for `seconds`."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def worker(deadline: float) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.request(method, url, json=body) as resp:
                    await resp.read()
                    errors += resp.status >= 400
                latencies.append((time.perf_counter() - started) * 1000.0)

        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "elapsed": elapsed,
        "errors": errors,
        "p50_ms": statistics.median(latencies) if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
    }


def main() -> int:
    from devskyy_ws.cli import new_event_loop

    spec = json.loads(sys.argv[1])
    with asyncio.Runner(loop_factory=lambda: new_event_loop("auto")) as runner:
        print(json.dumps(runner.run(_python_load(**spec))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
