"""The machine-readable contract: OpenAPI 3.1 for REST, AsyncAPI 3 for the channels.

Built at start-up from the attrs classes the server serializes with (`jsonschema_gen`),
the route table and the message registry. A test checks that every route is documented
and validates both documents against their official JSON Schemas; schemathesis drives
the REST API from the OpenAPI document.
"""

from __future__ import annotations

import copy
from typing import Any

from ..channels.protocol import SNAPSHOT_ALIASES
from ..services.roster import AGENT_TYPES
from ..services.series import RANGES
from ..version import __version__
from . import messages as m
from . import records as r
from .jsoncheck import MAX_TEXT_BYTES
from .jsonschema import SchemaSet
from .messages import CHANNEL_MESSAGES, CHANNELS, PIPELINE_STAGES, TASK_STATUSES, type_name

__all__ = ["asyncapi_document", "openapi_document"]

ERR = {"$ref": "#/components/schemas/Error"}
TEXT_PROMPT = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TEXT_BYTES,
    "x-max-bytes": MAX_TEXT_BYTES,
    "description": (
        f"At most {MAX_TEXT_BYTES:,} bytes of UTF-8 (413 over it); maxLength counts "
        "characters, so text outside ASCII meets the byte limit first. Every string in a "
        "request body has the same byte limit."
    ),
}
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


