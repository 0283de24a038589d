"""The DevSkyy frontend's compatibility suite (tests/frontend, Node with zod and ws)
against a live server process, as its dashboard would use it."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from .conftest import require, require_binary
from .server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "clients" / "typescript" / "node_modules"
TESTS = 11  # in tests/frontend/compat.test.js


async def test_the_frontend_suite_passes_against_a_live_server(tmp_path: Path) -> None:
    node = require_binary("node")
    require((MODULES / "zod").is_dir() and (MODULES / "ws").is_dir(), "run make node-deps")
    server = ServerProcess(tmp_path / "data", "--metrics-interval", "0.5")
    await asyncio.to_thread(server.start)
    try:
        token = await asyncio.to_thread(server.token, "admin", "dashboard")
        env = {**os.environ, "DEVSKYY_URL": server.base, "DEVSKYY_TOKEN": token}
        out = await asyncio.to_thread(
            subprocess.run,
            [node, "--test", str(ROOT / "tests" / "frontend")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )
    finally:
        await asyncio.to_thread(server.terminate)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    assert f"# pass {TESTS}" in out.stdout and "# skipped 0" in out.stdout, report
