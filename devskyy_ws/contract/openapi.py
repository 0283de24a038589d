"""OpenAPI 3.1 for the REST API, built at start-up from the attrs classes the server
serializes with (contract/jsonschema.py) and the route table's paths.

A test checks that every route is documented and validates the document against the
official JSON Schema; schemathesis drives the REST API from it.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

from ..services.roster import AGENT_TYPES
from ..services.series import RANGES
from ..version import __version__
from . import records as r
from . import requests as q
from .jsonschema import SchemaSet
from .messages import CHANNEL_MESSAGES, CHANNELS, PIPELINE_STAGES, TASK_STATUSES

__all__ = ["openapi_document"]

ERR = {"$ref": "#/components/schemas/Error"}
GROUP_RE = "(health|performance|ml|business|websocket)"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "details": {}},
    "required": ["error", "message"],
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON or a bad query value",
        401: "Missing, malformed, badly signed or expired token",
        403: "The token lacks the scope",
        404: "Unknown route or object",
        409: "Conflicting state",
        413: "Body too large",
        422: "Well-formed but invalid fields",
        429: "Rate limited (see Retry-After)",
        500: "Internal error (logged)",
        503: "A dependency is down",
    }
    return {
        str(c): {"description": text[c], "content": {"application/json": {"schema": ERR}}}
        for c in codes
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


AGENT_TYPE = {"type": "string", "enum": list(AGENT_TYPES)}
COMMON = (400, 401, 403, 404, 429, 500, 503)
WRITES = (*COMMON, 409, 413, 422)
HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "version": {"type": "string"},
        "uptime_s": {"type": "number"},
        "services": {
            "type": "object",
            "additionalProperties": {"type": "string", "enum": ["ok", "down"]},
        },
    },
    "required": ["status", "version", "uptime_s", "services"],
}
LIMIT = _query(
    "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size"
)
OFFSET = _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Items to skip")
PROVIDER_STATS = {
    "type": "object",
    "properties": {
        k: {"type": t}
        for k, t in [
            ("provider", "string"),
            ("total_competitions", "integer"),
            ("wins", "integer"),
            ("win_rate", "number"),
            ("avg_score", "number"),
            ("avg_latency_ms", "number"),
            ("total_cost_usd", "number"),
        ]
    },
    "required": [
        "provider",
        "total_competitions",
        "wins",
        "win_rate",
        "avg_score",
        "avg_latency_ms",
        "total_cost_usd",
    ],
}
PROVIDER_INFO = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "display_name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "model": {"type": "string"},
        "kind": {"type": "string"},
        "avg_latency_ms": {"type": "number"},
        "win_rate": {"type": "number"},
        "total_competitions": {"type": "integer"},
    },
    "required": [
        "name",
        "display_name",
        "enabled",
        "model",
        "avg_latency_ms",
        "win_rate",
        "total_competitions",
    ],
}


def _op(
    summary: str,
    scope: str | None,
    ok: dict[str, Any],
    *,
    status: str = "200",
    codes: tuple[int, ...] = COMMON,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": summary, "responses": {status: ok, **_errors(*codes)}}
    if scope is None:
        out["security"] = []
        out["responses"] = {status: ok, **_errors(500, 503)}
    else:
        out["security"] = [{"bearerAuth": [scope]}]
        out["description"] = f"Needs a bearer token with the `{scope}` scope (or higher)."
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return out


def _with(body: dict[str, Any], **properties: dict[str, Any]) -> dict[str, Any]:
    """A generated body with some properties' schemas set by the document (enums of
    the roster, the message union) that the contract module cannot know."""
    body["properties"].update(properties)
    return body


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
        "required": ["items", "total", "limit", "offset"],
    }


@attrs.frozen
class _Refs:
    """Schemas the paths share, registered once in the document's components."""

    s: SchemaSet
    task: dict[str, Any]
    agent: dict[str, Any]
    stats: dict[str, Any]
    tool: dict[str, Any]
    competition: dict[str, Any]
    pipeline: dict[str, Any]
    execute: dict[str, Any]
    event_message: dict[str, Any]
    health_op: dict[str, Any]


