"""Monitoring: `GET /api/v1/monitoring/metrics` and Prometheus' `GET /metrics`."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...keys import JWT_KEY, PROMETHEUS_KEY, SERVICES_KEY, SETTINGS_KEY
from ...services.monitoring import GROUPS
from ...services.series import RANGES
from ..auth import AuthError, bearer_token, public
from ..errors import ApiError
from ..responses import json_response

__all__ = ["monitoring_metrics", "prometheus_metrics"]


def _groups(request: web.Request) -> list[str]:
    raw = request.query.getall("metrics", [])
    names = [n.strip() for value in raw for n in value.split(",") if n.strip()]
    for name in names:
        if name not in GROUPS and name != "websocket":
            raise ApiError(
                400,
                "invalid_query",
                f"Unknown metrics group {name[:50]!r}; use {', '.join(GROUPS)}.",
                details={"parameter": "metrics", "value": name[:50], "allowed": list(GROUPS)},
            )
    return names or list(GROUPS)


async def monitoring_metrics(request: web.Request) -> web.Response:
    groups = _groups(request)
    time_range = request.query.get("time_range", "1h")
    if time_range not in RANGES:
        raise ApiError(
            400,
            "invalid_query",
            f"Query parameter 'time_range' must be one of: {', '.join(RANGES)}.",
            details={"parameter": "time_range", "value": time_range[:50], "allowed": list(RANGES)},
        )
    report = await request.app[SERVICES_KEY].monitoring.report(groups, time_range)
    return json_response(report)


@public
async def prometheus_metrics(request: web.Request) -> web.Response:
    if request.app[SETTINGS_KEY].metrics_require_token:
        try:
            request.app[JWT_KEY].verify(bearer_token(request))
        except AuthError as exc:
            raise ApiError(
                401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from exc
    body = generate_latest(request.app[PROMETHEUS_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
