"""A local server speaking the WordPress media and WooCommerce product REST APIs."""

from __future__ import annotations

import base64
from collections import deque
from typing import Any

from aiohttp import web

from .base import LocalFake


class FakeWordPress(LocalFake):
    def __init__(self, user: str = "shop", password: str = "abcd efgh ijkl mnop") -> None:
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.media: list[dict[str, Any]] = []
        self.products: dict[int, list[dict[str, Any]]] = {}
        self.media_failures: deque[int] = deque()
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/wp-json/wp/v2/media", self.upload)
        app.router.add_put("/wp-json/wc/v3/products/{product_id}", self.product)
        super().__init__(app)

    @property
    def base_url(self) -> str:
        return self.origin

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == self.expected

    async def upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "rest_not_logged_in"}, status=401)
        if self.media_failures:
            return web.json_response({"code": "busy"}, status=self.media_failures.popleft())
        body = await request.read()
        media_id = len(self.media) + 1
        self.media.append(
            {
                "id": media_id,
                "bytes": body,
                "type": request.headers.get("Content-Type"),
                "disposition": request.headers.get("Content-Disposition"),
            }
        )
        return web.json_response(
            {"id": media_id, "source_url": f"{self.base_url}/wp-content/uploads/{media_id}.glb"},
            status=201,
        )

    async def product(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "woocommerce_rest_cannot_edit"}, status=401)
        product_id = int(request.match_info["product_id"])
        body = await request.json()
        self.products[product_id] = body["meta_data"]
        return web.json_response({"id": product_id, "meta_data": body["meta_data"]})
