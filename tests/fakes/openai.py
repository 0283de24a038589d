"""A local server speaking the OpenAI chat-completions API, with scripted behaviour."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from aiohttp import web

from .base import LocalFake


class FakeOpenAI(LocalFake):
    """Each request pops the next scripted reply; when the script is empty, it answers.

    Script items: ("ok", text) | ("raw", exact content) | ("status", code) | ("sleep", seconds)
    | ("malformed", body)
    | ("gate", event) — waits for an asyncio.Event before answering.
    """

    def __init__(self, default_text: str = "fake answer") -> None:
        self.script: deque[tuple[str, Any]] = deque()
        self.default_text = default_text
        self.requests: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None
        self.arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        super().__init__(app)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("Authorization")})
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        kind, value = self.script.popleft() if self.script else ("ok", self.default_text)
        if kind == "status":
            return web.json_response(
                {"error": {"message": "scripted"}}, status=int(value), headers={"Retry-After": "0"}
            )
        if kind == "sleep":
            await asyncio.sleep(float(value))
            kind, value = "ok", self.default_text
        if kind == "malformed":
            return web.Response(text=value, content_type="application/json")
        user = body["messages"][-1]["content"]
        content = value if kind == "raw" else f"{value}: {user[:40]}"
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            }
        )
