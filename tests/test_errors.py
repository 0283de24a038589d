"""The error contract on several endpoints and middlewares."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ClientFactory, auth


async def _expect(resp: object, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status  # type: ignore[attr-defined]
    body: dict[str, Any] = await resp.json()  # type: ignore[attr-defined]
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"].endswith(".")
    assert "Traceback" not in body["message"]
    return body


async def test_malformed_json_is_400(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post(
        "/api/v1/events",
        data=b"{not json",
        headers={**auth(client), "Content-Type": "application/json"},
    )
    await _expect(resp, 400, "invalid_json")


async def test_non_object_body_is_422(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post("/api/v1/events", json=[1, 2], headers=auth(client))
    await _expect(resp, 422, "invalid_body")


async def test_body_too_large_is_413(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=1024)
    resp = await client.post("/api/v1/events", data=b"x" * 4096, headers=auth(client))
    await _expect(resp, 413, "payload_too_large")


async def test_wrong_method_is_405(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.delete("/api/v1/health", headers=auth(client))
    await _expect(resp, 405, "method_not_allowed")


async def test_unknown_route_is_404(make_client: ClientFactory) -> None:
    client = await make_client()
    await _expect(await client.get("/nope"), 404, "not_found")


async def test_event_validation_is_422_with_details(make_client: ClientFactory) -> None:
    client = await make_client()
    bad_channel = await client.post(
        "/api/v1/events", json={"channel": "nope", "message": {}}, headers=auth(client)
    )
    await _expect(bad_channel, 422, "unknown_channel")
    wrong_type = await client.post(
        "/api/v1/events",
        json={"channel": "tasks", "message": {"type": "agent_status_update"}},
        headers=auth(client),
    )
    body = await _expect(wrong_type, 422, "invalid_message")
    assert body["details"] == {"allowed_types": ["error", "task_update"]}
    bad_fields = await client.post(
        "/api/v1/events",
        json={
            "channel": "tasks",
            "message": {
                "type": "task_update",
                "task_id": "t",
                "status": "running",
                "progress": 150,
            },
        },
        headers=auth(client),
    )
    body = await _expect(bad_fields, 422, "invalid_message")
    assert body["details"]


async def test_unhandled_error_is_generic_500(make_client: ClientFactory) -> None:
    from aiohttp import web

    client = await make_client()

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    # A route added before start-up would be the normal way; the router is frozen now,
    # so exercise the middleware directly with a real request object.
    from devskyy_ws.http.errors import error_middleware

    request = client.app  # the frozen app proves the middleware is registered
    assert error_middleware in request.middlewares
    from aiohttp.test_utils import make_mocked_request

    resp = await error_middleware(make_mocked_request("GET", "/x"), boom)
    assert resp.status == 500
    assert b"secret internals" not in resp.body  # type: ignore[attr-defined]
    assert b"internal_error" in resp.body  # type: ignore[attr-defined]


async def test_a_client_gone_mid_request_is_not_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In a reconnect storm clients give up mid-handshake; aiohttp drops such requests
    quietly, so the middleware must let the reset through, not log a traceback."""
    from aiohttp import web
    from aiohttp.client_exceptions import ClientConnectionResetError
    from aiohttp.test_utils import make_mocked_request

    from devskyy_ws.http.errors import error_middleware

    async def gone(request: web.Request) -> web.Response:
        raise ClientConnectionResetError("Cannot write to closing transport")

    with pytest.raises(ConnectionResetError):
        await error_middleware(make_mocked_request("GET", "/api/ws/tasks"), gone)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_out_of_range_integers_are_422_not_500(make_client: ClientFactory) -> None:
    """Found by schemathesis: an integer beyond 64 bits once broke serialization."""
    client = await make_client()
    sample = {
        "timestamp": "2024-01-06T12:00:00Z",
        "cpu_percent": 1,
        "memory_percent": 1,
        "active_connections": 2**65,
        "requests_per_second": 1,
        "avg_latency_ms": 1,
    }
    resp = await client.post(
        "/api/v1/events",
        json={"channel": "metrics", "message": {"type": "metrics_update", "metrics": sample}},
        headers=auth(client, "write"),
    )
    body = await _expect(resp, 422, "invalid_field")  # refused where the body is read
    assert body["details"] == {"field": "message.metrics.active_connections"}


