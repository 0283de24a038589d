"""Round Table REST section: `/api/v1/round-table...` (snake_case, as the document shows)."""

from __future__ import annotations

from aiohttp import web

from ...contract.compat import competition_view
from ...contract.requests import CompetitionRequest
from ...keys import SERVICES_KEY
from ..errors import ApiError
from ..responses import json_response
from .common import query_int, read_body

__all__ = ["compete", "get_competition", "latest", "list_competitions", "providers", "stats"]


async def list_competitions(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    items, total = await request.app[SERVICES_KEY].round_table.page(limit, offset)
    views = [competition_view(r) for r in items]
    return json_response({"items": views, "total": total, "limit": limit, "offset": offset})


async def get_competition(request: web.Request) -> web.Response:
    record = await request.app[SERVICES_KEY].round_table.get(request.match_info["competition_id"])
    return json_response(competition_view(record))


async def compete(request: web.Request) -> web.Response:
    body = await read_body(request, CompetitionRequest)
    record = await request.app[SERVICES_KEY].round_table.compete(
        body.prompt, body.task_id, body.providers
    )
    return json_response(competition_view(record))


async def stats(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES_KEY].round_table.stats())


async def providers(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES_KEY].round_table.provider_info())


async def latest(request: web.Request) -> web.Response:
    """The newest competition (what the original frontend's Round Table page opens on)."""
    items, _ = await request.app[SERVICES_KEY].round_table.page(1, 0)
    if not items:
        raise ApiError(404, "competition_not_found", "No competition has run yet.")
    return json_response(competition_view(items[0]))
