"""Dead-peer checks: a peer still reading its backlog is alive though its pong is late;
a peer that takes nothing, or reads but never answers a ping, is still closed."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any

import pytest

from devskyy_ws import HUB_KEY
from devskyy_ws.channels.hub import Hub
from devskyy_ws.contract.messages import TaskUpdate
from devskyy_ws.http.liveness import peer_bytes_acked

from .conftest import ClientFactory
from .wsraw import client_frame, open_raw, read_frame

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="TCP_INFO's bytes_acked is Linux's"
)

HEARTBEAT = 0.4  # a ping 0.4 s after the peer's last frame, its pong due 0.2 s later
BACKLOG = 1500  # ~1.5 MB of ~1 KB updates: seconds for the slow reader below


async def _frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    opcode, _, payload = await read_frame(reader)
    return opcode, payload


async def _socket(make_client: ClientFactory) -> tuple[Hub, Any, Any]:
    """A raw socket with a tiny receive buffer, so the backlog stays on the server's side."""
    client = await make_client(heartbeat=HEARTBEAT, send_buffer_bytes=8 * 1024 * 1024)
    hub = client.app[HUB_KEY]
    port = client.server.port
    assert port is not None
    reader, writer, head = await open_raw(
        "127.0.0.1", port, "/api/ws/tasks", rcvbuf=4096, limit=4096
    )
    assert b"101" in head.split(b"\r\n")[0]
    await _until(lambda: len(hub.connections["tasks"]) == 1)
    return hub, reader, writer


async def _until(check: Any, limit: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _publish_backlog(hub: Hub) -> None:
    for n in range(BACKLOG):
        await hub.publish("tasks", TaskUpdate(task_id=f"t{n}", status="running", progress=n % 100,
                                              data={"pad": "x" * 900}))  # fmt: skip


@linux_only
async def test_a_slow_reader_behind_its_backlog_is_not_closed_as_dead(
    make_client: ClientFactory,
) -> None:
    hub, reader, writer = await _socket(make_client)
    await _publish_backlog(hub)
    seen: list[int] = []
    pings = 0
    taken = 0

    async def take() -> tuple[int, bytes]:
        """The next data frame; a ping is answered (late: it waited behind the backlog)."""
        nonlocal pings
        while True:
            opcode, payload = await asyncio.wait_for(_frame(reader), 10.0)
            assert opcode != 0x8, f"closed while reading: {payload[2:]!r}"
            if opcode != 0x9:
                return opcode, payload
            pings += 1
            writer.write(client_frame(payload, 0xA))

    while len(seen) < BACKLOG:  # ~8 KB per 10 ms: the backlog takes seconds
        opcode, payload = await take()
        if opcode == 0x1 and (doc := json.loads(payload))["type"] == "task_update":
            seen.append(int(doc["task_id"][1:]))
        taken += len(payload)
        if taken >= 8192:
            taken = 0
            await asyncio.sleep(0.01)
    assert seen == list(range(BACKLOG))
    assert len(hub.connections["tasks"]) == 1 and hub.stats["tasks"].slow_consumer_disconnects == 0
    await hub.publish("tasks", TaskUpdate(task_id="after", status="completed", progress=100))
    while json.loads((await take())[1]).get("task_id") != "after":
        pass  # still served after the backlog
    assert pings >= 1  # the pong for it came seconds after the 0.2 s it was due in
    writer.close()
    await writer.wait_closed()


async def test_a_peer_that_reads_nothing_and_never_pongs_is_closed_as_dead(
    make_client: ClientFactory,
) -> None:
    hub, _reader, writer = await _socket(make_client)
    await _publish_backlog(hub)
    await _until(lambda: not hub.connections["tasks"])
    assert hub.stats["tasks"].slow_consumer_disconnects == 0  # dead, not slow: no 4008
    writer.close()
    await writer.wait_closed()


async def test_a_peer_that_reads_but_never_pongs_is_closed_once_it_is_drained(
    make_client: ClientFactory,
) -> None:
    hub, reader, writer = await _socket(make_client)
    await _publish_backlog(hub)
    updates = 0

    async def read_to_the_end() -> None:
        nonlocal updates
        while True:
            opcode, payload = await asyncio.wait_for(_frame(reader), 10.0)
            updates += opcode == 0x1 and json.loads(payload)["type"] == "task_update"

    with pytest.raises(asyncio.IncompleteReadError):  # the server ends the stream
        await read_to_the_end()
    assert updates == BACKLOG  # what was sent before the verdict still arrived
    await _until(lambda: not hub.connections["tasks"])
    writer.close()
    await writer.wait_closed()


@linux_only
async def test_bytes_acked_counts_what_the_peer_took() -> None:
    taken = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"x" * 100_000)
        await writer.drain()
        await taken.wait()
        await _until(lambda: (peer_bytes_acked(writer.transport) or 0) >= 100_000)
        counts.append(peer_bytes_acked(writer.transport))
        writer.close()
        await writer.wait_closed()

    counts: list[int | None] = []
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert len(await reader.readexactly(100_000)) == 100_000
    taken.set()
    await reader.read()  # until the server closes
    assert counts and counts[0] is not None and 100_000 <= counts[0] <= 100_001
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_bytes_acked_is_none_where_the_kernel_will_not_say() -> None:
    assert peer_bytes_acked(None) is None
    left, right = socket.socketpair()  # a Unix socket: no TCP_INFO

    class Transport:
        def get_extra_info(self, name: str) -> Any:
            return left if name == "socket" else None

    assert peer_bytes_acked(Transport()) is None
    left.close()
    right.close()
