"""The README's Python snippet, run as written against a real server (port swapped)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from .readme_snippets import snippet
from .server_process import ServerProcess


async def test_python_client_snippet_runs(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    await asyncio.to_thread(server.start)
    code = snippet("python-client").replace("http://127.0.0.1:8000", server.base)
    (tmp_path / "snippet.py").write_text(code)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(tmp_path / "snippet.py"), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert first.decode().startswith("subscribed")
        token = await asyncio.to_thread(server.token, "write")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            await http.post(
                f"{server.base}/api/v1/tasks",
                json={"agentType": "support", "prompt": "filtered out"},
            )
            await http.post(
                f"{server.base}/api/v1/tasks", json={"agentType": "commerce", "prompt": "wanted"}
            )
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert line.decode().split() == ["task_update", "pending"]
    finally:
        proc.kill()
        await proc.wait()
        assert server.terminate() == 0
