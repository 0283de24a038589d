"""The smoke script against a real server (all pass) and a server missing a piece."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer

from devskyy_ws import Settings, create_app

from .server_process import ServerProcess

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "test_api_endpoints.py"


async def _run_script(*args: str) -> tuple[int, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), out.decode().splitlines()


async def test_all_checks_pass_against_a_real_server(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--metrics-interval", "0.5")
    await asyncio.to_thread(server.start)
    try:
        code, lines = await _run_script(
            "--port", str(server.port), "--data-dir", str(tmp_path / "data"), "--metrics-wait", "5"
        )
    finally:
        assert server.terminate() == 0
    assert code == 0, "\n".join(lines)
    assert lines[-1].endswith(" passed, 0 failed")
    assert int(lines[-1].split()[0]) >= 30
    assert all(line.startswith("PASS") for line in lines[:-1])
    names = "\n".join(lines)
    for channel in ("agents", "round_table", "tasks", "3d_pipeline", "metrics"):
        assert f"WS /api/ws/{channel} connect + ping" in names
    assert "close 4004" in names


async def test_a_missing_piece_fails_and_says_what(tmp_path: Path, settings: Settings) -> None:
    @web.middleware
    async def lose_stats(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.endswith("/round-table/stats"):
            return web.json_response({"error": "not_found", "message": "Gone."}, status=404)
        return await handler(request)

    parent = web.Application(middlewares=[lose_stats])
    settings = attrs.evolve(settings, jwt_secret=None)  # the script mints from the data dir
    parent.add_subapp("/devskyy", create_app(settings))
    server = TestServer(parent, host="127.0.0.1")
    await server.start_server()
    try:
        code, lines = await _run_script(
            "--port",
            str(server.port),
            "--prefix",
            "/devskyy",
            "--data-dir",
            str(settings.data_dir),
            "--metrics-wait",
            "0.2",
        )
    finally:
        await server.close()
    assert code == 1
    failures = [line for line in lines if line.startswith("FAIL")]
    assert any("GET /api/v1/round-table/stats" in f and "saw 404" in f for f in failures), (
        "\n".join(lines)
    )
    assert any("metrics_update" in f for f in failures)  # the interval here is an hour
    assert lines[-1] == f"{len(lines) - 1 - len(failures)} passed, {len(failures)} failed"
