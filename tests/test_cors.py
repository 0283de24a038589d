"""CORS on REST and the Origin check on WebSocket upgrades."""

from __future__ import annotations

import logging

import pytest
from aiohttp import WSServerHandshakeError

from devskyy_ws.http.cors import OriginPolicy
from devskyy_ws.settings import DEFAULT_CORS_ORIGINS, Settings

from .conftest import ClientFactory, auth


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:3000", True),
        ("https://devskyy-dashboard.vercel.app", True),
        ("https://preview-1.vercel.app", True),
        ("https://evil.com", False),
        ("https://vercel.app.evil.com", False),
        ("https://a.b.vercel.app", False),
        ("https://vercel.app", False),
        ("http://preview-1.vercel.app", False),
        ("http://localhost:3001", False),
        ("null", False),
        ("", False),
    ],
)
def test_default_origins(origin: str, allowed: bool) -> None:
    assert OriginPolicy(DEFAULT_CORS_ORIGINS).allows(origin) is allowed


def test_missing_origin_is_a_non_browser_client() -> None:
    policy = OriginPolicy(DEFAULT_CORS_ORIGINS)
    assert policy.allows_upgrade(None)
    assert not policy.allows_upgrade("null")


async def test_preflight_allowed_origin(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.options(
        "/api/v1/events",
        headers={
            "Origin": "https://preview-1.vercel.app",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://preview-1.vercel.app"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()


async def test_preflight_refused_origin_gets_json_403(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.options(
        "/api/v1/events",
        headers={"Origin": "https://evil.com", "Access-Control-Request-Method": "POST"},
    )
    assert resp.status == 403
    body = await resp.json()
    assert body["error"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_actual_request_carries_cors_headers_only_for_allowed(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    ok = await client.get(
        "/api/v1/auth/me", headers={**auth(client), "Origin": "http://localhost:3000"}
    )
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    denied = await client.get(
        "/api/v1/auth/me", headers={**auth(client), "Origin": "https://evil.com"}
    )
    assert "Access-Control-Allow-Origin" not in denied.headers
    # error responses carry CORS headers too, so a browser can read the JSON error
    unauthorized = await client.get("/api/v1/auth/me", headers={"Origin": "http://localhost:3000"})
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


@pytest.mark.parametrize("origin", ["https://evil.com", "null", "https://a.b.vercel.app"])
async def test_websocket_upgrade_from_refused_origin_is_403(
    make_client: ClientFactory, origin: str
) -> None:
    client = await make_client()
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/api/ws/agents", headers={"Origin": origin})
    assert info.value.status == 403


async def test_websocket_upgrade_allowed_origin_and_no_origin(make_client: ClientFactory) -> None:
    client = await make_client(cors_origins=("https://app.example.com",))
    for headers in ({"Origin": "https://app.example.com"}, {}):
        ws = await client.ws_connect("/api/ws/agents", headers=headers)
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json())["type"] == "pong"
        await ws.close()


async def test_dns_rebinding_origin_with_a_matching_host_is_refused(
    make_client: ClientFactory,
) -> None:
    """The Host header is the attacker's; the address the socket reached is not."""
    client = await make_client()
    port = client.server.port
    for origin in (f"http://evil.com:{port}", "http://evil.com"):
        host = origin.split("://")[1]
        with pytest.raises(WSServerHandshakeError) as info:
            await client.ws_connect("/api/ws/agents", headers={"Origin": origin, "Host": host})
        assert info.value.status == 403
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        ws = await client.ws_connect("/api/ws/agents", headers={"Origin": own, "Host": "x"})
        await ws.close()


async def test_a_configured_public_origin_replaces_the_address(make_client: ClientFactory) -> None:
    client = await make_client(public_origins="https://Ops.Example.com/")
    ws = await client.ws_connect(
        "/api/ws/agents", headers={"Origin": "https://ops.example.com", "Host": "10.0.0.5"}
    )
    await ws.close()
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect(
            "/api/ws/agents", headers={"Origin": f"http://127.0.0.1:{client.server.port}"}
        )
    assert info.value.status == 403


@pytest.mark.parametrize(("ws_auth", "warned"), [("off", True), ("optional", False)])
async def test_wildcard_origins_without_socket_auth_are_warned_about(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, ws_auth: str, warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, "devskyy_ws"):
        await make_client(ws_auth=ws_auth)
    messages = [r.getMessage() for r in caplog.records if "Vercel tenant" in r.getMessage()]
    assert bool(messages) is warned
    if warned:
        assert "https://*.vercel.app" in messages[0]


def test_public_origins_must_be_origins() -> None:
    for bad in ("ops.example.com", "ftp://x", "https://x/path"):
        with pytest.raises(ValueError, match="public origin"):
            Settings(public_origins=bad)
