"""The browser client: served by the server, and its logic under Node's test runner."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import ClientFactory, require_binary

ROOT = Path(__file__).resolve().parents[1]


async def test_served_as_javascript_without_auth(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.get("/static/devskyy-ws.js")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/javascript")
    body = await resp.text()
    assert "class Channel" in body and "createWebSocketWithReconnect" in body
    for bad in ("/static/..%2Fapp.py", "/static/.hidden", "/static/nope.js"):
        assert (await client.get(bad)).status == 404


def test_reconnect_keepalive_and_resume_logic_under_node() -> None:
    node = require_binary("node")
    out = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "js")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# fail 0" in out.stdout
    assert "# pass 9" in out.stdout
