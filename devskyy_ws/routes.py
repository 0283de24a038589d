"""Every route in one place: the API document's paths plus the ones users need."""

from __future__ import annotations

from aiohttp import web

from .handlers import events, health, ws

__all__ = ["setup_routes"]


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/health", health.health)
    r.add_get("/api/v1/health", health.health)
    r.add_get("/api/v1/auth/me", health.auth_me)
    r.add_post("/api/v1/events", events.publish_event)
    r.add_get("/api/ws/{channel}", ws.channel_socket)
