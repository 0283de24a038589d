"""`/api/v1/3d/...`: the original DevSkyy frontend's 3D routes, mapped onto the pipeline.

A job is a pipeline run (`/api/v1/3d-pipeline`); the provider is the configured
generator. What differs from the frontend's expectations is in docs/compatibility.md.
"""

from __future__ import annotations

import statistics
from typing import Any

from aiohttp import web

from ...contract.compat import job_view, three_d_quality
from ...contract.requests import ImageTo3DRequest, TextTo3DRequest
from ...keys import SERVICES_KEY, STORE_KEY
from ...services.pipeline3d import PipelineService
from ..errors import ApiError
from ..responses import json_response
from .common import query_int, read_body

__all__ = ["generate_image", "generate_text", "job", "jobs", "providers", "status"]

IMAGE_PROMPT = "A 3D model of the product in the reference image"
_KINDS = {"offline": "local", "tripo3d": "commercial"}


def _pipeline(request: web.Request) -> PipelineService:
    return request.app[SERVICES_KEY].pipeline


async def status(request: web.Request) -> web.Response:
    pipeline = _pipeline(request)
    running = len(pipeline.active)
    slots = pipeline.config.max_concurrent
    healthy = await request.app[STORE_KEY].ping()
    return json_response(
        {
            "status": "healthy" if healthy else "degraded",
            "active_jobs": min(running, slots),
            "queued_jobs": max(0, running - slots),
            "providers_online": 1,
            "providers_total": 1,
        }
    )


async def providers(request: web.Request) -> web.Response:
    pipeline = _pipeline(request)
    name = pipeline.config.generator.name
    recent, _ = await pipeline.page(50, 0, "completed")
    seconds = [(r.completed_at - r.created_at).total_seconds() for r in recent if r.completed_at]
    provider: dict[str, Any] = {
        "id": name,
        "name": name,
        "type": _KINDS.get(name, "commercial"),
        "capabilities": ["text_to_3d", "image_to_3d"],
        "avg_generation_time_s": round(statistics.fmean(seconds), 3) if seconds else 0.0,
        "status": "busy" if len(pipeline.active) >= pipeline.config.max_concurrent else "online",
    }
    return json_response([provider])


async def jobs(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 20, 1, 100)
    records, _ = await _pipeline(request).page(limit, 0, None)
    return json_response([job_view(r) for r in records])


async def job(request: web.Request) -> web.Response:
    return json_response(job_view(await _pipeline(request).get(request.match_info["job_id"])))


def _check_provider(pipeline: PipelineService, provider: str | None) -> None:
    name = pipeline.config.generator.name
    if provider is not None and provider != name:
        raise ApiError(
            422,
            "unknown_provider",
            f"Provider {provider!r} is not configured; this server generates with {name!r}.",
            details={"field": "provider", "allowed": [name]},
        )


async def generate_text(request: web.Request) -> web.Response:
    body = await read_body(request, TextTo3DRequest)
    pipeline = _pipeline(request)
    _check_provider(pipeline, body.provider)
    record = await pipeline.submit(body.prompt, "glb", three_d_quality(body.quality))
    return json_response(job_view(record), status=202)


async def generate_image(request: web.Request) -> web.Response:
    body = await read_body(request, ImageTo3DRequest)
    pipeline = _pipeline(request)
    _check_provider(pipeline, body.provider)
    record = await pipeline.submit(
        IMAGE_PROMPT, "glb", three_d_quality(body.quality), image_url=body.image_url
    )
    return json_response(job_view(record), status=202)
