"""`Connection.send_frame`, the one write path, against real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientWebSocketResponse

from devskyy_ws import HUB_KEY
from devskyy_ws.channels.connection import Connection
from devskyy_ws.channels.hub import Hub
from devskyy_ws.contract.messages import TaskUpdate

from .conftest import ClientFactory
from .helpers import updates


class BrokenTransport:
    """The socket's own transport, except that writing raises (as a torn-down one can)."""

    def __init__(self, inner: asyncio.Transport) -> None:
        self.inner = inner
        self.aborted = False

    def write(self, data: bytes) -> None:
        raise OSError("write failed")

    def abort(self) -> None:
        self.aborted = True
        self.inner.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _attached(hub: Hub, ws: ClientWebSocketResponse) -> None:
    """The server has attached the socket once it answered a ping."""
    await ws.send_json({"type": "ping"})
    msg = await ws.receive(timeout=5)
    assert json.loads(msg.data)["type"] == "pong"


async def _publish(hub: Hub, progress: int) -> int:
    return await hub.publish("tasks", TaskUpdate(task_id="t", status="running", progress=progress))


def _server_side(hub: Hub) -> list[Connection]:
    return sorted(hub.connections["tasks"], key=lambda c: c.opened_at)


async def test_a_transport_that_fails_to_write_costs_only_its_socket(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    broken_ws = await client.ws_connect("/api/ws/tasks")
    await _attached(hub, broken_ws)
    healthy_ws = await client.ws_connect("/api/ws/tasks")
    await _attached(hub, healthy_ws)
    broken, healthy = _server_side(hub)
    transport = BrokenTransport(broken._transport)  # type: ignore[arg-type]
    broken._transport = transport  # type: ignore[assignment]

    assert await _publish(hub, 1) == 1  # written at once: the failure is the socket's
    assert await _publish(hub, 2) == 1  # the same tick: held, and broken is closed now
    assert broken.closed and transport.aborted and not healthy.closed
    assert [m["progress"] for m in await updates(healthy_ws, 2, wait=5)] == [1, 2]
    resp = await client.get("/health")
    assert resp.status == 200
    await healthy_ws.close()


async def test_a_failed_write_of_held_frames_costs_only_its_socket(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    sockets = [await client.ws_connect("/api/ws/tasks") for _ in range(2)]
    for ws in sockets:
        await _attached(hub, ws)
    first, second = _server_side(hub)
    await _publish(hub, 1)  # written at once
    first._transport = BrokenTransport(first._transport)  # type: ignore[arg-type,assignment]
    await _publish(hub, 2)  # held by both for the end of the tick
    await _publish(hub, 3)
    assert [m["progress"] for m in await updates(sockets[1], 3, wait=5)] == [1, 2, 3]
    assert first.closed and not second.closed
    await sockets[1].close()


async def test_send_frame_skips_closed_sockets_and_counts_what_it_sent(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    await _attached(hub, ws)
    (conn,) = _server_side(hub)
    sent = conn.sent
    assert await _publish(hub, 1) == 1 and conn.sent == sent + 1
    conn.closed = True
    assert not conn.send_frame(b"\x81\x02{}")
    assert await _publish(hub, 2) == 0 and conn.sent == sent + 1
    await ws.close()
