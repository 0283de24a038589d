"""Agents REST section: `/api/v1/agents...` (camelCase bodies, as the document shows)."""

from __future__ import annotations

import time

from aiohttp import web

from ...contract.compat import agent_view
from ...contract.records import ExecuteResponse
from ...contract.requests import ExecuteRequest
from ...keys import SERVICES_KEY
from ..responses import json_response
from .common import read_body

__all__ = ["execute", "get_agent", "learn", "list_agents", "start", "stats", "stop", "tools"]


async def list_agents(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES_KEY].agents.all())


async def get_agent(request: web.Request) -> web.Response:
    return json_response(
        await request.app[SERVICES_KEY].agents.info(request.match_info["agent_type"])
    )


async def tools(request: web.Request) -> web.Response:
    runtime = request.app[SERVICES_KEY].agents.runtime(request.match_info["agent_type"])
    return json_response(list(runtime.definition.tools))


async def stats(request: web.Request) -> web.Response:
    return json_response(
        await request.app[SERVICES_KEY].agents.stats(request.match_info["agent_type"])
    )


async def execute(request: web.Request) -> web.Response:
    received = time.perf_counter()
    services = request.app[SERVICES_KEY]
    agent_type = request.match_info["agent_type"]
    services.agents.runtime(agent_type)  # 404 before reading the body
    body = await read_body(request, ExecuteRequest)
    accepted = await services.tasks.submit(
        agent_type, body.task, body.parameters, bool(body.use_round_table)
    )
    answer = ExecuteResponse(
        task_id=accepted.id,
        agent_type=agent_type,
        status="started",
        result=None,
        latency_ms=round((time.perf_counter() - received) * 1000.0, 3),
        technique_used=accepted.technique,
    )
    return json_response(answer, status=202)


async def start(request: web.Request) -> web.Response:
    info = await request.app[SERVICES_KEY].agents.set_stopped(
        request.match_info["agent_type"], False
    )
    return json_response(agent_view(info))


async def stop(request: web.Request) -> web.Response:
    info = await request.app[SERVICES_KEY].agents.set_stopped(
        request.match_info["agent_type"], True
    )
    return json_response(agent_view(info))


async def learn(request: web.Request) -> web.Response:
    info = await request.app[SERVICES_KEY].agents.learn(request.match_info["agent_type"])
    return json_response(agent_view(info, learningCycles=info.stats.learning_cycles), status=202)
