"""The answers the original DevSkyy frontend reads (docs/compatibility.md), each checked
against the frontend's field names and against this server's own OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from devskyy_ws import STORE_KEY
from devskyy_ws.contract.openapi import openapi_document

from .conftest import ClientFactory, auth
from .test_apidoc import _resolver

DOCUMENT = openapi_document()
PROMPT = "A ceramic vase with a blue glaze"


def conforms(path: str, method: str, status: int, body: Any) -> None:
    """`body` validates against the documented answer for `status`."""
    answer = DOCUMENT["paths"][path][method]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    schema = json.loads(json.dumps(schema).replace('"#/', '"urn:doc#/'))
    validator = jsonschema.Draft202012Validator(schema, registry=_resolver(DOCUMENT))
    errors = [e.message for e in validator.iter_errors(body)]
    assert errors == [], (path, errors[:3])


async def _json(client: TestClient[Any, Any], method: str, path: str, status: int,
                scope: str = "write", **kwargs: Any) -> Any:  # fmt: skip
    resp = await client.request(method, path, headers=auth(client, scope), **kwargs)
    body = await resp.json()
    assert resp.status == status, body
    return body


async def test_health_live_and_ready(make_client: ClientFactory) -> None:
    client = await make_client(environment="staging")
    health = await (await client.get("/health")).json()
    assert health["environment"] == "staging" and health["uptime"] == health["uptime_s"] >= 0
    assert health["timestamp"].endswith("Z") and health["status"] == "ok"
    conforms("/health", "get", 200, health)
    live = await client.get("/live")
    assert live.status == 200 and (await live.json())["status"] == "alive"
    ready = await client.get("/ready")
    body = await ready.json()
    assert ready.status == 200 and body["status"] == "ready"
    conforms("/ready", "get", 200, body)
    await client.app[STORE_KEY].close()  # the store goes away: not ready, still alive
    ready = await client.get("/ready")
    body = await ready.json()
    assert ready.status == 503 and body == {
        "status": "not_ready",
        "services": {"database": "down", "broker": "ok"},
    }
    conforms("/ready", "get", 503, body)
    assert (await client.get("/live")).status == 200


async def test_probes_need_no_token_and_leak_nothing(make_client: ClientFactory) -> None:
    client = await make_client()
    for path in ("/live", "/ready"):
        resp = await client.get(path)
        assert resp.status == 200
        assert set(await resp.json()) <= {"status", "services", "uptime", "uptime_s", "timestamp"}


async def test_the_compete_answer_carries_the_frontends_fields(make_client: ClientFactory) -> None:
    client = await make_client()
    missing = await client.get("/api/v1/round-table/latest", headers=auth(client))
    assert missing.status == 404 and (await missing.json())["error"] == "competition_not_found"
    body = await _json(client, "POST", "/api/v1/round-table/compete", 200,
                       json={"prompt": PROMPT, "evaluation_criteria": ["quality"]})  # fmt: skip
    conforms("/api/v1/round-table/compete", "post", 200, body)
    assert body["id"] == body["competition_id"] and body["prompt_preview"] == PROMPT
    assert body["ab_test_reasoning"] == body["ab_test"]["reasoning"]
    assert body["ab_test_confidence"] == body["ab_test"]["confidence"]
    winner = body["winner"]
    assert body["winner_provider"] == winner["provider"]
    assert body["winner_score"] == winner["total_score"]
    assert winner["response_preview"] == winner["response"][:200]
    for entry in [winner, *body["entries"]]:
        assert entry["scores"]["brand_alignment"] == entry["scores"]["brand"]
        assert entry["scores"]["total"] == entry["total_score"]
    same = await _json(client, "GET", f"/api/v1/round-table/{body['id']}", 200, "read")
    latest = await _json(client, "GET", "/api/v1/round-table/latest", 200, "read")
    listed = await _json(client, "GET", "/api/v1/round-table", 200, "read")
    assert same == latest == listed["items"][0] == body
    conforms("/api/v1/round-table/latest", "get", 200, latest)


async def test_agent_controls_and_task_cancel_say_success(make_client: ClientFactory) -> None:
    client = await make_client(task_step_delay=60.0)  # a task runs until it is cancelled
    stopped = await _json(client, "POST", "/api/v1/agents/commerce/stop", 200)
    assert stopped["success"] is True and stopped["status"] == "stopped"
    conforms("/api/v1/agents/{agent_type}/stop", "post", 200, stopped)
    started = await _json(client, "POST", "/api/v1/agents/commerce/start", 200)
    assert started["success"] is True and started["status"] != "stopped"
    learned = await _json(client, "POST", "/api/v1/agents/commerce/learn", 202)
    assert learned["success"] is True
    assert learned["learningCycles"] == learned["stats"]["learningCycles"]
    conforms("/api/v1/agents/{agent_type}/learn", "post", 202, learned)
    task = await _json(client, "POST", "/api/v1/tasks", 201,
                       json={"agentType": "support", "prompt": "hello"})  # fmt: skip
    cancelled = await client.post(f"/api/v1/tasks/{task['taskId']}/cancel", headers=auth(client))
    body = await cancelled.json()
    assert cancelled.status == 200, body
    assert body["success"] is True and body["status"] == "cancelled"
    assert task["taskId"] in body["message"]
    conforms("/api/v1/tasks/{task_id}/cancel", "post", 200, body)


async def test_the_3d_routes_map_onto_the_pipeline(make_client: ClientFactory) -> None:
    client = await make_client()
    status = await _json(client, "GET", "/api/v1/3d/status", 200, "read")
    assert status["status"] == "healthy" and status["providers_total"] == 1
    conforms("/api/v1/3d/status", "get", 200, status)
    (provider,) = await _json(client, "GET", "/api/v1/3d/providers", 200, "read")
    assert provider["id"] == "offline" and provider["type"] == "local"
    job = await _json(client, "POST", "/api/v1/3d/generate/text", 202,
                      json={"prompt": PROMPT, "quality": "high", "provider": "offline"})  # fmt: skip
    conforms("/api/v1/3d/generate/text", "post", 202, job)
    assert job["input_type"] == "text" and job["input"] == PROMPT and job["provider"] == "offline"
    pipeline = await _json(client, "GET", f"/api/v1/3d-pipeline/{job['id']}", 200, "read")
    assert pipeline["quality"] == "production"  # "high"
    image = await _json(client, "POST", "/api/v1/3d/generate/image", 202,
                        json={"image_url": "https://example.com/vase.png"})  # fmt: skip
    assert image["input_type"] == "image" and image["input"] == "https://example.com/vase.png"
    jobs = await _json(client, "GET", "/api/v1/3d/jobs?limit=5", 200, "read")
    assert {j["id"] for j in jobs} == {job["id"], image["id"]}
    conforms("/api/v1/3d/jobs", "get", 200, jobs)
    one = await _json(client, "GET", f"/api/v1/3d/jobs/{job['id']}", 200, "read")
    assert one["id"] == job["id"] and None not in one.values()  # optional means absent


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/api/v1/3d/generate/text", {"prompt": "short"}, "invalid_prompt"),
        ("/api/v1/3d/generate/text", {"prompt": PROMPT, "quality": "ultra"}, "invalid_quality"),
        ("/api/v1/3d/generate/text", {"prompt": PROMPT, "provider": "meshy"}, "unknown_provider"),
        ("/api/v1/3d/generate/text", {"prompt": ["x"]}, "invalid_prompt"),
        ("/api/v1/3d/generate/image", {"image_url": "file:///etc/passwd"}, "invalid_image_url"),
        ("/api/v1/3d/generate/image", {}, "invalid_image_url"),
    ],
)
async def test_the_3d_routes_refuse_bad_input(
    make_client: ClientFactory, path: str, body: dict[str, Any], code: str
) -> None:
    client = await make_client()
    refused = await _json(client, "POST", path, 422, json=body)
    assert refused["error"] == code


async def test_the_3d_routes_need_a_token_and_write_to_start(make_client: ClientFactory) -> None:
    client = await make_client()
    assert (await client.get("/api/v1/3d/jobs")).status == 401
    resp = await client.post(
        "/api/v1/3d/generate/text", json={"prompt": PROMPT}, headers=auth(client, "read")
    )
    assert resp.status == 403
    assert (await client.get("/api/v1/3d/jobs/3d-000000000000", headers=auth(client))).status == 404
