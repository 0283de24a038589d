"""3D pipeline REST section: `/api/v1/3d-pipeline...` (snake_case, like the channel)."""

from __future__ import annotations

from aiohttp import web

from ...contract.messages import PIPELINE_STAGES
from ...contract.requests import PipelineRequest
from ...keys import SERVICES_KEY
from ..auth import requires_scope
from ..errors import ApiError
from ..responses import json_response
from .common import query_choice, query_int, read_body

__all__ = ["asset", "cancel", "get_pipeline", "list_pipelines", "start_pipeline"]


@requires_scope("write")
async def start_pipeline(request: web.Request) -> web.Response:
    body = await read_body(request, PipelineRequest)
    record = await request.app[SERVICES_KEY].pipeline.submit(
        body.prompt, body.format, body.quality, body.image_url, body.product_id
    )
    return json_response(record, status=202)


async def list_pipelines(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    stage = query_choice(request, "stage", PIPELINE_STAGES)
    items, total = await request.app[SERVICES_KEY].pipeline.page(limit, offset, stage)
    return json_response({"items": items, "total": total, "limit": limit, "offset": offset})


async def get_pipeline(request: web.Request) -> web.Response:
    record = await request.app[SERVICES_KEY].pipeline.get(request.match_info["pipeline_id"])
    return json_response(record)


async def asset(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICES_KEY].pipeline
    record = await service.get(request.match_info["pipeline_id"])
    path = service.asset_path(record)
    if path is None and record.asset_status == "expired":
        raise ApiError(
            410, "asset_expired", f"The asset of {record.pipeline_id} was removed by retention."
        )
    if path is None:
        raise ApiError(
            404, "asset_not_ready", f"Pipeline {record.pipeline_id} has no asset ({record.stage})."
        )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "model/gltf-binary",
            "Content-Disposition": f'attachment; filename="{record.pipeline_id}.{record.format}"',
        },
    )


async def cancel(request: web.Request) -> web.Response:
    record = await request.app[SERVICES_KEY].pipeline.cancel(request.match_info["pipeline_id"])
    return json_response(record)