def openapi_document() -> dict[str, Any]:
    s = SchemaSet("#/components/schemas/")
    task, agent, stats, tool = (
        s.ref(r.TaskRecord),
        s.ref(r.AgentInfo),
        s.ref(r.AgentStats),
        s.ref(r.ToolInfo),
    )
    competition, pipeline, execute = (
        s.ref(r.CompetitionRecord),
        s.ref(r.PipelineRecord),
        s.ref(r.ExecuteResponse),
    )
    agent_type = {"type": "string", "enum": list(AGENT_TYPES)}
    common = (400, 401, 403, 404, 429, 500, 503)
    writes = (*common, 409, 413, 422)

    def op(
        summary: str,
        scope: str | None,
        ok: dict[str, Any],
        *,
        status: str = "200",
        codes: tuple[int, ...] = common,
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

    def page(item: dict[str, Any]) -> dict[str, Any]:
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

    health = {
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
    health_op = op("Health check (no auth)", None, _json(health))
    health_op["responses"]["503"] = _json(health, "A dependency is down")
    limit = _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size"
    )
    offset = _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Items to skip")
    provider_stats = {
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
    provider_info = {
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

    paths: dict[str, Any] = {
        "/health": {"get": health_op},
        "/api/v1/health": {"get": health_op},
        "/api/v1/auth/me": {
            "get": op(
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
            "post": op(
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
                codes=writes,
                body={
                    "type": "object",
                    "properties": {
                        "channel": {"type": "string", "enum": list(CHANNELS)},
                        "message": event_message,
                    },
                    "required": ["channel", "message"],
                },
            )
        },
        "/api/v1/agents": {
            "get": op(
                "List all agents (a bare array)", "read", _json({"type": "array", "items": agent})
            )
        },
        "/api/v1/agents/{agent_type}": {
            "get": op("One agent", "read", _json(agent), params=[_path("agent_type")])
        },
        "/api/v1/agents/{agent_type}/tools": {
            "get": op(
                "An agent's tools",
                "read",
                _json({"type": "array", "items": tool}),
                params=[_path("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/stats": {
            "get": op(
                "An agent's stats, from task records",
                "read",
                _json(stats),
                params=[_path("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/execute": {
            "post": op(
                "Run a task on an agent; the result arrives on the task endpoints and channels",
                "write",
                _json(execute, "Started"),
                status="202",
                codes=writes,
                params=[_path("agent_type")],
                body={
                    "type": "object",
                    "properties": {
                        "task": TEXT_PROMPT,
                        "parameters": {"type": "object"},
                        "use_round_table": {"type": "boolean"},
                    },
                    "required": ["task"],
                },
            )
        },
        "/api/v1/agents/{agent_type}/start": {
            "post": op(
                "Start an agent", "write", _json(agent), codes=writes, params=[_path("agent_type")]
            )
        },
        "/api/v1/agents/{agent_type}/stop": {
            "post": op(
                "Stop an agent (it refuses work with 409)",
                "write",
                _json(agent),
                codes=writes,
                params=[_path("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/learn": {
            "post": op(
                "Start a learning cycle",
                "write",
                _json(agent, "Learning"),
                status="202",
                codes=writes,
                params=[_path("agent_type")],
            )
        },
        "/api/v1/tasks": {
            "get": op(
                "Tasks, newest first (a bare array)",
                "read",
                _json({"type": "array", "items": task}),
                params=[
                    limit,
                    _query("agent_type", agent_type, "Filter by agent type"),
                    _query(
                        "status",
                        {"type": "string", "enum": list(TASK_STATUSES)},
                        "Filter by status",
                    ),
                ],
            ),
            "post": op(
                "Submit a task",
                "write",
                _json(task, "Accepted"),
                status="201",
                codes=writes,
                body={
                    "type": "object",
                    "properties": {
                        "agentType": agent_type,
                        "prompt": TEXT_PROMPT,
                        "parameters": {"type": "object"},
                        "useRoundTable": {"type": "boolean"},
                    },
                    "required": ["agentType", "prompt"],
                },
            ),
        },
        "/api/v1/tasks/{task_id}": {
            "get": op("One task", "read", _json(task), params=[_path("task_id")])
        },
        "/api/v1/tasks/{task_id}/cancel": {
            "post": op(
                "Cancel a pending or running task",
                "write",
                _json(task),
                codes=writes,
                params=[_path("task_id")],
            )
        },
        "/api/v1/round-table": {
            "get": op(
                "Competitions, newest first",
                "read",
                _json(page(competition)),
                params=[limit, offset],
            )
        },
        "/api/v1/round-table/compete": {
            "post": op(
                "Run a competition; answers when it is finished",
                "write",
                _json(competition),
                codes=writes,
                body={
                    "type": "object",
                    "properties": {
                        "prompt": TEXT_PROMPT,
                        "task_id": {"type": ["string", "null"]},
                        "providers": {"type": ["array", "null"], "items": {"type": "string"}},
                    },
                    "required": ["prompt"],
                },
            )
        },
        "/api/v1/round-table/stats": {
            "get": op(
                "Per-provider statistics from stored records",
                "read",
                _json({"type": "array", "items": provider_stats}),
            )
        },
        "/api/v1/round-table/providers": {
            "get": op(
                "The configured providers", "read", _json({"type": "array", "items": provider_info})
            )
        },
        "/api/v1/round-table/{competition_id}": {
            "get": op(
                "One competition", "read", _json(competition), params=[_path("competition_id")]
            )
        },
        "/api/v1/3d-pipeline": {
            "get": op(
                "Pipelines, newest first",
                "read",
                _json(page(pipeline)),
                params=[
                    limit,
                    offset,
                    _query(
                        "stage",
                        {"type": "string", "enum": list(PIPELINE_STAGES)},
                        "Filter by stage",
                    ),
                ],
            ),
            "post": op(
                "Start a 3D asset pipeline",
                "write",
                _json(pipeline, "Started"),
                status="202",
                codes=writes,
                body={
                    "type": "object",
                    "properties": {
                        "prompt": {
                            "type": "string",
                            "minLength": 10,
                            "maxLength": 500,
                            "description": "10 to 500 characters (Unicode code points).",
                        },
                        "format": {"type": "string", "enum": ["glb"], "default": "glb"},
                        "quality": {
                            "type": "string",
                            "enum": ["preview", "production"],
                            "default": "preview",
                        },
                        "image_url": {"type": ["string", "null"], "format": "uri"},
                        "product_id": {"type": ["integer", "null"], "minimum": 1},
                    },
                    "required": ["prompt"],
                },
            ),
        },
        "/api/v1/3d-pipeline/{pipeline_id}": {
            "get": op("One pipeline", "read", _json(pipeline), params=[_path("pipeline_id")])
        },
        "/api/v1/3d-pipeline/{pipeline_id}/asset": {
            "get": op(
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
            "post": op(
                "Cancel a running pipeline",
                "write",
                _json(pipeline),
                codes=writes,
                params=[_path("pipeline_id")],
            )
        },
        "/api/v1/monitoring/metrics": {
            "get": op(
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
        "/api/v1/openapi.json": {"get": op("This document", None, _json({"type": "object"}))},
        "/api/v1/asyncapi.json": {
            "get": op("The channels' AsyncAPI document", None, _json({"type": "object"}))
        },
    }
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


CLIENT_MESSAGES: dict[str, dict[str, Any]] = {
    "ping": {"type": "object", "properties": {"type": {"const": "ping"}}, "required": ["type"]},
    "subscribe": {
        "type": "object",
        "properties": {
            "type": {"const": "subscribe"},
            "filters": {
                "type": "object",
                "maxProperties": 16,
                "additionalProperties": {
                    "anyOf": [
                        {"type": ["string", "number", "boolean"]},
                        {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 256,
                            "items": {"type": ["string", "number", "boolean"]},
                        },
                    ]
                },
            },
        },
        "required": ["type"],
        "description": "No filters, or {}, means every message of the channel.",
    },
    "unsubscribe": {
        "type": "object",
        "properties": {"type": {"const": "unsubscribe"}},
        "required": ["type"],
    },
    "resume": {
        "type": "object",
        "properties": {
            "type": {"const": "resume"},
            "since": {"type": "integer", "minimum": 0},
            "epoch": {"type": "string"},
        },
        "required": ["type", "since"],
    },
    "snapshot": {
        "type": "object",
        "properties": {"type": {"enum": ["snapshot", *SNAPSHOT_ALIASES]}},
        "required": ["type"],
        "description": (
            "The channel's state now; get_agents, get_tasks, get_competitions, get_pipelines "
            "and get_metrics (the DevSkyy frontend's names) mean the same."
        ),
    },
    "auth": {
        "type": "object",
        "properties": {"type": {"const": "auth"}, "token": {"type": "string"}},
        "required": ["type", "token"],
    },
}

CLOSE_CODES = {
    "1001": "server shutting down",
    "1007": "invalid UTF-8 text",
    "1009": "message over 65,536 bytes",
    "4001": "authentication required, invalid or expired token",
    "4004": "Invalid channel name",
    "4008": "slow consumer",
}


def asyncapi_document() -> dict[str, Any]:
    s = SchemaSet("#/components/schemas/")
    per_connection = (
        m.Pong,
        m.Keepalive,
        m.Subscribed,
        m.Unsubscribed,
        m.Authenticated,
        m.ResyncRequired,
        m.Snapshot,
    )
    messages: dict[str, Any] = {}
    for cls in [*{c for v in CHANNEL_MESSAGES.values() for c in v}, *per_connection]:
        name = type_name(cls)
        messages[name] = {
            "name": name,
            "title": cls.__name__,
            "contentType": "application/json",
            "payload": s.ref(cls),
            "summary": (cls.__doc__ or name).strip().splitlines()[0],
        }
    for name, schema in CLIENT_MESSAGES.items():
        s.schemas[f"Client{name.title()}"] = schema
        messages[f"client_{name}"] = {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/Client{name.title()}"},
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        server_msgs = [type_name(c) for c in CHANNEL_MESSAGES[channel]] + [
            type_name(c) for c in per_connection
        ]
        client_msgs = [f"client_{n}" for n in CLIENT_MESSAGES]
        channels[channel] = {
            "address": f"/api/ws/{channel}",
            "description": (
                f"Updates on {channel}, also served at /ws/{channel}. A keepalive follows "
                "--keepalive seconds (default 25) of silence; "
                "protocol pings find dead peers. Close codes are listed in x-close-codes."
            ),
            "messages": {
                n: {"$ref": f"#/components/messages/{n}"} for n in server_msgs + client_msgs
            },
            "x-close-codes": CLOSE_CODES,
        }
        operations[f"receive_{channel}"] = {
            "action": "send",
            "summary": f"The server sends {channel} updates and answers",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in server_msgs],
        }
        operations[f"client_{channel}"] = {
            "action": "receive",
            "summary": "What a client may send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in client_msgs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "devskyy_ws channels",
            "version": __version__,
            "description": (
                "Real-time channels. Published messages carry seq and epoch (docs/protocol.md)."
            ),
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "Development server",
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": s.schemas, "messages": messages},
    }