def _refs() -> _Refs:
    s = SchemaSet("#/components/schemas/")
    event_message: dict[str, list[Any]] = {"oneOf": []}  # filled from the message classes
    event_schemas = SchemaSet("#/components/schemas/")
    for cls in {c for classes in CHANNEL_MESSAGES.values() for c in classes}:
        event_schemas.ref(cls)
    for name, schema in event_schemas.schemas.items():
        relaxed = copy.deepcopy(schema)
        relaxed["required"] = [
            f for f in relaxed.get("required", []) if f not in ("timestamp", "data", "error_type")
        ]
        relaxed["properties"].pop("seq", None)
        relaxed["properties"].pop("epoch", None)
        s.schemas[f"{name}Input"] = relaxed
        if name not in ("MetricsSample",):
            event_message["oneOf"].append({"$ref": f"#/components/schemas/{name}Input"})
    for name, schema in event_schemas.schemas.items():
        s.schemas.setdefault(name, schema)

    health_op = _op("Health check (no auth)", None, _json(HEALTH))
    health_op["responses"]["503"] = _json(HEALTH, "A dependency is down")
    return _Refs(
        s,
        s.ref(r.TaskRecord),
        s.ref(r.AgentInfo),
        s.ref(r.AgentStats),
        s.ref(r.ToolInfo),
        s.ref(r.CompetitionRecord),
        s.ref(r.PipelineRecord),
        s.ref(r.ExecuteResponse),
        event_message,
        health_op,
    )


def _service_paths(c: _Refs) -> dict[str, Any]:
    event_message, health_op = c.event_message, c.health_op
    return {
        "/health": {"get": health_op},
        "/api/v1/health": {"get": health_op},
        "/api/v1/auth/me": {
            "get": _op(
                "The verified claims of the token",
                "read",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "sub": {"type": "string"},
                            "scope": {"type": "string"},
                            "exp": {"type": "integer"},
                        },
                        "required": ["sub", "scope", "exp"],
                    }
                ),
            )
        },
        "/api/v1/events": {
            "post": _op(
                "Publish a message on a channel (workers, cron jobs, other services)",
                "write",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "channel": {"type": "string", "enum": list(CHANNELS)},
                            "delivered": {"type": "integer"},
                        },
                        "required": ["channel", "delivered"],
                    },
                    "Accepted and published",
                ),
                status="202",
                codes=WRITES,
                body=_with(c.s.request_body(q.EventSubmission), message=event_message),
            )
        },
        "/api/v1/openapi.json": {"get": _op("This document", None, _json({"type": "object"}))},
        "/api/v1/asyncapi.json": {
            "get": _op("The channels' AsyncAPI document", None, _json({"type": "object"}))
        },
    }


