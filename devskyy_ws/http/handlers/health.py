"""Health checks (no auth) and the token introspection endpoint."""

from __future__ import annotations

import time

from aiohttp import web

from ...keys import HUB_KEY, STARTED_KEY, STORE_KEY
from ...version import __version__
from ..auth import claims_of, public
from ..responses import json_response

__all__ = ["auth_me", "health"]


@public
async def health(request: web.Request) -> web.Response:
    """200 when every dependency answers, 503 naming the one that does not."""
    app = request.app
    services = {
        "database": "ok" if await app[STORE_KEY].ping() else "down",
        "broker": "ok" if app[HUB_KEY].broker.healthy else "down",
    }
    ok = all(v == "ok" for v in services.values())
    body = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "uptime_s": round(time.monotonic() - app[STARTED_KEY], 3),
        "services": services,
    }
    return json_response(body, status=200 if ok else 503)


async def auth_me(request: web.Request) -> web.Response:
    claims = claims_of(request)
    assert claims is not None  # the auth middleware ran
    return json_response({"sub": claims.sub, "scope": " ".join(claims.scope), "exp": claims.exp})
