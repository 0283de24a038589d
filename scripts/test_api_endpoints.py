#!/usr/bin/env python3
"""Smoke test of a live devskyy_ws deployment: every REST endpoint and every channel.

    python scripts/test_api_endpoints.py --host H --port P [--token T | --data-dir D] [--tls]

One line per check (PASS/FAIL, expected and seen, latency), then `N passed, N failed`;
the exit code is non-zero on any failure. Work it creates is tagged `smoke_test` and
its prompts start with "[smoke]", so it can be told apart from real work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from devskyy_ws.client import ChannelClient, ChannelClosed

CHANNELS = ("agents", "round_table", "tasks", "3d_pipeline", "metrics")
TAG = {"smoke_test": True}


class Smoke:
    def __init__(
        self, base: str, token: str, ssl_context: ssl.SSLContext | bool, metrics_wait: float
    ) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ssl = ssl_context
        self.metrics_wait = metrics_wait
        self.passed = 0
        self.failed = 0
        self.http: aiohttp.ClientSession | None = None

    def report(self, ok: bool, name: str, expected: str, seen: str, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000.0
        print(
            f"{'PASS' if ok else 'FAIL'}  {name}  expected {expected}; saw {seen}  ({ms:.1f} ms)",
            flush=True,
        )
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    async def call(
        self,
        method: str,
        path: str,
        status: int | tuple[int, ...],
        check: Callable[[Any], bool] = lambda _: True,
        describe: str = "",
        body: Any = None,
        auth: bool = True,
    ) -> Any:
        started = time.perf_counter()
        statuses = status if isinstance(status, tuple) else (status,)
        expected = f"{'/'.join(map(str, statuses))}{' ' + describe if describe else ''}"
        assert self.http is not None
        try:
            async with self.http.request(
                method,
                self.base + path,
                json=body,
                headers=self.headers if auth else {},
                ssl=self.ssl,
            ) as resp:
                raw = await resp.read()
                try:
                    doc = json.loads(raw) if raw else None
                except ValueError:
                    doc = None
                try:
                    ok = resp.status in statuses and check(doc)
                except (KeyError, TypeError, IndexError, AttributeError):
                    ok = False
                seen = f"{resp.status} {json.dumps(doc)[:120] if doc is not None else raw[:60]!r}"
                self.report(ok, f"{method} {path}", expected, seen, started)
                return doc if ok else None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.report(
                False, f"{method} {path}", expected, f"{type(exc).__name__}: {exc}", started
            )
            return None

    async def check(
        self, name: str, expected: str, probe: Callable[[], Awaitable[str | None]]
    ) -> None:
        """`probe` returns what it saw, or None when it saw nothing within its time."""
        started = time.perf_counter()
        try:
            seen = await probe()
        except (ChannelClosed, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.report(False, name, expected, f"{type(exc).__name__}: {exc}", started)
            return
        except Exception as exc:  # a smoke test reports, it never crashes
            self.report(False, name, expected, f"unexpected {type(exc).__name__}: {exc}", started)
            return
        self.report(seen is not None, name, expected, seen or "nothing in time", started)


async def _until(client: ChannelClient, want: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            message = await client.next(timeout=left)
        except TimeoutError:
            return None
        if want(message):
            return message


async def run(args: argparse.Namespace, token: str) -> int:
    scheme = "https" if args.tls else "http"
    base = f"{scheme}://{args.host}:{args.port}{args.prefix}"
    ssl_context: ssl.SSLContext | bool = True
    if args.tls and args.insecure:
        ssl_context = False
    smoke = Smoke(base, token, ssl_context, args.metrics_wait)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        smoke.http = http
        # Channels first, so the updates that REST work triggers are seen.
        clients: dict[str, ChannelClient] = {}
        for channel in CHANNELS:
            client = ChannelClient(base, channel, max_retries=2, base_delay=0.2, ssl=ssl_context)

            async def connect(c: ChannelClient = client) -> str:
                await c.connect(timeout=5)
                rtt = await c.ping(timeout=1.0)
                return f"pong in {rtt * 1000:.1f} ms"

            await smoke.check(f"WS /api/ws/{channel} connect + ping", "pong within 1 s", connect)
            clients[channel] = client

        await smoke.call(
            "GET", "/health", 200, lambda d: d["status"] == "ok", "status ok", auth=False
        )
        await smoke.call(
            "GET", "/api/v1/health", 200, lambda d: d["status"] == "ok", "status ok", auth=False
        )
        await smoke.call(
            "GET", "/api/v1/auth/me", 200, lambda d: bool(d["sub"]), "the token's claims"
        )
        await smoke.call("GET", "/api/v1/agents", 200, lambda d: len(d) == 6, "six agents")
        await smoke.call(
            "GET",
            "/api/v1/agents/commerce",
            200,
            lambda d: d["id"] == "commerce-001",
            "commerce-001",
        )
        await smoke.call(
            "GET", "/api/v1/agents/commerce/tools", 200, lambda d: isinstance(d, list), "a list"
        )
        await smoke.call(
            "GET", "/api/v1/agents/commerce/stats", 200, lambda d: "tasksCompleted" in d, "stats"
        )
        executed = await smoke.call(
            "POST",
            "/api/v1/agents/commerce/execute",
            202,
            lambda d: d["status"] == "started",
            "status started",
            body={
                "task": "[smoke] Summarise pricing trends",
                "parameters": TAG,
                "use_round_table": False,
            },
        )
        task_id = executed["task_id"] if executed else "(execute failed)"

        async def task_update() -> str | None:
            m = await _until(
                clients["tasks"],
                lambda m: (
                    getattr(m, "task_id", None) == task_id
                    and getattr(m, "status", "") == "completed"
                ),
                20,
            )
            return f"task_update {m.status} {m.progress}%" if m else None

        async def agent_update() -> str | None:
            m = await _until(
                clients["agents"], lambda m: getattr(m, "agent_id", None) == "commerce-001", 20
            )
            return f"agent_status_update {m.status}" if m else None

        await smoke.check("WS tasks: update after execute", "task_update completed", task_update)
        await smoke.check("WS agents: update after execute", "agent_status_update", agent_update)
        await smoke.call(
            "POST",
            "/api/v1/agents/support/stop",
            200,
            lambda d: d["status"] == "stopped",
            "stopped",
        )
        await smoke.call(
            "POST",
            "/api/v1/agents/support/start",
            200,
            lambda d: d["status"] != "stopped",
            "started",
        )
        await smoke.call(
            "POST",
            "/api/v1/agents/support/learn",
            202,
            lambda d: d["type"] == "support",
            "learning",
        )

        await smoke.call(
            "GET", "/api/v1/tasks?limit=5", 200, lambda d: isinstance(d, list), "a list"
        )
        submitted = await smoke.call(
            "POST",
            "/api/v1/tasks",
            201,
            lambda d: d["status"] == "pending",
            "status pending",
            body={
                "agentType": "analytics",
                "prompt": "[smoke] Analyze a KPI",
                "parameters": TAG,
                "useRoundTable": False,
            },
        )
        if submitted:
            await smoke.call(
                "GET",
                f"/api/v1/tasks/{submitted['taskId']}",
                200,
                lambda d: d["taskId"] == submitted["taskId"],
                "the task",
            )
            await smoke.call(
                "POST",
                f"/api/v1/tasks/{submitted['taskId']}/cancel",
                (200, 409),
                lambda d: d.get("status") == "cancelled" or d.get("error") == "task_finished",
                "cancelled (or 409 if it already finished)",
            )

        providers = await smoke.call(
            "GET", "/api/v1/round-table/providers", 200, lambda d: len(d) >= 2, "2+ providers"
        )
        names = [p["name"] for p in providers if p["enabled"]][:2] if providers else None
        competition = await smoke.call(
            "POST",
            "/api/v1/round-table/compete",
            200,
            lambda d: d["status"] == "completed",
            "status completed",
            body={
                "prompt": "[smoke] Name a luxury rose collection",
                "task_id": None,
                "providers": names,
            },
        )
        if competition:
            cid = competition["competition_id"]

            async def competition_update() -> str | None:
                m = await _until(
                    clients["round_table"],
                    lambda m: getattr(m, "competition_id", None) == cid and m.stage == "completed",
                    20,
                )
                return f"competition_update {m.stage}" if m else None

            await smoke.check(
                "WS round_table: update after compete",
                "competition_update completed",
                competition_update,
            )
            await smoke.call(
                "GET",
                f"/api/v1/round-table/{cid}",
                200,
                lambda d: d["competition_id"] == cid,
                "the record",
            )
        await smoke.call(
            "GET",
            "/api/v1/round-table?limit=5&offset=0",
            200,
            lambda d: "items" in d and "total" in d,
            "a page",
        )
        await smoke.call(
            "GET", "/api/v1/round-table/stats", 200, lambda d: isinstance(d, list), "a list"
        )
        await smoke.call(
            "GET",
            "/api/v1/monitoring/metrics?metrics=health,performance&time_range=1h",
            200,
            lambda d: "health" in d and "websocket" in d,
            "health and websocket groups",
        )

        pipeline = await smoke.call(
            "POST",
            "/api/v1/3d-pipeline",
            202,
            lambda d: d["pipeline_id"].startswith("3d-"),
            "a pipeline",
            body={"prompt": "[smoke] polished silver ring", "format": "glb", "quality": "preview"},
        )
        if pipeline:
            pid = pipeline["pipeline_id"]

            async def pipeline_update() -> str | None:
                m = await _until(
                    clients["3d_pipeline"],
                    lambda m: (
                        getattr(m, "pipeline_id", None) == pid
                        and m.stage in ("completed", "failed")
                    ),
                    60,
                )
                return (
                    f"pipeline_update {m.stage} {m.progress}%"
                    if m and m.stage == "completed"
                    else None
                )

            await smoke.check(
                "WS 3d_pipeline: update after start", "pipeline_update completed", pipeline_update
            )
            await smoke.call(
                "GET",
                f"/api/v1/3d-pipeline/{pid}",
                200,
                lambda d: d["stage"] == "completed",
                "completed",
            )
            await smoke.call(
                "GET", "/api/v1/3d-pipeline?limit=5", 200, lambda d: d["total"] >= 1, "a page"
            )

        async def metrics_update() -> str | None:
            m = await _until(
                clients["metrics"],
                lambda m: getattr(m, "type", None) == "metrics_update",
                smoke.metrics_wait,
            )
            return f"metrics_update cpu={m.metrics.cpu_percent}" if m else None

        await smoke.check(
            "WS metrics: periodic update",
            f"metrics_update within {smoke.metrics_wait:g} s",
            metrics_update,
        )

        async def bad_channel() -> str | None:
            scheme_ws = "wss" if args.tls else "ws"
            url = f"{scheme_ws}://{args.host}:{args.port}{args.prefix}/api/ws/not-a-channel"
            async with http.ws_connect(url, ssl=ssl_context) as ws:
                msg = await ws.receive(timeout=5)
                return (
                    f"close {msg.data}"
                    if msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4004
                    else None
                )

        await smoke.check("WS /api/ws/not-a-channel", "close 4004", bad_channel)
        for client in clients.values():
            await client.close()
    print(f"{smoke.passed} passed, {smoke.failed} failed", flush=True)
    return 0 if smoke.failed == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--prefix", default="", help="mount prefix when embedded, e.g. /devskyy")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--token", help="a bearer token with the write scope")
    group.add_argument("--data-dir", help="mint a token from the server's data-dir secret")
    parser.add_argument("--tls", action="store_true", help="https:// and wss://")
    parser.add_argument("--insecure", action="store_true", help="accept a self-signed certificate")
    parser.add_argument(
        "--metrics-wait", type=float, default=12.0, help="seconds to wait for metrics"
    )
    args = parser.parse_args()
    token = args.token
    if token is None:
        from devskyy_ws.http.auth import JwtKeys
        from devskyy_ws.settings import Settings

        token = JwtKeys.from_settings(Settings(data_dir=args.data_dir or "devskyy-data")).mint(
            "smoke-test", "write", 600
        )
    return asyncio.run(run(args, token))


if __name__ == "__main__":
    sys.exit(main())
