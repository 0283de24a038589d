"""Behind real nginx: REST with auth, every channel over ws:// and wss://, idle sockets
kept open by keepalives, the client address from a trusted proxy, the Origin check."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import aiohttp
import pytest

from .nginx import Nginx, nginx_binary
from .server_process import ServerProcess

CHANNELS = ("agents", "round_table", "tasks", "3d_pipeline", "metrics")


@pytest.fixture
def insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _pong(
    http: aiohttp.ClientSession, url: str, context: ssl.SSLContext | bool
) -> dict[str, object]:
    async with http.ws_connect(url, ssl=context) as ws:
        await ws.send_json({"type": "ping"})
        doc: dict[str, object] = json.loads((await ws.receive(timeout=5)).data)
        return doc


async def test_through_nginx(tmp_path: Path, insecure: ssl.SSLContext) -> None:
    nginx_binary()
    server = ServerProcess(
        tmp_path / "data",
        "--trusted-proxies",
        "127.0.0.2/32",
        "--keepalive",
        "0.3",
        "--rate-limit",
        "0.2",
        "--rate-burst",
        "2",
    )
    await asyncio.to_thread(server.start)
    proxy = Nginx(tmp_path / "nginx", [server.port], read_timeout="1s").start()
    http_base = f"http://127.0.0.1:{proxy.http_port}"
    https_base = f"https://127.0.0.1:{proxy.https_port}"
    try:
        async with aiohttp.ClientSession() as http:
            # REST with auth, over plain HTTP and over TLS.
            for base, sub in ((http_base, "a"), (https_base, "b")):
                token = await asyncio.to_thread(server.token, "read", sub)
                async with http.get(
                    f"{base}/api/v1/agents",
                    headers={"Authorization": f"Bearer {token}"},
                    ssl=insecure,
                ) as resp:
                    assert resp.status == 200 and len(await resp.json()) == 6
                async with http.get(f"{base}/api/v1/agents", ssl=insecure) as resp:
                    assert resp.status == 401

            # Every channel over ws:// and wss://, and 4004 still visible.
            for base in (http_base.replace("http", "ws"), https_base.replace("https", "wss")):
                for channel in CHANNELS:
                    assert (await _pong(http, f"{base}/api/ws/{channel}", insecure))[
                        "type"
                    ] == "pong"
                async with http.ws_connect(f"{base}/api/ws/nope", ssl=insecure) as ws:
                    msg = await ws.receive(timeout=5)
                    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4004

            # Idle for longer than proxy_read_timeout (1 s): keepalives hold the socket open.
            async with http.ws_connect(
                f"{https_base.replace('https', 'wss')}/api/ws/agents", ssl=insecure
            ) as ws:
                kinds = []
                loop = asyncio.get_running_loop()
                until = loop.time() + 2.5
                while loop.time() < until:
                    msg = await ws.receive(timeout=2)
                    assert msg.type is aiohttp.WSMsgType.TEXT, msg
                    kinds.append(json.loads(msg.data)["type"])
                assert kinds and set(kinds) == {"keepalive"}
                await ws.send_json({"type": "ping"})
                assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"

            # nginx (connecting from 127.0.0.2, trusted) reports each client in
            # X-Forwarded-For; clients on 127.0.0.3 and .4 get their own buckets and log lines.
            async def statuses(
                local: str, base: str, n: int, headers: dict[str, str] | None = None
            ) -> list[int]:
                connector = aiohttp.TCPConnector(local_addr=(local, 0))
                async with aiohttp.ClientSession(connector=connector) as client:
                    out = []
                    for _ in range(n):
                        async with client.get(
                            f"{base}/api/v1/tasks", headers=headers or {}
                        ) as resp:
                            out.append(resp.status)
                    return out

            assert await statuses("127.0.0.3", http_base, 3) == [401, 401, 429]
            assert await statuses("127.0.0.4", http_base, 1) == [401]
            # Straight to the server, from an untrusted peer, a forged header changes nothing.
            forged = {"X-Forwarded-For": "127.0.0.3"}
            assert await statuses("127.0.0.5", server.base, 1, forged) == [401]
            log = server.log()
            assert "GET /api/v1/tasks 429 " in log and log.count("ms 127.0.0.3\n") == 3
            assert log.count("ms 127.0.0.4\n") == 1 and log.count("ms 127.0.0.5\n") == 1
            assert "ms 127.0.0.2\n" not in log  # nginx itself never shows up as the client

            # The Origin check still applies behind the proxy.
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(
                    f"{http_base.replace('http', 'ws')}/api/ws/agents",
                    headers={"Origin": "https://evil.com"},
                )
            assert info.value.status == 403
            ok = await http.ws_connect(
                f"{http_base.replace('http', 'ws')}/api/ws/agents",
                headers={"Origin": "http://localhost:3000"},
            )
            await ok.close()
            # The frontend's path, /ws/{channel}, passes the proxy as a WebSocket too.
            frontend = await http.ws_connect(f"{http_base.replace('http', 'ws')}/ws/agents")
            await frontend.send_json({"type": "get_agents"})
            snapshot = await frontend.receive_json(timeout=10)
            assert snapshot["type"] == "snapshot" and snapshot["channel"] == "agents"
            await frontend.close()
    finally:
        proxy.stop()
        assert server.terminate() == 0


async def test_two_workers_share_a_port_with_reuse_port(tmp_path: Path) -> None:
    """Two workers on one port with --reuse-port; the kernel spreads connections."""
    nginx_binary()
    first = ServerProcess(tmp_path / "data", "--reuse-port", "true")
    await asyncio.to_thread(first.start)
    second = ServerProcess(tmp_path / "data", "--reuse-port", "true", port=first.port)
    await asyncio.to_thread(second.start)
    try:
        assert first.proc is not None and second.proc is not None
        assert first.proc.poll() is None and second.proc.poll() is None
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            for _ in range(40):
                async with http.get(f"{first.base}/health") as resp:
                    assert resp.status == 200
    finally:
        assert first.terminate() == 0
        assert second.terminate() == 0
    served = [s.log().count("GET /health 200") for s in (first, second)]
    assert all(n >= 1 for n in served), served


async def test_nginx_upstream_balances_two_ports(tmp_path: Path) -> None:
    nginx_binary()
    servers = [
        ServerProcess(tmp_path / f"data{i}", "--trusted-proxies", "127.0.0.2/32") for i in range(2)
    ]
    for server in servers:
        await asyncio.to_thread(server.start)
    proxy = Nginx(tmp_path / "nginx", [s.port for s in servers]).start()
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(10):
                async with http.get(f"http://127.0.0.1:{proxy.http_port}/health") as resp:
                    assert resp.status == 200
    finally:
        proxy.stop()
        for server in servers:
            assert server.terminate() == 0
    assert [s.log().count("GET /health 200") >= 3 for s in servers] == [True, True]
