"""Property-based abuse of every REST endpoint and of the channel message handler.

Invariant: never a 5xx, never a crash or a stuck connection, every error in the
contract's shape. CI runs a bounded number of examples; `make fuzz-long` runs many.
"""

from __future__ import annotations

import io
import json
import os
import string
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devskyy_ws.contract.openapi import openapi_document

from .conftest import ClientFactory, auth

EXAMPLES = int(os.environ.get("DEVSKYY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

PATHS = sorted(openapi_document()["paths"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=30,
)
segments = st.text(alphabet=string.ascii_letters + string.digits + "-_.%~", min_size=1, max_size=30)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    template = draw(st.sampled_from(PATHS))
    path = "/".join(
        draw(segments) if part.startswith("{") else part for part in template.split("/")
    )
    body_kind = draw(st.sampled_from(["json", "bytes", "none", "known"]))
    body: bytes | None = None
    if body_kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif body_kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif body_kind == "known":
        keys = [
            "agentType",
            "prompt",
            "parameters",
            "useRoundTable",
            "task",
            "use_round_table",
            "providers",
            "task_id",
            "format",
            "quality",
            "image_url",
            "product_id",
            "channel",
            "message",
        ]
        body = json.dumps(
            draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=6))
        ).encode()
    query = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "limit",
                    "offset",
                    "status",
                    "agent_type",
                    "stage",
                    "metrics",
                    "time_range",
                    "q",
                    "x",
                ]
            ),
            st.text(max_size=12),
            max_size=3,
        )
    )
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])),
        "path": path,
        "body": body,
        "query": query,
        "content_type": draw(
            st.sampled_from(
                ["application/json", "text/plain", "application/x-www-form-urlencoded", "image/png"]
            )
        ),
        "scope": draw(st.sampled_from(["read", "write", "admin", None])),
    }


@FUZZ
@given(request=requests())
async def test_rest_endpoints_never_5xx_and_always_speak_the_contract(
    client: TestClient[Any, Any], request: dict[str, Any]
) -> None:
    scope = request["scope"]
    headers = {"Content-Type": request["content_type"], **(auth(client, scope) if scope else {})}
    resp = await client.request(
        request["method"],
        request["path"],
        data=request["body"],
        params=request["query"],
        headers=headers,
    )
    assert resp.status < 500, (request, resp.status, await resp.text())
    if resp.status >= 400:
        body = await resp.json()
        assert isinstance(body["error"], str) and isinstance(body["message"], str), body
        assert "Traceback" not in body["message"]
    assert (await client.get("/health")).status == 200


async def test_hostile_bodies(make_client: ClientFactory) -> None:
    client = await make_client()
    h = {**auth(client, "write"), "Content-Type": "application/json"}
    deep = b"[" * 200_000 + b"]" * 200_000
    resp = await client.post("/api/v1/tasks", data=deep, headers=h)
    assert resp.status == 400 and (await resp.json())["error"] == "too_deep"
    huge = io.BytesIO(b"[" * 600_000 + b"]" * 600_000)
    resp = await client.post("/api/v1/tasks", data=huge, headers=h)
    assert resp.status == 413  # over 1 MiB
    nested = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    resp = await client.post("/api/v1/tasks", data=nested, headers=h)
    assert resp.status in (400, 422) and (await resp.json())["error"]
    resp = await client.post("/api/v1/tasks", data=b"\xff\xfe\x00garbage", headers=h)
    assert resp.status == 400
    resp = await client.post(
        "/api/v1/tasks",
        data=json.dumps({"agentType": "commerce", "prompt": "\ud800"}).encode(),
        headers=h,
    )
    assert resp.status in (201, 400, 422)
    for bad in (
        "/api/v1/tasks/%00",
        "/api/v1/3d-pipeline/..%2F..%2Fetc%2Fpasswd/asset",
        "/api/v1/agents/" + "a" * 5000,
    ):
        resp = await client.get(bad, headers=h)
        assert resp.status in (400, 404, 414) and resp.status < 500


@FUZZ
@given(
    payload=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        json_values.map(json.dumps),
        st.dictionaries(
            st.sampled_from(["type", "filters", "since", "epoch", "token"]), json_values
        ).map(json.dumps),
    )
)
async def test_channel_handler_survives_arbitrary_client_messages(
    client: TestClient[Any, Any], payload: str | bytes
) -> None:
    ws = await client.ws_connect("/api/ws/tasks")
    if isinstance(payload, bytes):
        await ws.send_bytes(payload)
    else:
        await ws.send_str(payload)
    await ws.send_json({"type": "ping"})
    while True:  # every message gets an answer or a warning, and the ping a pong
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.TEXT, (payload, msg)
        if json.loads(msg.data)["type"] == "pong":
            break
    await ws.close()


typed_messages = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),
    st.sampled_from(["resume", "snapshot", "auth", "subscribe", "unsubscribe", "ping"]),
    st.dictionaries(st.sampled_from(["since", "epoch", "token", "filters"]), json_values),
)
query_values = st.one_of(
    st.text(max_size=60),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["²", "٣", "9" * 2000, "1e3", "0x10", "", "%", "%FF"]),  # under 8 KiB a line
)


@pytest.fixture
async def required_client(make_client: ClientFactory) -> TestClient[Any, Any]:
    return await make_client(ws_auth="required", ws_auth_grace=5)


@FUZZ
@given(message=typed_messages)
async def test_typed_client_messages_are_answered_never_crash(
    client: TestClient[Any, Any], message: str
) -> None:
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_str(message)
    await ws.send_json({"type": "ping"})
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.TEXT, (message, msg)
        if json.loads(msg.data)["type"] == "pong":
            break
    await ws.close()


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["since", "epoch", "snapshot", "token"]), query_values, max_size=4
    ),
    required=st.booleans(),
)
async def test_query_strings_never_crash_the_handshake_or_the_socket(
    client: TestClient[Any, Any],
    required_client: TestClient[Any, Any],
    query: dict[str, str],
    required: bool,
) -> None:
    server = required_client if required else client
    ws = await server.ws_connect("/api/ws/tasks", params=query)
    await ws.send_json({"type": "ping"})
    while True:  # a pong, or the 4001 of a bad token in required mode; never a 500
        msg = await ws.receive(timeout=5)
        if msg.type is WSMsgType.CLOSE:
            assert required and msg.data == 4001, (query, msg)
            break
        assert msg.type is WSMsgType.TEXT, (query, msg)
        doc = json.loads(msg.data)
        if required:
            assert doc["type"] in ("error", "pong", "keepalive", "authenticated"), doc
        if doc["type"] == "pong":
            break
    await ws.close()
