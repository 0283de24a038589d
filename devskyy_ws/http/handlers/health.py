"""Health checks and probes (no auth), and the token introspection endpoint.

`/health` reports every dependency; `/live` means the process serves requests (a
Kubernetes liveness probe: restart me when it fails); `/ready` means the store and the
broker are usable (a readiness probe: send me traffic).
"""

from __future__ import annotations

import time

from aiohttp import web

from ...contract.messages import utcnow
from ...contract.serde import format_timestamp
from ...keys import HUB_KEY, SETTINGS_KEY, STARTED_KEY, STORE_KEY
from ...version import __version__
from ..auth import claims_of, public
from ..responses import json_response

__all__ = ["auth_me", "health", "live", "ready"]


async def _dependencies(app: web.Application) -> dict[str, str]:
    return {
        "database": "ok" if await app[STORE_KEY].ping() else "down",
        "broker": "ok" if app[HUB_KEY].broker.healthy else "down",
    }


def _clock(app: web.Application) -> dict[str, object]:
    uptime = round(time.monotonic() - app[STARTED_KEY], 3)
    return {"uptime_s": uptime, "uptime": uptime, "timestamp": format_timestamp(utcnow())}


@public
async def health(request: web.Request) -> web.Response:
    """200 when every dependency answers, 503 naming the one that does not."""
    app = request.app
    services = await _dependencies(app)
    ok = all(v == "ok" for v in services.values())
    broker = app[HUB_KEY].broker
    body = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "environment": app[SETTINGS_KEY].environment,
        **_clock(app),
        "services": services,
        # with Redis the rate limits are shared by every instance; while it is
        # unreachable (or without it), each instance keeps its own
        "rate_limits": "shared" if getattr(broker, "buckets_shared", False) else "local",
    }
    return json_response(body, status=200 if ok else 503)


@public
async def live(request: web.Request) -> web.Response:
    return json_response({"status": "alive", **_clock(request.app)})


@public
async def ready(request: web.Request) -> web.Response:
    services = await _dependencies(request.app)
    ok = all(v == "ok" for v in services.values())
    body = {"status": "ready" if ok else "not_ready", "services": services}
    return json_response(body, status=200 if ok else 503)


async def auth_me(request: web.Request) -> web.Response:
    claims = claims_of(request)
    assert claims is not None  # the auth middleware ran
    return json_response({"sub": claims.sub, "scope": " ".join(claims.scope), "exp": claims.exp})
