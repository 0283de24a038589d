"""The paths this server answers for the original DevSkyy frontend (docs/compatibility.md):
Kubernetes-style probes, the newest competition, and the 3D routes over the pipeline.
"""

from __future__ import annotations

from typing import Any

from . import requests as q
from .openapi_schemas import LIMIT, WRITES, Refs, json_body, op, path_param

__all__ = ["frontend_paths"]

_STRING = {"type": "string"}
_PROBE = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "services": {"type": "object", "additionalProperties": {"type": "string"}},
        "uptime": {"type": "number"},
        "uptime_s": {"type": "number"},
        "timestamp": {"type": "string", "format": "date-time"},
    },
    "required": ["status"],
}
JOB = {
    "type": "object",
    "description": "A 3D pipeline run as the frontend's job; optional fields are omitted.",
    "properties": {
        "id": _STRING,
        "status": {"type": "string", "enum": ["queued", "processing", "completed", "failed"]},
        "provider": _STRING,
        "input_type": {"type": "string", "enum": ["text", "image"]},
        "input": _STRING,
        "output_url": _STRING,
        "error": _STRING,
        "created_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": "string", "format": "date-time"},
        "stage": _STRING,
        "progress": {"type": "number"},
    },
    "required": ["id", "status", "provider", "input_type", "input", "created_at"],
}
STATUS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["healthy", "degraded", "down"]},
        "active_jobs": {"type": "integer"},
        "queued_jobs": {"type": "integer"},
        "providers_online": {"type": "integer"},
        "providers_total": {"type": "integer"},
    },
    "required": ["status", "active_jobs", "queued_jobs", "providers_online", "providers_total"],
}
PROVIDER = {
    "type": "object",
    "properties": {
        "id": _STRING,
        "name": _STRING,
        "type": {"type": "string", "enum": ["commercial", "huggingface", "local"]},
        "capabilities": {"type": "array", "items": _STRING},
        "avg_generation_time_s": {"type": "number"},
        "status": {"type": "string", "enum": ["online", "offline", "busy"]},
    },
    "required": ["id", "name", "type", "capabilities", "avg_generation_time_s", "status"],
}


def frontend_paths(c: Refs) -> dict[str, Any]:
    probe_down = json_body(_PROBE, "The store or the broker is not usable")
    ready = op("Readiness: the store and the broker are usable (no auth)", None, json_body(_PROBE))
    ready["responses"]["503"] = probe_down
    job = json_body(JOB, "Accepted: the pipeline runs")
    return {
        "/live": {"get": op("Liveness: the process serves (no auth)", None, json_body(_PROBE))},
        "/ready": {"get": ready},
        "/api/v1/round-table/latest": {
            "get": op(
                "The newest competition (404 before the first)", "read", json_body(c.competition)
            )
        },
        "/api/v1/3d/status": {"get": op("The 3D pipeline's load", "read", json_body(STATUS))},
        "/api/v1/3d/providers": {
            "get": op(
                "The configured generator", "read", json_body({"type": "array", "items": PROVIDER})
            )
        },
        "/api/v1/3d/jobs": {
            "get": op(
                "Pipeline runs as jobs, newest first",
                "read",
                json_body({"type": "array", "items": JOB}),
                params=[LIMIT],
            )
        },
        "/api/v1/3d/jobs/{job_id}": {
            "get": op("One job", "read", json_body(JOB), params=[path_param("job_id")])
        },
        "/api/v1/3d/generate/text": {
            "post": op(
                "Start a pipeline from a prompt",
                "write",
                job,
                status="202",
                codes=WRITES,
                body=c.s.request_body(q.TextTo3DRequest),
            )
        },
        "/api/v1/3d/generate/image": {
            "post": op(
                "Start a pipeline from a reference image",
                "write",
                job,
                status="202",
                codes=WRITES,
                body=c.s.request_body(q.ImageTo3DRequest),
            )
        },
    }
