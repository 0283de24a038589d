"""The channel handler under hostile input: bad positions, deep messages, floods and
unmasked frames. Each bad input earns a warning or the documented close, never a 500."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from .conftest import ClientFactory
from .helpers import next_message
from .wsraw import client_frame, open_raw


async def _warned_then_pong(ws: Any) -> dict[str, Any]:
    warning = await next_message(ws)
    await ws.send_json({"type": "ping"})
    assert (await next_message(ws))["type"] == "pong"  # the socket stayed open
    return warning


@pytest.mark.parametrize(
    "query",
    [
        "since=" + quote("²"),
        "since=" + "9" * 5000,
        "since=-1",
        "since=9007199254740992",
        "since=1&epoch=" + quote("not an epoch!"),
        "since=1&epoch=" + "e" * 5000,
    ],
)
async def test_bad_query_positions_warn_and_keep_the_socket(
    client: TestClient[Any, Any], query: str
) -> None:
    ws = await client.ws_connect(f"/api/ws/tasks?{query}")
    warning = await _warned_then_pong(ws)
    assert warning["type"] == "error" and warning["error_type"] == "warning"
    assert "since" in warning["message"] or "epoch" in warning["message"]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "resume", "since": "²"},
        {"type": "resume", "since": "9" * 5000},
        {"type": "resume", "since": 10**30},
        {"type": "resume", "since": 1, "epoch": {"a": 1}},
    ],
)
async def test_bad_resume_messages_warn_and_keep_the_socket(
    client: TestClient[Any, Any], message: dict[str, Any]
) -> None:
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_str(json.dumps(message))
    assert (await _warned_then_pong(ws))["error_type"] == "warning"


@pytest.mark.parametrize("depth", [65, 330, 1023, 5000])
async def test_deeply_nested_messages_warn(client: TestClient[Any, Any], depth: int) -> None:
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_str('{"type":"subscribe","filters":' + '{"a":' * depth + "1" + "}" * (depth + 1))
    warning = await _warned_then_pong(ws)
    assert "JSON" in warning["message"]


async def _closed(ws: Any) -> Any:
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type is not WSMsgType.TEXT:
            return msg


async def test_an_inbound_flood_is_closed_1008_and_others_keep_their_pongs(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ws_inbound_rate=50, ws_inbound_burst=100)
    watcher = await client.ws_connect("/api/ws/agents")
    flooder = await client.ws_connect("/api/ws/agents")
    for _ in range(2000):
        if flooder.closed:
            break
        await flooder.send_str('{"type":"ping"}')
    msg = await _closed(flooder)
    assert msg.type is WSMsgType.CLOSE and msg.data == 1008 and msg.extra == "too many messages"
    for _ in range(20):  # well within the watcher's own allowance
        await watcher.send_json({"type": "ping"})
        assert (await next_message(watcher))["type"] == "pong"


async def test_protocol_pings_count_against_the_inbound_limit(make_client: ClientFactory) -> None:
    client = await make_client(ws_inbound_rate=1, ws_inbound_burst=10)
    ws = await client.ws_connect("/api/ws/agents", autoping=False)
    for _ in range(10):
        await ws.ping(b"x")
        assert (await ws.receive(timeout=5)).type is WSMsgType.PONG  # answered by the server
    await ws.ping(b"x")
    msg = await _closed(ws)
    assert msg.type is WSMsgType.CLOSE and msg.data == 1008


async def test_normal_use_stays_under_the_default_inbound_limit(
    client: TestClient[Any, Any],
) -> None:
    """A dashboard re-subscribing and pinging a few times a second is never cut."""
    ws = await client.ws_connect("/api/ws/tasks")
    for _ in range(150):
        await ws.send_json({"type": "subscribe", "filters": {"status": "running"}})
        assert (await next_message(ws))["type"] == "subscribed"


def _unmasked(payload: bytes) -> bytes:
    return struct.pack("!BB", 0x81, len(payload)) + payload


@pytest.mark.parametrize("after_good_frames", [0, 3])
async def test_an_unmasked_client_frame_closes_1002(
    client: TestClient[Any, Any], after_good_frames: int
) -> None:
    assert client.server.port is not None
    reader, writer, head = await open_raw("127.0.0.1", client.server.port, "/api/ws/agents")
    assert b" 101 " in head
    ping = b'{"type":"ping"}'
    writer.write(client_frame(ping) * after_good_frames + _unmasked(ping))
    data = b""
    while True:  # the pongs of the masked frames, then the close frame
        chunk = await asyncio.wait_for(reader.read(4096), 5)
        assert chunk, "the server closed without a close frame"
        data += chunk
        at = data.find(b"\x88")
        if at >= 0 and len(data) >= at + 4:
            break
    assert data.count(b'"pong"') == after_good_frames
    assert struct.unpack("!H", data[at + 2 : at + 4])[0] == 1002
    writer.transport.abort()


async def test_masked_frames_split_anywhere_still_parse(make_client: ClientFactory) -> None:
    """The mask scanner follows frame boundaries across reads of any size."""
    client = await make_client(max_message_bytes=200_000)
    assert client.server.port is not None
    reader, writer, _ = await open_raw("127.0.0.1", client.server.port, "/api/ws/agents")
    big = json.dumps({"type": "ping", "pad": "x" * 70_000}).encode()  # 64-bit length form
    mid = json.dumps({"type": "ping", "pad": "y" * 300}).encode()  # 16-bit length form
    stream = client_frame(b'{"type":"ping"}') + client_frame(mid) + client_frame(big)
    for i in range(0, len(stream), 7):
        writer.write(stream[i : i + 7])
        if i % 700 == 0:
            await writer.drain()
    answers = b""
    while answers.count(b'"type"') < 3:
        answers += await asyncio.wait_for(reader.read(4096), 10)
    assert answers.count(b'"pong"') == 3
    writer.transport.abort()


async def test_the_frontend_path_serves_every_channel_like_the_api_path(
    client: TestClient[Any, Any],
) -> None:
    from devskyy_ws import HUB_KEY
    from devskyy_ws.contract.messages import TaskUpdate

    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/ws/tasks")
    await hub.publish("tasks", TaskUpdate(task_id="t1", status="running", progress=1))
    live = await next_message(ws)
    assert live["task_id"] == "t1" and live["seq"] == 1
    again = await client.ws_connect(f"/ws/tasks?since=0&epoch={live['epoch']}")
    assert (await next_message(again))["task_id"] == "t1"  # resume works there too
    bad = await client.ws_connect("/ws/nope")
    msg = await bad.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == 4004


@pytest.mark.parametrize(
    ("channel", "ask"),
    [
        ("agents", "get_agents"),
        ("tasks", "get_tasks"),
        ("round_table", "get_competitions"),
        ("3d_pipeline", "get_pipelines"),
        ("metrics", "get_metrics"),
    ],
)
async def test_the_frontends_get_requests_answer_the_snapshot(
    client: TestClient[Any, Any], channel: str, ask: str
) -> None:
    ws = await client.ws_connect(f"/ws/{channel}")
    await ws.send_json({"type": ask})
    answer = await next_message(ws)
    assert answer["type"] == "snapshot" and answer["channel"] == channel


@pytest.mark.parametrize("message", [{"type": "subscribe"}, {"type": "subscribe", "filters": {}}])
async def test_subscribe_without_filters_means_everything(
    client: TestClient[Any, Any], message: dict[str, Any]
) -> None:
    from devskyy_ws import HUB_KEY
    from devskyy_ws.contract.messages import AgentStatusUpdate

    ws = await client.ws_connect("/api/ws/agents")
    await ws.send_json({"type": "subscribe", "filters": {"agent_type": "commerce"}})
    assert (await next_message(ws))["type"] == "subscribed"
    await ws.send_json(message)
    ack = await next_message(ws)
    assert ack["type"] == "subscribed" and ack["filters"] == {}
    await client.app[HUB_KEY].publish("agents", AgentStatusUpdate(agent_id="x", status="idle"))
    assert (await next_message(ws))["agent_id"] == "x"  # the earlier filter is gone


async def test_unknown_types_still_warn(client: TestClient[Any, Any]) -> None:
    ws = await client.ws_connect("/ws/agents")
    await ws.send_json({"type": "get_everything"})
    warning = await next_message(ws)
    assert warning["error_type"] == "warning" and "get_agents" in warning["message"]