def _agent_paths(c: _Refs) -> dict[str, Any]:
    agent, stats, tool, execute = c.agent, c.stats, c.tool, c.execute
    return {
        "/api/v1/agents": {
            "get": _op(
                "List all agents (a bare array)", "read", _json({"type": "array", "items": agent})
            )
        },
        "/api/v1/agents/{agent_type}": {
            "get": _op("One agent", "read", _json(agent), params=[_path("agent_type")])
        },
        "/api/v1/agents/{agent_type}/tools": {
            "get": _op(
                "An agent's tools",
                "read",
                _json({"type": "array", "items": tool}),
                params=[_path("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/stats": {
            "get": _op(
                "An agent's stats, from task records",
                "read",
                _json(stats),
                params=[_path("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/execute": {
            "post": _op(
                "Run a task on an agent; the result arrives on the task endpoints and channels",
                "write",
                _json(execute, "Started"),
                status="202",
                codes=WRITES,
                params=[_path("agent_type")],
                body=c.s.request_body(q.ExecuteRequest),
            )
        },
        "/api/v1/agents/{agent_type}/start": {
            "post": _op(
                "Start an agent", "write", _json(agent), codes=WRITES, params=[_path("agent_type")]
            )
        },
        "/api/v1/agents/{agent_type}/stop": {
            "post": _op(
                "Stop an agent (it refuses work with 409)",
                "write",
                _json(agent),
                codes=WRITES,
                params=[_path("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/learn": {
            "post": _op(
                "Start a learning cycle",
                "write",
                _json(agent, "Learning"),
                status="202",
                codes=WRITES,
                params=[_path("agent_type")],
            )
        },
    }


def _task_paths(c: _Refs) -> dict[str, Any]:
    task = c.task
    return {
        "/api/v1/tasks": {
            "get": _op(
                "Tasks, newest first (a bare array)",
                "read",
                _json({"type": "array", "items": task}),
                params=[
                    LIMIT,
                    _query("agent_type", AGENT_TYPE, "Filter by agent type"),
                    _query(
                        "status",
                        {"type": "string", "enum": list(TASK_STATUSES)},
                        "Filter by status",
                    ),
                ],
            ),
            "post": _op(
                "Submit a task",
                "write",
                _json(task, "Accepted"),
                status="201",
                codes=WRITES,
                body=_with(c.s.request_body(q.TaskSubmission), agentType=AGENT_TYPE),
            ),
        },
        "/api/v1/tasks/{task_id}": {
            "get": _op("One task", "read", _json(task), params=[_path("task_id")])
        },
        "/api/v1/tasks/{task_id}/cancel": {
            "post": _op(
                "Cancel a pending or running task",
                "write",
                _json(task),
                codes=WRITES,
                params=[_path("task_id")],
            )
        },
    }


def _round_table_paths(c: _Refs) -> dict[str, Any]:
    competition = c.competition
    return {
        "/api/v1/round-table": {
            "get": _op(
                "Competitions, newest first",
                "read",
                _json(_page(competition)),
                params=[LIMIT, OFFSET],
            )
        },
        "/api/v1/round-table/compete": {
            "post": _op(
                "Run a competition; answers when it is finished",
                "write",
                _json(competition),
                codes=WRITES,
                body=c.s.request_body(q.CompetitionRequest),
            )
        },
        "/api/v1/round-table/stats": {
            "get": _op(
                "Per-provider statistics from stored records",
                "read",
                _json({"type": "array", "items": PROVIDER_STATS}),
            )
        },
        "/api/v1/round-table/providers": {
            "get": _op(
                "The configured providers", "read", _json({"type": "array", "items": PROVIDER_INFO})
            )
        },
        "/api/v1/round-table/{competition_id}": {
            "get": _op(
                "One competition", "read", _json(competition), params=[_path("competition_id")]
            )
        },
    }


def _pipeline_paths(c: _Refs) -> dict[str, Any]:
    (pipeline,) = (c.pipeline,)
    return {
        "/api/v1/3d-pipeline": {
            "get": _op(
                "Pipelines, newest first",
                "read",
                _json(_page(pipeline)),
                params=[
                    LIMIT,
                    OFFSET,
                    _query(
                        "stage",
                        {"type": "string", "enum": list(PIPELINE_STAGES)},
                        "Filter by stage",
                    ),
                ],
            ),
            "post": _op(
                "Start a 3D asset pipeline",
                "write",
                _json(pipeline, "Started"),
                status="202",
                codes=WRITES,
                body=c.s.request_body(q.PipelineRequest),
            ),
        },
        "/api/v1/3d-pipeline/{pipeline_id}": {
            "get": _op("One pipeline", "read", _json(pipeline), params=[_path("pipeline_id")])
        },
        "/api/v1/3d-pipeline/{pipeline_id}/asset": {
            "get": _op(
                "The produced file (404 until completed)",
                "read",
                {
                    "description": "The GLB",
                    "content": {
                        "model/gltf-binary": {
                            "schema": {"type": "string", "contentMediaType": "model/gltf-binary"}
                        }
                    },
                },
                params=[_path("pipeline_id")],
            )
        },
        "/api/v1/3d-pipeline/{pipeline_id}/cancel": {
            "post": _op(
                "Cancel a running pipeline",
                "write",
                _json(pipeline),
                codes=WRITES,
                params=[_path("pipeline_id")],
            )
        },
    }


def _monitoring_paths(c: _Refs) -> dict[str, Any]:
    return {
        "/api/v1/monitoring/metrics": {
            "get": _op(
                "Health, performance, ML, business and WebSocket metrics",
                "read",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "timestamp": {"type": "string", "format": "date-time"},
                            "time_range": {"type": "string", "enum": list(RANGES)},
                            "health": {"type": "object"},
                            "performance": {"type": "object"},
                            "ml": {"type": "object"},
                            "business": {"type": "object"},
                            "websocket": {"type": "object"},
                        },
                        "required": ["timestamp", "time_range", "websocket"],
                    }
                ),
                params=[
                    _query(
                        "metrics",
                        {
                            "type": "string",
                            "pattern": f"^{GROUP_RE}(,{GROUP_RE})*$",
                        },
                        "Comma-separated groups (default all); may also repeat",
                    ),
                    _query(
                        "time_range",
                        {"type": "string", "enum": list(RANGES), "default": "1h"},
                        "History window",
                    ),
                ],
            )
        },
    }


def openapi_document() -> dict[str, Any]:
    c = _refs()
    paths: dict[str, Any] = {}
    for section in (_service_paths, _agent_paths, _task_paths, _round_table_paths,
                    _pipeline_paths, _monitoring_paths):  # fmt: skip
        paths |= section(c)
    s = c.s
    s.schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "devskyy_ws REST API",
            "version": __version__,
            "description": (
                "REST API of the DevSkyy real-time backend. Errors are always {error, message}."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": s.schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Scopes: read (GET), write (GET, POST), admin (everything).",
                }
            },
        },
    }
