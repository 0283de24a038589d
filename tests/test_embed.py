"""Embedding: the app mounted under a prefix in a host application."""

from __future__ import annotations

from typing import Any

from aiohttp import WSMsgType, web

from devskyy_ws import HUB_KEY, JWT_KEY, Settings, create_app
from devskyy_ws.contract.messages import AgentStatusUpdate


async def test_subapp_serves_rest_ws_and_host_publishes(
    aiohttp_client: Any, settings: Settings
) -> None:
    parent = web.Application()
    devskyy = create_app(settings)

    async def host_handler(request: web.Request) -> web.Response:
        hub = devskyy[HUB_KEY]
        delivered = await hub.publish(
            "agents",
            AgentStatusUpdate(agent_id="host-1", status="running", data={"agent_type": "host"}),
        )
        return web.json_response({"delivered": delivered})

    parent.router.add_post("/host/publish", host_handler)
    parent.add_subapp("/devskyy", devskyy)
    client = await aiohttp_client(parent)

    health = await client.get("/devskyy/health")
    assert health.status == 200
    token = devskyy[JWT_KEY].mint("host", "read")
    me = await client.get("/devskyy/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["sub"] == "host"
    assert (await client.get("/devskyy/api/v1/auth/me")).status == 401

    ws = await client.ws_connect("/devskyy/api/ws/agents")
    await ws.send_json({"type": "ping"})
    assert (await ws.receive_json())["type"] == "pong"
    resp = await client.post("/host/publish")
    assert (await resp.json())["delivered"] == 1
    message = await ws.receive_json()
    assert message["agent_id"] == "host-1" and message["status"] == "running"
    await ws.close()


async def test_parent_shutdown_closes_subapp_sockets_with_1001(
    aiohttp_client: Any, settings: Settings
) -> None:
    parent = web.Application()
    parent.add_subapp("/devskyy", create_app(settings))
    client = await aiohttp_client(parent)
    ws = await client.ws_connect("/devskyy/api/ws/tasks")
    await client.server.close()  # runs the parent's shutdown and cleanup
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == 1001
