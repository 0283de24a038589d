"""Agents REST section: `/api/v1/agents...` (camelCase bodies, as the document shows)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ...contract import serde
from ...contract.records import ExecuteResponse
from ...contract.requests import ExecuteRequest
from ...keys import SERVICES_KEY
from .common import read_body

__all__ = ["execute", "get_agent", "learn", "list_agents", "start", "stats", "stop", "tools"]


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(serde.unstructure(payload), status=status)


async def list_agents(request: web.Request) -> web.Response:
    return _json(await request.app[SERVICES_KEY].agents.all())


async def get_agent(request: web.Request) -> web.Response:
    return _json(await request.app[SERVICES_KEY].agents.info(request.match_info["agent_type"]))


async def tools(request: web.Request) -> web.Response:
    runtime = request.app[SERVICES_KEY].agents.runtime(request.match_info["agent_type"])
    return _json(list(runtime.definition.tools))


async def stats(request: web.Request) -> web.Response:
    return _json(await request.app[SERVICES_KEY].agents.stats(request.match_info["agent_type"]))


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
    return web.json_response(serde.unstructure(answer), status=202)


async def start(request: web.Request) -> web.Response:
    info = await request.app[SERVICES_KEY].agents.set_stopped(
        request.match_info["agent_type"], False
    )
    return _json(info)


async def stop(request: web.Request) -> web.Response:
    info = await request.app[SERVICES_KEY].agents.set_stopped(
        request.match_info["agent_type"], True
    )
    return _json(info)


async def learn(request: web.Request) -> web.Response:
    info = await request.app[SERVICES_KEY].agents.learn(request.match_info["agent_type"])
    return _json(info, status=202)
