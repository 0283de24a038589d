"""Tasks REST section: `/api/v1/tasks...` (camelCase, as the document shows)."""

from __future__ import annotations

from aiohttp import web

from ...contract.compat import cancelled_task_view
from ...contract.messages import TASK_STATUSES
from ...contract.requests import MAX_SEARCH_CHARS, TaskSubmission
from ...keys import SERVICES_KEY
from ..responses import json_response
from .common import query_choice, query_int, query_text, read_body

__all__ = ["cancel_task", "get_task", "list_tasks", "submit_task"]


async def list_tasks(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0, 10_000_000)  # paging; the answer stays an array
    agent_type = query_choice(request, "agent_type", list(services.agents.agents))
    status = query_choice(request, "status", TASK_STATUSES)
    text = query_text(request, "q", MAX_SEARCH_CHARS)
    body = await services.tasks.recent_json(
        limit=limit, agent_type=agent_type, status=status, offset=offset, text=text
    )
    return json_response(body)


async def get_task(request: web.Request) -> web.Response:
    body = await request.app[SERVICES_KEY].tasks.get_json(request.match_info["task_id"])
    return json_response(body)


async def submit_task(request: web.Request) -> web.Response:
    body = await read_body(request, TaskSubmission)
    accepted = await request.app[SERVICES_KEY].tasks.submit(
        body.agent_type, body.prompt, body.parameters, bool(body.use_round_table)
    )
    return json_response(accepted.doc, status=201)


async def cancel_task(request: web.Request) -> web.Response:
    task = await request.app[SERVICES_KEY].tasks.cancel(request.match_info["task_id"])
    return json_response(cancelled_task_view(task))
