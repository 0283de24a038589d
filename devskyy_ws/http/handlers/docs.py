"""The API documents and a readable reference page, served offline."""

from __future__ import annotations

from aiohttp import web

from ...contract.asyncapi import asyncapi_document
from ...contract.openapi import openapi_document
from ..auth import public
from ..responses import json_response
from .static import STATIC_DIR

__all__ = ["asyncapi", "docs_page", "openapi"]

_CACHE: dict[str, bytes] = {}


def _cached(name: str) -> bytes:
    """Built once per process: the documents depend only on the code."""
    if name not in _CACHE:
        import json

        document = openapi_document() if name == "openapi" else asyncapi_document()
        _CACHE[name] = json.dumps(document, indent=1).encode()
    return _CACHE[name]


@public
async def openapi(request: web.Request) -> web.Response:
    return json_response(_cached("openapi"))


@public
async def asyncapi(request: web.Request) -> web.Response:
    return json_response(_cached("asyncapi"))


@public
async def docs_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC_DIR / "docs.html",
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
    )
