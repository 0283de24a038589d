"""Packaged static files (the browser client, the dashboard) and the dashboard page."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from aiohttp import web

from ..auth import public
from ..errors import ApiError

__all__ = ["STATIC_DIR", "dashboard", "static_file"]

STATIC_DIR = Path(str(resources.files("devskyy_ws").joinpath("static")))
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


@public
async def static_file(request: web.Request) -> web.StreamResponse:
    """One flat directory, names checked by pattern: no path can leave it."""
    name = request.match_info["name"]
    path = STATIC_DIR / name
    if not _NAME.fullmatch(name) or ".." in name or not path.is_file():
        raise ApiError(404, "not_found", "No such file.")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": _TYPES.get(path.suffix, "application/octet-stream"),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


@public
async def dashboard(request: web.Request) -> web.StreamResponse:
    """The operations page; its links are relative, so it works under a mount prefix."""
    return web.FileResponse(
        STATIC_DIR / "index.html",
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": (
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
                "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
            ),
        },
    )
