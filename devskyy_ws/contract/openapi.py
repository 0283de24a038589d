"""OpenAPI 3.1 for the REST API, built at start-up from the attrs classes the server
serializes with (contract/jsonschema.py) and the route table's paths.

A test checks that every route is documented and validates the document against the
official JSON Schema; schemathesis drives the REST API from it.
"""

from __future__ import annotations

from typing import Any

from ..services.series import RANGES
from ..version import __version__
from . import requests as q
from .messages import CHANNELS, PIPELINE_STAGES, TASK_STATUSES
from .openapi_compat import frontend_paths
from .openapi_schemas import (
    AGENT_TYPE,
    ERROR_SCHEMA,
    GROUP_RE,
    LIMIT,
    OFFSET,
    PROVIDER_INFO,
    PROVIDER_STATS,
    WRITES,
    Refs,
    json_body,
    op,
    page,
    path_param,
    query,
    refs,
    with_properties,
)
from .requests import MAX_BATCH

__all__ = ["openapi_document"]


def _service_paths(c: Refs) -> dict[str, Any]:
    health_op = c.health_op
    return {
        "/health": {"get": health_op},
        "/api/v1/health": {"get": health_op},
        "/api/v1/auth/me": {
            "get": op(
                "The verified claims of the token",
                "read",
                json_body(
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
        "/api/v1/events": {"post": _events_op(c)},
        "/api/v1/openapi.json": {"get": op("This document", None, json_body({"type": "object"}))},
        "/api/v1/asyncapi.json": {
            "get": op("The channels' AsyncAPI document", None, json_body({"type": "object"}))
        },
    }


def _events_op(c: Refs) -> dict[str, Any]:
    single = with_properties(c.s.request_body(q.EventSubmission), message=c.event_message)
    batch = {
        "type": "object",
        "properties": {"events": {"type": "array", "items": single, "minItems": 1,
                                  "maxItems": MAX_BATCH}},
        "required": ["events"],
        "description": "Validated whole first (422 naming the index; nothing published), "
        "then published in order; frames to one socket leave in one write.",
    }  # fmt: skip
    channel = {"type": "string", "enum": list(CHANNELS)}
    counts = {"type": "array", "items": {"type": "integer"}}
    answers = {"oneOf": [
        {"type": "object", "properties": {"channel": channel, "delivered": {"type": "integer"}},
         "required": ["channel", "delivered"]},
        {"type": "object", "properties": {"accepted": {"type": "integer"}, "delivered": counts},
         "required": ["accepted", "delivered"]},
    ]}  # fmt: skip
    operation = op(
        "Publish one event, or a batch of up to 1,000, on the channels (producers)",
        "publish",
        json_body(answers, "Accepted and published: to how many local sockets each went"),
        status="202",
        codes=WRITES,
        body={"oneOf": [single, batch]},
    )
    operation["description"] = (
        "Needs a bearer token with the `publish` scope (a producer's, which can do nothing "
        "else) or `write`. Limited per token subject by `--publish-rate` events per second, "
        "not by the REST limit."
    )
    return operation


def _agent_paths(c: Refs) -> dict[str, Any]:
    agent, stats, tool, execute = c.agent, c.stats, c.tool, c.execute
    return {
        "/api/v1/agents": {
            "get": op(
                "List all agents (a bare array)",
                "read",
                json_body({"type": "array", "items": agent}),
            )
        },
        "/api/v1/agents/{agent_type}": {
            "get": op("One agent", "read", json_body(agent), params=[path_param("agent_type")])
        },
        "/api/v1/agents/{agent_type}/tools": {
            "get": op(
                "An agent's tools",
                "read",
                json_body({"type": "array", "items": tool}),
                params=[path_param("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/stats": {
            "get": op(
                "An agent's stats, from task records",
                "read",
                json_body(stats),
                params=[path_param("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/execute": {
            "post": op(
                "Run a task on an agent; the result arrives on the task endpoints and channels",
                "write",
                json_body(execute, "Started"),
                status="202",
                codes=WRITES,
                params=[path_param("agent_type")],
                body=c.s.request_body(q.ExecuteRequest),
            )
        },
        "/api/v1/agents/{agent_type}/start": {
            "post": op(
                "Start an agent",
                "write",
                json_body(c.agent_answer),
                codes=WRITES,
                params=[path_param("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/stop": {
            "post": op(
                "Stop an agent (it refuses work with 409)",
                "write",
                json_body(c.agent_answer),
                codes=WRITES,
                params=[path_param("agent_type")],
            )
        },
        "/api/v1/agents/{agent_type}/learn": {
            "post": op(
                "Start a learning cycle",
                "write",
                json_body(c.learn_answer, "Learning"),
                status="202",
                codes=WRITES,
                params=[path_param("agent_type")],
            )
        },
    }


def _task_paths(c: Refs) -> dict[str, Any]:
    task = c.task
    return {
        "/api/v1/tasks": {
            "get": op(
                "Tasks, newest first (a bare array; page with offset)",
                "read",
                json_body({"type": "array", "items": task}),
                params=[
                    LIMIT,
                    OFFSET,
                    query("agent_type", AGENT_TYPE, "Filter by agent type"),
                    query(
                        "status",
                        {"type": "string", "enum": list(TASK_STATUSES)},
                        "Filter by status",
                    ),
                    query(
                        "q",
                        {"type": "string", "maxLength": q.MAX_SEARCH_CHARS},
                        "Search: tasks holding this text (prompt, result, error), any case,"
                        f" among the newest {q.SEARCH_WINDOW:,} the other filters select",
                    ),
                ],
            ),
            "post": op(
                "Submit a task",
                "write",
                json_body(task, "Accepted"),
                status="201",
                codes=WRITES,
                body=with_properties(c.s.request_body(q.TaskSubmission), agentType=AGENT_TYPE),
            ),
        },
        "/api/v1/tasks/{task_id}": {
            "get": op("One task", "read", json_body(task), params=[path_param("task_id")])
        },
        "/api/v1/tasks/{task_id}/cancel": {
            "post": op(
                "Cancel a pending or running task",
                "write",
                json_body(c.cancel_answer),
                codes=WRITES,
                params=[path_param("task_id")],
            )
        },
    }


def _round_table_paths(c: Refs) -> dict[str, Any]:
    competition = c.competition
    return {
        "/api/v1/round-table": {
            "get": op(
                "Competitions, newest first",
                "read",
                json_body(page(competition)),
                params=[LIMIT, OFFSET],
            )
        },
        "/api/v1/round-table/compete": {
            "post": op(
                "Run a competition; answers when it is finished",
                "write",
                json_body(competition),
                codes=WRITES,
                body=c.s.request_body(q.CompetitionRequest),
            )
        },
        "/api/v1/round-table/stats": {
            "get": op(
                "Per-provider statistics from stored records",
                "read",
                json_body({"type": "array", "items": PROVIDER_STATS}),
            )
        },
        "/api/v1/round-table/providers": {
            "get": op(
                "The configured providers",
                "read",
                json_body({"type": "array", "items": PROVIDER_INFO}),
            )
        },
        "/api/v1/round-table/{competition_id}": {
            "get": op(
                "One competition",
                "read",
                json_body(competition),
                params=[path_param("competition_id")],
            )
        },
    }


def _pipeline_paths(c: Refs) -> dict[str, Any]:
    (pipeline,) = (c.pipeline,)
    return {
        "/api/v1/3d-pipeline": {
            "get": op(
                "Pipelines, newest first",
                "read",
                json_body(page(pipeline)),
                params=[
                    LIMIT,
                    OFFSET,
                    query(
                        "stage",
                        {"type": "string", "enum": list(PIPELINE_STAGES)},
                        "Filter by stage",
                    ),
                ],
            ),
            "post": op(
                "Start a 3D asset pipeline",
                "write",
                json_body(pipeline, "Started"),
                status="202",
                codes=WRITES,
                body=c.s.request_body(q.PipelineRequest),
            ),
        },
        "/api/v1/3d-pipeline/{pipeline_id}": {
            "get": op(
                "One pipeline", "read", json_body(pipeline), params=[path_param("pipeline_id")]
            )
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
                params=[path_param("pipeline_id")],
            )
        },
        "/api/v1/3d-pipeline/{pipeline_id}/cancel": {
            "post": op(
                "Cancel a running pipeline",
                "write",
                json_body(pipeline),
                codes=WRITES,
                params=[path_param("pipeline_id")],
            )
        },
    }


def _monitoring_paths(c: Refs) -> dict[str, Any]:
    return {
        "/api/v1/monitoring/metrics": {
            "get": op(
                "Health, performance, ML, business and WebSocket metrics",
                "read",
                json_body(
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
                    query(
                        "metrics",
                        {
                            "type": "string",
                            "pattern": f"^{GROUP_RE}(,{GROUP_RE})*$",
                        },
                        "Comma-separated groups (default all); may also repeat",
                    ),
                    query(
                        "time_range",
                        {"type": "string", "enum": list(RANGES), "default": "1h"},
                        "History window",
                    ),
                ],
            )
        },
    }


def openapi_document() -> dict[str, Any]:
    c = refs()
    paths: dict[str, Any] = {}
    for section in (_service_paths, _agent_paths, _task_paths, _round_table_paths,
                    _pipeline_paths, _monitoring_paths, frontend_paths):  # fmt: skip
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
