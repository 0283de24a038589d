"""The channels through real WebSocket clients against a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, WSServerHandshakeError

from devskyy_ws import HUB_KEY
from devskyy_ws.contract.messages import AgentStatusUpdate, ErrorMessage, TaskUpdate

from .conftest import ClientFactory, auth
from .wsraw import open_raw


async def _next(ws: ClientWebSocketResponse, wait: float = 5.0) -> dict[str, Any]:
    """The next data message, skipping keepalives."""
    while True:
        msg = await ws.receive(timeout=wait)
        assert msg.type is WSMsgType.TEXT, msg
        doc: dict[str, Any] = json.loads(msg.data)
        if doc["type"] != "keepalive":
            return doc


def _agent(agent_id: str, agent_type: str, status: str = "running") -> AgentStatusUpdate:
    return AgentStatusUpdate(agent_id=agent_id, status=status, data={"agent_type": agent_type})


@pytest.mark.parametrize("channel", ["agents", "round_table", "tasks", "3d_pipeline", "metrics"])
async def test_every_channel_answers_ping(make_client: ClientFactory, channel: str) -> None:
    client = await make_client()
    ws = await client.ws_connect(f"/api/ws/{channel}")
    await ws.send_json({"type": "ping"})
    pong = await _next(ws)
    assert pong["type"] == "pong" and pong["timestamp"].endswith("Z")
    assert "seq" not in pong
    await ws.close()


async def test_invalid_channel_closes_4004_after_handshake(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/nope")
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 4004 and msg.extra == "Invalid channel name"


async def test_filters_include_exclude_and_lists(make_client: ClientFactory) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/agents")
    await ws.send_json({"type": "subscribe", "filters": {"agent_type": ["commerce", "creative"]}})
    ack = await _next(ws)
    assert ack == {
        "type": "subscribed",
        "filters": {"agent_type": ["commerce", "creative"]},
        "timestamp": ack["timestamp"],
    }
    await hub.publish("agents", _agent("marketing-001", "marketing"))
    await hub.publish("agents", _agent("commerce-001", "commerce"))
    await hub.publish("agents", AgentStatusUpdate(agent_id="x", status="idle"))  # lacks agent_type
    await hub.publish("agents", _agent("creative-001", "creative"))
    await hub.publish("agents", ErrorMessage(error_type="warning", message="never filtered"))
    got = [await _next(ws) for _ in range(3)]
    assert [g.get("agent_id", g["type"]) for g in got] == ["commerce-001", "creative-001", "error"]
    await ws.send_json(
        {"type": "subscribe", "filters": {"agent_id": "marketing-001", "status": "idle"}}
    )
    await _next(ws)
    await hub.publish("agents", _agent("marketing-001", "marketing", "running"))
    await hub.publish("agents", _agent("marketing-001", "marketing", "idle"))
    assert (await _next(ws))["status"] == "idle"
    await ws.send_json({"type": "unsubscribe"})
    assert (await _next(ws))["type"] == "unsubscribed"
    await hub.publish("agents", _agent("support-001", "support"))
    assert (await _next(ws))["agent_id"] == "support-001"
    await ws.close()


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1,2,3]", "JSON object"),
        ('"ping"', "JSON object"),
        ('{"type": 5}', "string 'type'"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"type": "subscribe", "filters": {"a": {"b": 1}}}', "invalid filters"),
        ('{"type": "subscribe", "filters": {"a": []}}', "invalid filters"),
        ('{"type": "resume", "since": -1}', "since"),
        ("[" * 5000 + "]" * 5000, "JSON"),
    ],
)
async def test_malformed_input_gets_a_warning_and_the_socket_stays(
    make_client: ClientFactory, payload: str, fragment: str
) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_str(payload)
    warning = await _next(ws)
    assert warning["type"] == "error" and warning["error_type"] == "warning"
    assert fragment in warning["message"]
    await ws.send_json({"type": "ping"})
    assert (await _next(ws))["type"] == "pong"
    await ws.close()


async def test_binary_frame_gets_a_warning(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_bytes(b"\x00\x01")
    assert "binary" in (await _next(ws))["message"]
    await ws.close()


async def test_message_size_limit_65536_ok_65537_closes_1009(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/agents")
    base = '{"type":"ping","pad":""}'
    exact = base.replace('""', '"' + "x" * (65536 - len(base)) + '"')
    assert len(exact.encode()) == 65536
    await ws.send_str(exact)
    assert (await _next(ws))["type"] == "pong"
    await ws.send_str(exact + " ")
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == 1009


async def test_connection_limit_answers_503_json(make_client: ClientFactory) -> None:
    client = await make_client(max_connections=2)
    a = await client.ws_connect("/api/ws/agents")
    b = await client.ws_connect("/api/ws/tasks")
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/api/ws/metrics")
    assert info.value.status == 503
    resp = await client.get(
        "/api/ws/metrics",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert resp.status == 503 and (await resp.json())["error"] == "too_many_connections"
    await a.close()
    await b.close()


async def test_keepalive_after_silence(make_client: ClientFactory) -> None:
    client = await make_client(keepalive=0.1)
    ws = await client.ws_connect("/api/ws/round_table")
    msg = await ws.receive(timeout=5)
    doc = json.loads(msg.data)
    assert doc["type"] == "keepalive" and doc["timestamp"].endswith("Z")
    await ws.close()


async def test_shutdown_closes_every_socket_with_1001(make_client: ClientFactory) -> None:
    client = await make_client()
    sockets = [await client.ws_connect(f"/api/ws/{c}") for c in ("agents", "tasks", "metrics")]
    await client.server.close()
    for ws in sockets:
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.CLOSE and msg.data == 1001


async def test_events_endpoint_publishes_through_the_hub(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/tasks")
    resp = await client.post(
        "/api/v1/events",
        json={
            "channel": "tasks",
            "message": {
                "type": "task_update",
                "task_id": "task-1",
                "status": "running",
                "progress": 45,
            },
        },
        headers=auth(client, "write"),
    )
    assert resp.status == 202
    assert await resp.json() == {"channel": "tasks", "delivered": 1}
    msg = await _next(ws)
    assert msg["task_id"] == "task-1" and msg["progress"] == 45.0 and msg["timestamp"].endswith("Z")
    await ws.close()


@pytest.mark.parametrize("burst", [1, 20])
async def test_slow_client_is_cut_with_4008_and_others_get_everything_in_order(
    make_client: ClientFactory, burst: int
) -> None:
    client = await make_client(send_buffer_bytes=128 * 1024)
    hub = client.app[HUB_KEY]
    host, port = client.server.host, client.server.port
    assert port is not None
    _reader, writer, head = await open_raw(str(host), port, "/api/ws/tasks", rcvbuf=4096)
    assert b"101" in head.split(b"\r\n")[0]
    readers = [await client.ws_connect("/api/ws/tasks") for _ in range(50)]
    pad = "x" * 900

    async def collect(ws: ClientWebSocketResponse) -> list[int]:
        seen: list[int] = []
        while True:
            n = int((await _next(ws, wait=20))["data"]["n"])
            if n < 0:
                return seen
            seen.append(n)

    collectors = [asyncio.create_task(collect(ws)) for ws in readers]
    published = 0
    # Bounded: publish until the stalled client is cut (kernel buffers absorb the first MBs).
    while hub.stats["tasks"].slow_consumer_disconnects == 0 and published < 50_000:
        data = {"n": published, "pad": pad}
        await hub.publish("tasks", TaskUpdate(task_id="t", status="running", progress=0, data=data))
        published += 1
        if published % burst == 0:  # 1: one message per loop tick; 20: bursts, held
            await asyncio.sleep(0)  # publishers in real life await I/O between updates
    await hub.publish(
        "tasks", TaskUpdate(task_id="t", status="running", progress=0, data={"n": -1})
    )
    results = await asyncio.gather(*collectors)
    assert hub.stats["tasks"].slow_consumer_disconnects == 1
    assert all(seen == list(range(published)) for seen in results)
    assert sum(not c.closed for c in hub.connections["tasks"]) == 50
    writer.close()
    for ws in readers:
        await ws.close()


async def test_a_burst_shares_one_write_per_socket_in_order(make_client: ClientFactory) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    readers = [await client.ws_connect("/api/ws/tasks") for _ in range(3)]
    before = hub.stats["tasks"].coalesced
    for n in range(10):  # one loop tick: no await here suspends
        await hub.publish("tasks", TaskUpdate(task_id="t", status="running", progress=n))
    assert hub.stats["tasks"].coalesced - before == 9 * 3  # all but the first were held
    for ws in readers:
        assert [(await _next(ws))["progress"] for _ in range(10)] == list(range(10))
        await ws.close()


async def test_a_sockets_own_messages_and_close_follow_what_it_holds(
    make_client: ClientFactory,
) -> None:
    from devskyy_ws.contract.messages import Pong

    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_json({"type": "ping"})
    assert (await _next(ws))["type"] == "pong"  # the server side is attached by now
    (conn,) = hub.connections["tasks"]

    async def update(n: int) -> None:
        await hub.publish("tasks", TaskUpdate(task_id="t", status="running", progress=n))

    await update(0)  # written at once
    await update(1)  # held for the end of the tick
    conn.send(Pong())  # must not overtake 1
    await update(2)
    conn.close_soon(1001, "going away")  # nor may the close overtake 2
    seen = [await _next(ws) for _ in range(4)]
    assert [m.get("progress", m["type"]) for m in seen] == [0, 1, "pong", 2]
    closing = await ws.receive(timeout=5)
    assert closing.type.name in ("CLOSE", "CLOSING", "CLOSED") and ws.close_code == 1001
