"""Conflation for sockets that opt in: behind, they get the latest state of every key and
every terminal state, never a 4008 for the backlog; sockets that did not opt in are
unchanged."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import zlib
from typing import Any

import pytest

from devskyy_ws import HUB_KEY
from devskyy_ws.channels.conflation import conflation_key
from devskyy_ws.channels.hub import Hub
from devskyy_ws.contract.messages import TaskUpdate

from .conftest import ClientFactory
from .wsraw import open_raw, read_frame

KEYS = ("a", "b", "c")


async def _frames(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    """Every server frame until the connection has nothing more within a second, inflated
    where the server compressed it (permessage-deflate, context kept across messages)."""
    frames: list[tuple[int, bytes]] = []
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    while True:
        try:
            opcode, compressed, payload = await asyncio.wait_for(read_frame(reader), 1.0)
        except (TimeoutError, asyncio.IncompleteReadError):
            return frames
        if compressed:
            payload = inflate.decompress(payload + b"\x00\x00\xff\xff")
        frames.append((opcode, payload))
        if opcode == 0x8:
            return frames


ROUNDS = 3000  # 9 MB: past what loopback's kernel buffers absorb, so the socket lags


async def _stalled_reader(
    make_client: ClientFactory, path: str, compressed: bool = False
) -> tuple[Hub, asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw socket with a tiny receive buffer that reads nothing until told to."""
    client = await make_client(send_buffer_bytes=128 * 1024, ws_compression=compressed)
    hub = client.app[HUB_KEY]
    host, port = client.server.host, client.server.port
    assert port is not None
    deflate = {"Sec-WebSocket-Extensions": "permessage-deflate"} if compressed else {}
    reader, writer, head = await open_raw(str(host), port, path, rcvbuf=4096, headers=deflate)
    assert b"101" in head.split(b"\r\n")[0]
    assert (b"permessage-deflate" in head) == compressed
    for _ in range(500):  # the server side attaches right after the 101
        if hub.connections["tasks"]:
            return hub, reader, writer
        await asyncio.sleep(0.01)
    raise AssertionError("the socket never attached")


async def _stall_and_publish(hub: Hub) -> dict[str, Any]:
    """3 keys x ROUNDS updates of ~1 KB while the reader reads nothing; b and c end."""
    last: dict[str, Any] = {}
    for n in range(ROUNDS):
        for key in KEYS:
            status = "running"
            if n == ROUNDS - 1 and key != "a":
                status = "completed" if key == "b" else "failed"
            pad = base64.b64encode(os.urandom(675)).decode()  # compressed frames lag too
            update = TaskUpdate(task_id=key, status=status, progress=n % 100,
                                data={"n": n, "pad": pad})  # fmt: skip
            await hub.publish("tasks", update)
            last[key] = (n, status)
        await asyncio.sleep(0)  # publishers await I/O between updates
    return last


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "deflate"])
async def test_a_stalled_conflating_reader_gets_the_latest_of_every_key(
    make_client: ClientFactory, compressed: bool
) -> None:
    hub, reader, writer = await _stalled_reader(make_client, "/api/ws/tasks?conflate=1", compressed)
    last = await _stall_and_publish(hub)
    assert hub.stats["tasks"].slow_consumer_disconnects == 0
    frames = await _frames(reader)
    assert all(opcode == 0x1 for opcode, _ in frames), "no close frame: no 4008"
    docs = [json.loads(payload) for _, payload in frames]
    notices = [d for d in docs if d["type"] == "conflated"]
    assert len(notices) >= 1 and sum(d["skipped"] for d in notices) > 0
    after = docs[docs.index(notices[-1]) + 1 :]
    final = {d["task_id"]: (d["data"]["n"], d["status"]) for d in after}
    assert final == last  # the latest state of every key, terminal states included
    seqs = [d["seq"] for d in docs if d["type"] == "task_update"]
    assert seqs == sorted(seqs)  # in publish order of their latest versions
    assert len([d for d in after if d["type"] == "task_update"]) == len(KEYS)  # one each
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "deflate"])
async def test_a_stalled_reader_that_did_not_opt_in_is_still_cut(
    make_client: ClientFactory, compressed: bool
) -> None:
    hub, _reader, writer = await _stalled_reader(make_client, "/api/ws/tasks", compressed)
    await _stall_and_publish(hub)
    assert hub.stats["tasks"].slow_consumer_disconnects == 1
    writer.close()
    await writer.wait_closed()


async def test_subscribe_can_switch_conflation_on_and_refuses_a_bad_value(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_json({"type": "subscribe", "conflate": True})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    (conn,) = hub.connections["tasks"]
    assert conn.conflate
    await ws.send_json({"type": "subscribe", "conflate": "yes"})
    warning = await ws.receive_json(timeout=5)
    assert warning["type"] == "error" and "conflate" in warning["message"]
    assert conn.conflate  # unchanged by the refused message
    await ws.close()


@pytest.mark.parametrize(
    ("channel", "doc", "key"),
    [
        ("tasks", {"type": "task_update", "task_id": "t1"}, "t1"),
        ("agents", {"type": "agent_status_update", "agent_id": "x-1",
                    "data": {"agent_type": "commerce"}}, "commerce"),
        ("round_table", {"type": "competition_update", "competition_id": "c1"}, "c1"),
        ("3d_pipeline", {"type": "pipeline_update", "pipeline_id": "p1"}, "p1"),
        ("metrics", {"type": "metrics_update"}, "metrics"),
        ("tasks", {"type": "error", "error_type": "x"}, None),
    ],
)  # fmt: skip
def test_conflation_keys(channel: str, doc: dict[str, Any], key: str | None) -> None:
    assert conflation_key(channel, doc) == key
