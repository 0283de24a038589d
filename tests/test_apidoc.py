"""The machine-readable API: valid documents, no drift from the routes, examples conform."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from openapi_spec_validator import validate as validate_openapi

from devskyy_ws.contract.asyncapi import asyncapi_document
from devskyy_ws.contract.openapi import openapi_document

from .conftest import ClientFactory, auth, require, require_binary
from .doc_examples import json_examples
from .server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TS = ROOT / "clients" / "typescript"
ASYNCAPI_SCHEMA = TS / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
UNDOCUMENTED = {
    "/api/ws/{channel}",
    "/api/ws/publish",  # in the AsyncAPI document
    "/ws/{channel}",
    "/static/{name}",
    "/",
    "/api/docs",
    "/metrics",
}


def test_openapi_is_valid_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate_openapi(document)


def test_asyncapi_is_valid_against_the_official_schema() -> None:
    require(ASYNCAPI_SCHEMA.exists(), "run `npm install` in clients/typescript for @asyncapi/specs")
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(asyncapi_document()))
    assert errors == [], [e.message for e in errors[:5]]


async def test_every_route_is_documented_and_nothing_else(make_client: ClientFactory) -> None:
    client = await make_client()
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and route.resource.canonical not in UNDOCUMENTED
    }
    documented = {
        (method, path) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routes == documented


async def test_served_documents_and_reference_page(make_client: ClientFactory) -> None:
    client = await make_client()
    for path in ("/api/v1/openapi.json", "/api/v1/asyncapi.json"):
        resp = await client.get(path)
        assert resp.status == 200 and resp.content_type == "application/json"
    openapi = await (await client.get("/api/v1/openapi.json")).json()
    assert openapi["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert openapi["paths"]["/api/v1/tasks"]["post"]["security"] == [{"bearerAuth": ["write"]}]
    page = await client.get("/api/docs")
    assert page.status == 200 and "docs.js" in await page.text()
    assert (await client.get("/static/docs.js")).status == 200
    dashboard = await (await client.get("/")).text()
    assert 'href="api/docs"' in dashboard


def _resolver(document: dict[str, Any]) -> Any:
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resource("urn:doc", DRAFT202012.create_resource(document))


def test_every_message_example_in_the_document_validates() -> None:
    document = asyncapi_document()
    registry = _resolver(document)
    messages = document["components"]["messages"]
    checked = 0
    for example in json_examples():
        if not isinstance(example, dict) or "type" not in example:
            continue
        key = example["type"] if example["type"] in messages else f"client_{example['type']}"
        ref = messages[key]["payload"]["$ref"].replace("#", "urn:doc#")
        validator = jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)
        errors = list(validator.iter_errors(example))
        assert errors == [], (example["type"], [e.message for e in errors])
        checked += 1
    assert checked >= 10


async def test_rest_responses_conform_to_the_openapi_schemas(make_client: ClientFactory) -> None:
    """A quick in-process check; schemathesis below does the thorough one."""
    client = await make_client()
    h = auth(client, "write")
    document = openapi_document()
    registry = _resolver(document)
    task = await (
        await client.post("/api/v1/tasks", json={"agentType": "commerce", "prompt": "x"}, headers=h)
    ).json()
    bodies = {
        ("/api/v1/agents", "get"): await (await client.get("/api/v1/agents", headers=h)).json(),
        ("/api/v1/tasks", "post"): task,
        ("/api/v1/round-table/stats", "get"): await (
            await client.get("/api/v1/round-table/stats", headers=h)
        ).json(),
    }
    for (path, method), body in bodies.items():
        op = document["paths"][path][method]
        status = next(iter(op["responses"]))
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        schema = json.loads(json.dumps(schema).replace('"#/', '"urn:doc#/'))
        errors = list(jsonschema.Draft202012Validator(schema, registry=registry).iter_errors(body))
        assert errors == [], (path, [e.message for e in errors[:3]])


async def test_schemathesis_drives_every_operation(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--rate-limit", "0")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "admin")
    try:
        out = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.base}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
                "--max-examples",
                os.environ.get("DEVSKYY_SCHEMATHESIS_EXAMPLES", "15"),
                "--seed",
                "1",
                "--no-color",
                "--exclude-path",
                "/api/v1/round-table/compete",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        assert server.terminate() == 0
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    # aiohttp itself logs the malformed-HTTP probes it refuses (400) before any handler
    # runs; our own code must never have logged an unhandled error.
    assert "unhandled error" not in server.log()
    assert "ERROR devskyy_ws" not in server.log()


def test_typescript_types_are_current_and_type_check() -> None:
    gen = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_typescript.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert gen.returncode == 0, gen.stderr
    require_binary("node")
    tsc = TS / "node_modules" / ".bin" / "tsc"
    require(tsc.exists(), "run `npm install` in clients/typescript for tsc")
    out = subprocess.run(
        [str(tsc), "-p", str(TS / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_openapi_document_is_the_same_in_every_process() -> None:
    """Built from ordered sources, never a set's iteration order (which follows ids)."""
    import subprocess
    import sys

    probe = (
        "import json, hashlib; from devskyy_ws.contract.openapi import openapi_document; "
        "print(hashlib.sha256(json.dumps(openapi_document()).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        for _ in range(3)
    }
    assert len(digests) == 1
