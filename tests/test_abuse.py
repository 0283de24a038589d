"""Abuse: connection churn, a ping flood, a 1 GB frame, slowloris; others keep receiving,
and file descriptors and memory return to baseline afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from pathlib import Path

import aiohttp

from .server_process import ServerProcess
from .wsraw import client_frame, open_raw

CHURN = int(os.environ.get("DEVSKYY_ABUSE_CHURN", "10000"))


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _settle(pid: int, baseline: int) -> int:
    """File descriptors, once closed sockets have been reaped (bounded wait)."""
    for _ in range(200):
        if _fds(pid) <= baseline:
            break
        await asyncio.sleep(0.05)
    return _fds(pid)


async def test_abuse_leaves_others_served_and_resources_at_baseline(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data",
        "--handshake-rate",
        "0",
        "--max-connections-per-ip",
        "100000",
        "--send-buffer",
        "65536",
        "--rate-limit",
        "0",
        "--log-level",
        "WARNING",
    )
    await asyncio.to_thread(server.start)
    assert server.proc is not None
    pid = server.proc.pid
    token = await asyncio.to_thread(server.token, "write")
    ws_base = server.base.replace("http", "ws")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            watcher = await http.ws_connect(f"{ws_base}/api/ws/tasks")
            async with http.get(f"{server.base}/health") as resp:  # the session's keep-alive socket
                assert resp.status == 200
            base_fds, base_rss = _fds(pid), _rss_mb(pid)
            base_links = {
                f: os.readlink(f"/proc/{pid}/fd/{f}") for f in os.listdir(f"/proc/{pid}/fd")
            }
            received: list[int] = []

            async def watch() -> None:
                while True:
                    msg = await watcher.receive(timeout=60)
                    assert msg.type is aiohttp.WSMsgType.TEXT, msg
                    doc = json.loads(msg.data)
                    if doc["type"] == "task_update":
                        received.append(int(doc["progress"]))
                        if doc["progress"] == 99:
                            return

            watching = asyncio.create_task(watch())

            async def publish(n: int) -> None:
                body = {
                    "channel": "tasks",
                    "message": {
                        "type": "task_update",
                        "task_id": "abuse",
                        "status": "running",
                        "progress": n,
                    },
                }
                async with http.post(f"{server.base}/api/v1/events", json=body) as resp:
                    assert resp.status == 202

            # 1. Connection churn: open and drop abruptly (RST), many at once.
            async def churn(count: int) -> None:
                for _ in range(count):
                    try:
                        _, writer, _ = await open_raw("127.0.0.1", server.port, "/api/ws/agents")
                    except (OSError, asyncio.IncompleteReadError):
                        continue
                    writer.transport.abort()

            workers = [asyncio.create_task(churn(CHURN // 100)) for _ in range(100)]
            for n in range(0, 40):
                await publish(n)
                await asyncio.sleep(0.01)
            await asyncio.gather(*workers)

            # 2. A ping flood from a client that never reads: cut as a slow consumer.
            _, flood, _ = await open_raw("127.0.0.1", server.port, "/api/ws/agents", rcvbuf=4096)
            ping = client_frame(b'{"type":"ping"}')
            for _ in range(20_000):
                if flood.transport.is_closing():
                    break
                flood.write(ping)
                if flood.transport.get_write_buffer_size() > 1 << 20:
                    break
                await asyncio.sleep(0)
            flood.transport.abort()
            for n in range(40, 60):
                await publish(n)

            # 3. One frame announcing 1 GB: refused after 64 KiB, nothing like 1 GB is read.
            reader, giant, _ = await open_raw("127.0.0.1", server.port, "/api/ws/agents")
            answer = asyncio.create_task(reader.read(64))
            giant.write(struct.pack("!BBQ", 0x81, 0x80 | 127, 1 << 30) + os.urandom(4))
            sent = 0
            chunk = b"x" * 65536
            for _ in range(64):  # at most 4 MiB of the announced 1 GiB
                if answer.done():
                    break
                try:
                    giant.write(chunk)
                    await giant.drain()
                except (ConnectionError, OSError):
                    break
                sent += len(chunk)
            try:
                data = await asyncio.wait_for(answer, 5)
            except ConnectionError:
                data = b""  # the server's RST overtook its 1009 close frame: still refused
            giant.transport.abort()
            if data:
                assert data[0] == 0x88 and struct.unpack("!H", data[2:4])[0] == 1009
            assert (
                sent < 4 << 20
            )  # refused long before 1 GiB (the 1009 itself: test_hub_functional)
            for n in range(60, 80):
                await publish(n)

            # 4. Slowloris: 300 half-sent requests, a byte at a time; the server keeps serving.
            slow = []
            for _ in range(300):
                _, w = await asyncio.open_connection("127.0.0.1", server.port)
                w.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-a: ")
                slow.append(w)
            for _ in range(3):
                for w in slow:
                    w.write(b"a")
                async with http.get(f"{server.base}/health") as resp:
                    assert resp.status == 200
                await asyncio.sleep(0.2)
            for w in slow:
                w.transport.abort()
            for n in range(80, 100):
                await publish(n)

            await asyncio.wait_for(watching, 30)
            assert received == list(range(100))  # every message, in order, throughout
            after = await _settle(pid, base_fds)
            links = {f: os.readlink(f"/proc/{pid}/fd/{f}") for f in os.listdir(f"/proc/{pid}/fd")}
            assert after <= base_fds, {f: v for f, v in links.items() if base_links.get(f) != v}
            grown = _rss_mb(pid) - base_rss
            print(  # figures for docs/reliability.md (pytest -s)
                f"\nabuse: churned {CHURN} connections, flood + 1 GiB frame + 300 slowloris; "
                f"fds {base_fds} -> {after}; RSS {base_rss:.1f} -> {_rss_mb(pid):.1f} MB; "
                f"watcher got {len(received)}/100 in order"
            )
            assert grown < 60, f"RSS grew by {grown:.1f} MB"
            await watcher.close()
    finally:
        assert server.terminate() == 0