BODIES = [
    ("/api/v1/3d-pipeline", {"prompt": "A small ceramic vase", "product_id": 10**20}, "product_id"),
    (
        "/api/v1/tasks",
        {"agentType": "commerce", "prompt": "hi", "parameters": {"n": [1, 2**53]}},
        "parameters.n[1]",
    ),
    (
        "/api/v1/agents/commerce/execute",
        {"prompt": "hi", "parameters": {"x": -(2**60)}},
        "parameters.x",
    ),
    ("/api/v1/round-table/compete", {"prompt": "hi", "max_tokens": 10**19}, "max_tokens"),
    (
        "/api/v1/events",
        {
            "channel": "tasks",
            "message": {
                "type": "task_update",
                "task_id": "t",
                "status": "running",
                "progress": 1,
                "data": {"n": 2**53},
            },
        },
        "message.data.n",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), BODIES)
async def test_integers_beyond_2_53_are_422_naming_the_field_on_every_body(
    make_client: ClientFactory, path: str, body: dict[str, object], field: str
) -> None:
    client = await make_client()
    resp = await client.post(path, json=body, headers=auth(client, "write"))
    doc = await _expect(resp, 422, "invalid_field")
    assert doc["details"] == {"field": field} and field in doc["message"]


@pytest.mark.parametrize("depth", [65, 330, 700, 1023])
@pytest.mark.parametrize(
    ("path", "wrap"),
    [
        (
            "/api/v1/tasks",
            lambda inner: '{"agentType":"commerce","prompt":"hi","parameters":' + inner + "}",
        ),
        (
            "/api/v1/events",
            lambda inner: (
                '{"channel":"tasks","message":{"type":"task_update","task_id":"t","status":"running","progress":1,"data":'
                + inner
                + "}}"
            ),
        ),
    ],
)
async def test_deep_bodies_are_400_not_500(
    make_client: ClientFactory, depth: int, path: str, wrap: Any
) -> None:
    client = await make_client()
    inner = '{"a":' * depth + "1" + "}" * depth
    resp = await client.post(
        path,
        data=wrap(inner).encode(),
        headers={**auth(client, "write"), "Content-Type": "application/json"},
    )
    doc = await _expect(resp, 400, "too_deep")
    assert "64 levels" in doc["message"]


TEXT_LIMIT = 32 * 1024
TEXT_BODIES = [
    ("/api/v1/tasks", lambda t: {"agentType": "commerce", "prompt": t}, "prompt"),
    ("/api/v1/agents/commerce/execute", lambda t: {"task": t}, "task"),
    ("/api/v1/round-table/compete", lambda t: {"prompt": t}, "prompt"),
    ("/api/v1/3d-pipeline", lambda t: {"prompt": "A small vase", "image_url": t}, "image_url"),
    (
        "/api/v1/events",
        lambda t: {
            "channel": "tasks",
            "message": {"type": "task_update", "task_id": t, "status": "running", "progress": 1},
        },
        "message.task_id",
    ),
    (
        "/api/v1/tasks",
        lambda t: {"agentType": "commerce", "prompt": "x", "parameters": {"note": t}},
        "parameters.note",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), TEXT_BODIES)
@pytest.mark.parametrize("unit", ["a", "é", "😀"])
async def test_every_text_field_is_capped_in_bytes_with_413(
    make_client: ClientFactory, path: str, body: Any, field: str, unit: str
) -> None:
    """The limit counts UTF-8 bytes: 32,768 of them, whatever the characters."""
    client = await make_client()
    h = auth(client, "write")
    over = unit * (TEXT_LIMIT // len(unit.encode()) + 1)
    doc = await _expect(await client.post(path, json=body(over), headers=h), 413, "text_too_large")
    assert doc["details"] == {"field": field} and "32,768 bytes" in doc["message"]
    at_limit = unit * (TEXT_LIMIT // len(unit.encode()))
    resp = await client.post(path, json=body(at_limit), headers=h)
    assert resp.status != 413, await resp.text()


async def test_the_openapi_schema_states_the_byte_limit(client: Any) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for path, field in [
        ("/api/v1/tasks", "prompt"),
        ("/api/v1/round-table/compete", "prompt"),
        ("/api/v1/agents/{agent_type}/execute", "task"),
    ]:
        schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        prompt = schema["properties"][field]
        assert prompt["maxLength"] == TEXT_LIMIT and prompt["x-max-bytes"] == TEXT_LIMIT
        assert "bytes of UTF-8" in prompt["description"]
