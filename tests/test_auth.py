"""JWT auth: every failure mode, scopes, and the introspection endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devskyy_ws.http.auth import JwtKeys
from devskyy_ws.settings import Settings

from .conftest import ClientFactory, auth

SECRET = "test-secret-that-is-long-enough-for-hs256"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _status(client: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any], Any]:
    resp = await client.get("/api/v1/auth/me", headers=headers)
    return resp.status, await resp.json(), resp.headers


async def test_no_header_is_401_with_bearer_challenge(make_client: ClientFactory) -> None:
    client = await make_client()
    status, body, headers = await _status(client, {})
    assert status == 401
    assert body["error"] == "unauthorized" and body["message"]
    assert headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not.a.jwt",
        "Token abc",
    ],
)
async def test_malformed_headers_are_401(make_client: ClientFactory, header: str) -> None:
    client = await make_client()
    status, body, headers = await _status(client, {"Authorization": header})
    assert status == 401 and body["error"] == "unauthorized"
    assert "Bearer" in headers["WWW-Authenticate"]


async def test_bad_signature_is_401(make_client: ClientFactory) -> None:
    client = await make_client()
    now = int(time.time())
    forged = jwt.encode(
        {"sub": "x", "scope": "admin", "iat": now, "exp": now + 60},
        "other-secret-xxxxxxxxxxxxxxxxxxxxxxx",
    )
    status, _, _ = await _status(client, {"Authorization": f"Bearer {forged}"})
    assert status == 401


async def test_expired_token_is_401(make_client: ClientFactory) -> None:
    client = await make_client()
    now = int(time.time())
    old = jwt.encode({"sub": "x", "scope": "read", "iat": now - 100, "exp": now - 10}, SECRET)
    status, body, _ = await _status(client, {"Authorization": f"Bearer {old}"})
    assert status == 401 and "expired" in body["message"]


async def test_token_without_exp_is_401(make_client: ClientFactory) -> None:
    client = await make_client()
    forever = jwt.encode({"sub": "x", "scope": "read", "iat": int(time.time())}, SECRET)
    status, _, _ = await _status(client, {"Authorization": f"Bearer {forever}"})
    assert status == 401


async def test_alg_none_is_401(make_client: ClientFactory) -> None:
    client = await make_client()
    now = int(time.time())
    header = _b64({"alg": "none", "typ": "JWT"})
    payload = _b64({"sub": "x", "scope": "admin", "iat": now, "exp": now + 60})
    status, _, _ = await _status(client, {"Authorization": f"Bearer {header}.{payload}."})
    assert status == 401


async def test_wrong_audience_and_issuer_are_401(make_client: ClientFactory) -> None:
    client = await make_client(jwt_audience="dashboard", jwt_issuer="devskyy")
    now = int(time.time())
    base = {"sub": "x", "scope": "read", "iat": now, "exp": now + 60}
    wrong_aud = jwt.encode({**base, "aud": "other", "iss": "devskyy"}, SECRET)
    wrong_iss = jwt.encode({**base, "aud": "dashboard", "iss": "evil"}, SECRET)
    good = jwt.encode({**base, "aud": "dashboard", "iss": "devskyy"}, SECRET)
    assert (await _status(client, {"Authorization": f"Bearer {wrong_aud}"}))[0] == 401
    assert (await _status(client, {"Authorization": f"Bearer {wrong_iss}"}))[0] == 401
    assert (await _status(client, {"Authorization": f"Bearer {good}"}))[0] == 200


def _rsa_files(tmp_path: Path) -> tuple[Path, Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "key.pem").write_bytes(private)
    (tmp_path / "pub.pem").write_bytes(public)
    return tmp_path / "key.pem", tmp_path / "pub.pem", public


async def test_rs256_accepts_idp_tokens_and_refuses_hs256_confusion(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    private_path, public_path, public_pem = _rsa_files(tmp_path)
    client = await make_client(jwt_public_key=public_path, jwt_secret=None)
    now = int(time.time())
    claims = {"sub": "idp-user", "scope": "read", "iat": now, "exp": now + 60}
    good = jwt.encode(claims, private_path.read_bytes(), algorithm="RS256")
    assert (await _status(client, {"Authorization": f"Bearer {good}"}))[0] == 200
    # An attacker signs HS256 with the public key as the HMAC secret.
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(claims)
    import hashlib
    import hmac

    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert (await _status(client, {"Authorization": f"Bearer {forged}"}))[0] == 401


async def test_scopes_read_write_admin(make_client: ClientFactory) -> None:
    client = await make_client()
    message = {
        "channel": "agents",
        "message": {"type": "agent_status_update", "agent_id": "a", "status": "idle"},
    }
    read = await client.post("/api/v1/events", json=message, headers=auth(client, "read"))
    assert read.status == 403
    body = await read.json()
    assert body["error"] == "forbidden" and "write" in body["message"]
    write = await client.post("/api/v1/events", json=message, headers=auth(client, "write"))
    assert write.status == 202
    admin = await client.post("/api/v1/events", json=message, headers=auth(client, "admin"))
    assert admin.status == 202
    get_read = await client.get("/api/v1/auth/me", headers=auth(client, "read"))
    assert get_read.status == 200


async def test_me_returns_the_verified_claims(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.get("/api/v1/auth/me", headers=auth(client, "write"))
    body = await resp.json()
    assert body["sub"] == "tester" and body["scope"] == "write"
    assert body["exp"] > time.time()


async def test_unknown_path_is_404_whatever_the_token(make_client: ClientFactory) -> None:
    client = await make_client()
    for headers in ({}, auth(client)):
        resp = await client.get("/api/v1/no-such-thing", headers=headers)
        assert resp.status == 404
        assert (await resp.json())["error"] == "not_found"


async def test_health_needs_no_token(make_client: ClientFactory) -> None:
    client = await make_client()
    for path in ("/health", "/api/v1/health"):
        resp = await client.get(path)
        assert resp.status == 200
        body = await resp.json()
        assert body["status"] == "ok" and body["services"]["database"] == "ok"
        assert isinstance(body["uptime_s"], float) and body["version"]


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = JwtKeys.from_settings(settings)
    second = JwtKeys.from_settings(settings)
    assert first.verify_key == second.verify_key
    assert ((tmp_path / "jwt-secret").stat().st_mode & 0o777) == 0o600
    configured = JwtKeys.from_settings(Settings(data_dir=tmp_path, jwt_secret="x" * 40))
    assert configured.verify_key == "x" * 40
    token = first.mint("me", "write")
    assert first.verify(token).scope == ("write",)


def test_mint_refuses_unknown_scope(tmp_path: Path) -> None:
    keys = JwtKeys.from_settings(Settings(data_dir=tmp_path))
    with pytest.raises(ValueError, match="scope"):
        keys.mint("me", "root")


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer \xff",
        b"Bearer \xc3\xa9t\xc3\xa9",
        b"Bearer a\xffb.c.d",
        b"\xff\xfe",
        b"Bearer " + b"a" * 8000,
    ],
)
async def test_malformed_credentials_are_401_and_rate_limited(
    make_client: ClientFactory, value: bytes
) -> None:
    """Raw bytes on a raw socket: what no HTTP client library would send."""
    client = await make_client(rate_limit=0.001, rate_burst=2)
    assert client.server.port is not None
    statuses = []
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
        writer.write(
            b"GET /api/v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Authorization: " + value + b"\r\n\r\n"
        )
        response = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, body = response.partition(b"\r\n\r\n")
        statuses.append(int(head.split()[1]))
        doc = json.loads(body)
        assert set(doc) >= {"error", "message"} and "Traceback" not in doc["message"]
    assert statuses == [401, 401, 429]  # each took a token from the address's bucket
