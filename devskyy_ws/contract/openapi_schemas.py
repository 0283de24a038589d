"""The OpenAPI document's building blocks: one operation, its parameters and errors,
and the schemas several paths share. contract/openapi.py assembles the paths.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

from ..services.roster import AGENT_TYPES
from . import records as r
from .jsonschema import SchemaSet
from .messages import CHANNEL_MESSAGES

__all__ = [
    "AGENT_TYPE",
    "COMMON",
    "ERROR_SCHEMA",
    "GROUP_RE",
    "HEALTH",
    "LIMIT",
    "OFFSET",
    "PROVIDER_INFO",
    "PROVIDER_STATS",
    "WRITES",
    "Refs",
    "json_body",
    "op",
    "page",
    "path_param",
    "query",
    "refs",
    "with_properties",
]

ERR = {"$ref": "#/components/schemas/Error"}
GROUP_RE = "(health|performance|ml|business|websocket)"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "details": {}},
    "required": ["error", "message"],
}


def errors(*codes: int) -> dict[str, Any]:
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


def json_body(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
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
        "uptime": {"type": "number", "description": "uptime_s again, for the DevSkyy frontend"},
        "timestamp": {"type": "string", "format": "date-time"},
        "environment": {"type": "string"},
        "rate_limits": {"type": "string", "enum": ["shared", "local"]},
        "services": {
            "type": "object",
            "additionalProperties": {"type": "string", "enum": ["ok", "down"]},
        },
    },
    "required": ["status", "version", "uptime_s", "services"],
}
LIMIT = query(
    "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size"
)
OFFSET = query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Items to skip")
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


def op(
    summary: str,
    scope: str | None,
    ok: dict[str, Any],
    *,
    status: str = "200",
    codes: tuple[int, ...] = COMMON,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": summary, "responses": {status: ok, **errors(*codes)}}
    if scope is None:
        out["security"] = []
        out["responses"] = {status: ok, **errors(500, 503)}
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


def with_properties(body: dict[str, Any], **properties: dict[str, Any]) -> dict[str, Any]:
    """A generated body with some properties' schemas set by the document (enums of
    the roster, the message union) that the contract module cannot know."""
    body["properties"].update(properties)
    return body


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


@attrs.frozen
class Refs:
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
    agent_answer: dict[str, Any]  # after start or stop
    learn_answer: dict[str, Any]
    cancel_answer: dict[str, Any]


def refs() -> Refs:
    s = SchemaSet("#/components/schemas/")
    event_message: dict[str, list[Any]] = {"oneOf": []}  # filled from the message classes
    event_schemas = SchemaSet("#/components/schemas/")
    for cls in dict.fromkeys(c for classes in CHANNEL_MESSAGES.values() for c in classes):
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

    health_op = op("Health check (no auth)", None, json_body(HEALTH))
    health_op["responses"]["503"] = json_body(HEALTH, "A dependency is down")
    success = {"type": "boolean", "const": True}
    entry = extend(s, r.CompetitionEntry, "CompetitionEntryAnswer", response_preview=TEXT)
    competition = extend(
        s,
        r.CompetitionRecord,
        "CompetitionAnswer",
        {r.CompetitionEntry.__name__: entry},
        id=TEXT,
        prompt_preview=TEXT,
        ab_test_reasoning=NULLABLE_TEXT,
        ab_test_confidence=NULLABLE_NUMBER,
        winner_provider=NULLABLE_TEXT,
        winner_score=NULLABLE_NUMBER,
    )
    return Refs(
        s,
        s.ref(r.TaskRecord),
        s.ref(r.AgentInfo),
        s.ref(r.AgentStats),
        s.ref(r.ToolInfo),
        competition,
        s.ref(r.PipelineRecord),
        s.ref(r.ExecuteResponse),
        event_message,
        health_op,
        extend(s, r.AgentInfo, "AgentAnswer", success=success),
        extend(s, r.AgentInfo, "LearnAnswer", success=success, learningCycles={"type": "integer"}),
        extend(s, r.TaskRecord, "CancelAnswer", success=success, message=TEXT),
    )


TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}


def extend(
    s: SchemaSet,
    cls: type[Any],
    name: str,
    swap: dict[str, dict[str, Any]] | None = None,
    **properties: dict[str, Any],
) -> dict[str, Any]:
    """`cls`'s schema with more properties (a superset answer, contract/compat.py), its
    references to the schemas named in `swap` replaced. Registered as `name`."""
    s.ref(cls)
    schema = copy.deepcopy(s.schemas[cls.__name__])
    schema["properties"].update(properties)
    schema["required"] = [*schema["required"], *properties]
    if swap:
        schema = _swapped(schema, {s.ref_for(k)["$ref"]: v for k, v in swap.items()})
    s.schemas[name] = schema
    return {"$ref": f"{s.prefix}{name}"}


def _swapped(node: Any, refs: dict[str, dict[str, Any]]) -> Any:
    if isinstance(node, dict):
        if node.get("$ref") in refs:
            return refs[node["$ref"]]
        return {k: _swapped(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_swapped(v, refs) for v in node]
    return node
