"""X-Forwarded-* count only from trusted proxies; the access log shows the result."""

from __future__ import annotations

import logging

import pytest

from .conftest import ClientFactory


async def _logged_client(
    client: object, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="devskyy_ws.access"):
        resp = await client.get("/health", headers=headers)  # type: ignore[attr-defined]
        assert resp.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "devskyy_ws.access"]
    assert len(lines) == 1
    return lines[0]


async def test_forwarded_for_ignored_from_untrusted_peer(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    line = await _logged_client(client, caplog, {"X-Forwarded-For": "203.0.113.9"})
    assert line.startswith("GET /health 200 ")
    assert line.endswith(" 127.0.0.1")


async def test_forwarded_for_used_from_trusted_proxy(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(trusted_proxies="127.0.0.0/8")
    line = await _logged_client(client, caplog, {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert line.endswith(" 203.0.113.9")


async def test_access_log_escapes_control_characters(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="devskyy_ws.access"):
        await client.get("/no%0aFAKE%20LINE?token=secret")
    line = [r.getMessage() for r in caplog.records if r.name == "devskyy_ws.access"][0]
    assert "\n" not in line and "\\n" in line
    assert "secret" not in line
    assert " 404 " in line
