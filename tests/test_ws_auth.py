"""Optional WebSocket auth, per-address limits and the handshake rate limit."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from devskyy_ws import HUB_KEY, Settings
from devskyy_ws.contract.messages import CHANNELS, AgentStatusUpdate, TaskUpdate
from devskyy_ws.http.ratelimit import TokenBuckets

from .conftest import ClientFactory, token_for
from .helpers import next_message

SECRET = "test-secret-that-is-long-enough-for-hs256"


def _short_token(seconds: int) -> str:
    """A token with at least `seconds` (whole, as JWT counts them) left to live."""
    now = time.time()
    return jwt.encode(
        {"sub": "short", "scope": "read", "iat": int(now), "exp": math.ceil(now) + seconds},
        SECRET,
    )


async def test_required_mode_closes_unauthenticated_sockets_with_4001(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ws_auth="required", ws_auth_grace=0.3)
    hub = client.app[HUB_KEY]
    anonymous = await client.ws_connect("/api/ws/agents")
    await hub.publish("agents", AgentStatusUpdate(agent_id="a", status="idle"))  # not for it
    msg = await anonymous.receive(timeout=5)
    assert (
        msg.type is WSMsgType.CLOSE and msg.data == 4001 and msg.extra == "authentication required"
    )


async def test_token_in_query_or_first_message_authenticates(make_client: ClientFactory) -> None:
    client = await make_client(ws_auth="required", ws_auth_grace=5)
    hub = client.app[HUB_KEY]
    by_query = await client.ws_connect(f"/api/ws/agents?token={token_for(client, 'read')}")
    assert (await next_message(by_query))["type"] == "authenticated"
    by_message = await client.ws_connect("/api/ws/agents")
    await hub.publish("agents", AgentStatusUpdate(agent_id="before-auth", status="idle"))
    await by_message.send_json({"type": "auth", "token": token_for(client, "read", sub="second")})
    ack = await next_message(by_message)
    assert ack["type"] == "authenticated" and ack["sub"] == "second"
    await hub.publish("agents", AgentStatusUpdate(agent_id="after-auth", status="idle"))
    assert (await next_message(by_query))["agent_id"] == "before-auth"
    assert (await next_message(by_message))[
        "agent_id"
    ] == "after-auth"  # nothing leaked before auth
    bad = await client.ws_connect("/api/ws/agents?token=not-a-token")
    msg = await bad.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == 4001


async def test_expired_token_closes_unless_refreshed(make_client: ClientFactory) -> None:
    client = await make_client(ws_auth="required")
    short = _short_token(2)  # both sockets start with the same token, so the same expiry
    expiring = await client.ws_connect(f"/api/ws/tasks?token={short}")
    refreshed = await client.ws_connect(f"/api/ws/tasks?token={short}")
    assert (await next_message(expiring))["type"] == "authenticated"
    assert (await next_message(refreshed))["type"] == "authenticated"
    await refreshed.send_json({"type": "auth", "token": token_for(client, "read")})
    assert (await next_message(refreshed))["type"] == "authenticated"
    msg = await expiring.receive(timeout=10)
    assert msg.type is WSMsgType.CLOSE and msg.data == 4001 and msg.extra == "token expired"
    await refreshed.send_json({"type": "ping"})
    pong = await refreshed.receive(timeout=3)  # open past the expiry that closed its twin
    assert pong.type is WSMsgType.TEXT and json.loads(pong.data)["type"] == "pong"


async def test_optional_mode_warns_on_a_bad_token_and_stays_open(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ws_auth="optional")
    ws = await client.ws_connect("/api/ws/agents?token=garbage")
    warning = await next_message(ws)
    assert warning["type"] == "error" and warning["error_type"] == "warning"
    await client.app[HUB_KEY].publish("agents", AgentStatusUpdate(agent_id="x", status="idle"))
    assert (await next_message(ws))["agent_id"] == "x"


async def test_per_address_connection_limit(make_client: ClientFactory) -> None:
    client = await make_client(max_connections_per_ip=2)  # handshake limit off in tests
    keep = [await client.ws_connect("/api/ws/agents") for _ in range(2)]
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/api/ws/agents")
    assert info.value.status == 429
    hub = client.app[HUB_KEY]
    assert hub.count_from("127.0.0.1") == 2
    await keep[0].close()
    again = await client.ws_connect("/api/ws/agents")
    for ws in (again, keep[1]):
        await ws.close()
    for _ in range(100):  # each server handler detaches once its close handshake is done
        if hub.active == 0:
            break
        await asyncio.sleep(0.01)
    assert hub.active == 0 and hub.count_from("127.0.0.1") == 0


async def test_handshake_flood_is_rate_limited(make_client: ClientFactory) -> None:
    client = await make_client(handshake_rate=1, handshake_burst=5)
    for _ in range(5):
        ws = await client.ws_connect("/api/ws/agents")
        await ws.close()
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/api/ws/agents")
    assert info.value.status == 429
    assert info.value.headers is not None
    assert int(info.value.headers["Retry-After"]) >= 1


def test_the_default_limits_admit_an_office_behind_one_address() -> None:
    """400 dashboards of five channels each reconnect at once after a deploy, twice."""
    defaults = Settings()
    sockets = 400 * 5
    assert defaults.max_connections_per_ip >= sockets and defaults.max_connections >= sockets
    buckets = TokenBuckets(defaults.handshake_rate, defaults.handshake_burst)
    assert all(buckets.take("office", now=0.0)[0] for _ in range(sockets))
    assert all(buckets.take("office", now=10.0)[0] for _ in range(sockets))
    assert not buckets.take("office", now=10.0)[0]  # a host hammering past it is refused


def test_the_default_limits_admit_a_deploys_reconnect_storm_beside_those_that_stay() -> None:
    """A rolling restart of two instances: 10,000 sockets move while 10,000 stay put."""
    assert Settings().max_connections >= 10_000 + 10_000


async def test_a_thousand_dashboards_sockets_connect_at_the_defaults(
    make_client: ClientFactory,
) -> None:
    defaults = Settings()
    client = await make_client(
        handshake_rate=defaults.handshake_rate,
        handshake_burst=defaults.handshake_burst,
        max_connections_per_ip=defaults.max_connections_per_ip,
    )
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = await asyncio.gather(
            *(
                session.ws_connect(client.make_url(f"/api/ws/{CHANNELS[n % 5]}"))
                for n in range(1000)
            )
        )
        assert len(sockets) == 1000  # none refused (a refusal raises WSServerHandshakeError)
        await asyncio.gather(*(ws.close() for ws in sockets))


# -- required mode leaks nothing before a token ------------------------------------
DATA_TYPES = {"task_update", "snapshot", "resync_required", "authenticated"}


async def _publish_history(client: Any, count: int = 3) -> None:
    hub = client.app[HUB_KEY]
    for i in range(count):
        await hub.publish("tasks", TaskUpdate(task_id=f"secret-{i}", status="running", progress=i))


async def _everything_until_close(ws: Any) -> tuple[list[dict[str, Any]], Any]:
    got: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is not WSMsgType.TEXT:
            return got, msg
        got.append(json.loads(msg.data))


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        ("?since=0&snapshot=1", []),
        ("?since=0&epoch={epoch}", []),
        ("?snapshot=true", []),
        ("", [{"type": "resume", "since": 0}]),
        ("", [{"type": "resume", "since": 0, "epoch": "{epoch}"}]),
        ("", [{"type": "snapshot"}]),
        ("", [{"type": "subscribe", "filters": {"status": "running"}}, {"type": "snapshot"}]),
        ("?token=not-a-token&since=0&snapshot=1", []),
        ("", [{"type": "auth", "token": "forged"}, {"type": "resume", "since": 0}]),
    ],
)
async def test_required_mode_sends_no_data_before_a_token(
    make_client: ClientFactory, query: str, messages: list[dict[str, Any]]
) -> None:
    client = await make_client(ws_auth="required", ws_auth_grace=0.5, keepalive=0.05)
    await _publish_history(client)
    epoch = client.app[HUB_KEY].epochs["tasks"]
    ws = await client.ws_connect("/api/ws/tasks" + query.format(epoch=epoch))
    for message in messages:
        await ws.send_str(json.dumps(message).replace("{epoch}", epoch))
    await _publish_history(client)  # live messages are not for it either
    got, last = await _everything_until_close(ws)
    assert last.type is WSMsgType.CLOSE and last.data == 4001
    assert not [m for m in got if m["type"] in DATA_TYPES], got
    assert "secret" not in json.dumps(got)
    assert {m["type"] for m in got} <= {"keepalive", "subscribed", "error"}


async def test_required_mode_serves_what_was_asked_once_the_token_arrives(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ws_auth="required", ws_auth_grace=5)
    await _publish_history(client, 3)
    ws = await client.ws_connect("/api/ws/tasks?since=1&snapshot=1")
    await ws.send_json({"type": "snapshot"})
    await _publish_history(client, 1)  # seq 4: published while the socket waits
    await ws.send_json({"type": "auth", "token": token_for(client, "read")})
    assert (await next_message(ws))["type"] == "authenticated"
    replayed = [await next_message(ws) for _ in range(3)]
    assert [m["seq"] for m in replayed] == [2, 3, 4]
    snapshot = await next_message(ws)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 4
    await _publish_history(client, 1)
    assert (await next_message(ws))["seq"] == 5  # and live from there, nothing twice


async def test_optional_mode_serves_resume_and_snapshot_without_a_token(
    make_client: ClientFactory,
) -> None:
    client = await make_client(ws_auth="optional")
    await _publish_history(client, 2)
    ws = await client.ws_connect("/api/ws/tasks?since=0&snapshot=1")
    got = [await next_message(ws) for _ in range(3)]
    assert [m["type"] for m in got] == ["task_update", "task_update", "snapshot"]
