"""A local server speaking Tripo3D's v2 openapi task API, with scripted task states."""

from __future__ import annotations

from collections import deque
from typing import Any

from aiohttp import web

from devskyy_ws.gltf.build import build_glb

from .base import LocalFake


class FakeTripo(LocalFake):
    """`states` are served one per poll (the last repeats); `create_failures` HTTP codes
    are answered to the first create calls."""

    def __init__(self) -> None:
        self.states: deque[dict[str, Any]] = deque(
            [
                {"status": "queued", "progress": 0},
                {"status": "running", "progress": 50},
                {"status": "success", "progress": 100},
            ]
        )
        self.create_failures: deque[int] = deque()
        self.model = build_glb("fake tripo rose ring", "preview")
        self.created: list[dict[str, Any]] = []
        self.polls = 0
        self.auth: list[str | None] = []
        app = web.Application()
        app.router.add_post("/v2/openapi/task", self.create)
        app.router.add_get("/v2/openapi/task/{task_id}", self.poll)
        app.router.add_get("/files/model.glb", self.download)
        super().__init__(app)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v2/openapi"

    async def create(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization"))
        if self.create_failures:
            return web.json_response(
                {"code": 1, "message": "busy"}, status=self.create_failures.popleft()
            )
        body = await request.json()
        self.created.append(body)
        return web.json_response({"code": 0, "data": {"task_id": f"tripo-{len(self.created)}"}})

    async def poll(self, request: web.Request) -> web.Response:
        self.polls += 1
        state = self.states.popleft() if len(self.states) > 1 else self.states[0]
        data: dict[str, Any] = {
            "task_id": request.match_info["task_id"],
            "type": "text_to_model",
            **state,
        }
        if state["status"] == "success":
            data["output"] = {"pbr_model": f"{self.origin}/files/model.glb"}
        return web.json_response({"code": 0, "data": data})

    async def download(self, request: web.Request) -> web.Response:
        return web.Response(body=self.model, content_type="model/gltf-binary")
