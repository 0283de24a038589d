"""CORS on REST and the Origin check on WebSocket upgrades."""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError

from devskyy_ws.cors import OriginPolicy
from devskyy_ws.settings import DEFAULT_CORS_ORIGINS

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
