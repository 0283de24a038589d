"""`create_app`: one Application, plain handlers, state behind typed AppKeys.

Nothing here is global, so the app can run alone (`python -m devskyy_ws`) or be mounted
in a host application with `add_subapp`, whose lifecycle then starts and stops it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable

from aiohttp import web

from .channels.brokers import open_broker
from .channels.hub import Hub
from .http.auth import JwtKeys, auth_middleware
from .http.cors import OriginPolicy, cors_middleware
from .http.errors import error_middleware
from .http.prometheus import build_registry
from .http.ratelimit import SharedBuckets, TokenBuckets, ratelimit_middleware
from .http.timing import timing_middleware
from .keys import (
    HANDSHAKE_KEY,
    HUB_KEY,
    JWT_KEY,
    ORIGINS_KEY,
    PROMETHEUS_KEY,
    PUBLISH_LIMIT_KEY,
    RATELIMIT_KEY,
    REQUEST_STATS_KEY,
    SERVICES_KEY,
    SETTINGS_KEY,
    STARTED_KEY,
    STORE_KEY,
)
from .routes import setup_routes
from .services.container import build_services
from .services.requests import RequestStats
from .settings import Settings
from .store import open_store
from .version import SERVER_HEADER

__all__ = ["create_app"]

log = logging.getLogger("devskyy_ws")


def create_app(settings: Settings | None = None) -> web.Application:
    """Build the server application.

    Args:
        settings: every option; defaults give an offline server with SQLite in
            ``./devskyy-data``.

    Raises:
        ValueError: a setting cannot be used (bad key file, unknown database URL).
    """
    settings = settings or Settings()
    middlewares = [
        timing_middleware(
            lambda r: r.app[REQUEST_STATS_KEY], lambda r: r.app[SETTINGS_KEY].trusted_proxies
        ),
        cors_middleware(lambda r: r.app[ORIGINS_KEY]),
        error_middleware,
    ]
    if settings.rate_limit > 0:  # a limiter switched off costs no layer on every request
        middlewares.append(
            ratelimit_middleware(
                lambda r: r.app[RATELIMIT_KEY],
                lambda r: r.app[JWT_KEY],
                lambda r: r.app[SETTINGS_KEY],
            )
        )
    middlewares.append(auth_middleware(lambda r: r.app[JWT_KEY]))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    store = open_store(settings.database_url)
    hub = Hub(
        send_buffer_bytes=settings.send_buffer_bytes,
        keepalive=settings.keepalive,
        history_size=settings.history_size,
        history_ttl=settings.history_ttl,
        history_bytes=settings.history_bytes,
        max_connections=settings.max_connections,
        broker=open_broker(settings.broker, settings.history_size),
    )
    stats = RequestStats()
    app[SETTINGS_KEY] = settings
    app[JWT_KEY] = JwtKeys.from_settings(settings)
    app[ORIGINS_KEY] = OriginPolicy(settings.cors_origins)
    app[REQUEST_STATS_KEY] = stats
    app[HANDSHAKE_KEY] = (
        TokenBuckets(settings.handshake_rate, settings.handshake_burst)
        if settings.handshake_rate > 0
        else None
    )
    app[RATELIMIT_KEY] = (
        SharedBuckets(TokenBuckets(settings.rate_limit, settings.rate_burst), hub.broker, "rest")
        if settings.rate_limit > 0
        else None
    )
    app[PUBLISH_LIMIT_KEY] = (
        SharedBuckets(
            TokenBuckets(settings.publish_rate, settings.publish_burst), hub.broker, "publish"
        )
        if settings.publish_rate > 0
        else None
    )
    app[STORE_KEY] = store
    app[HUB_KEY] = hub
    started = time.monotonic()
    services = build_services(
        settings,
        store,
        hub,
        stats,
        started,
        lambda pid: str(app.router["pipeline_asset"].url_for(pipeline_id=pid)),
    )
    app[SERVICES_KEY] = services
    app[STARTED_KEY] = started
    app[PROMETHEUS_KEY] = build_registry(hub, services, stats)
    _warn_about_defaults(settings)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(_server_header)
    setup_routes(app)
    return app


def _warn_about_defaults(settings: Settings) -> None:
    """Say so when a default trusts more than an operator may think."""
    wide = [o for o in settings.cors_origins if "*" in o]
    if wide and settings.ws_auth == "off":
        log.warning(
            "CORS origins %s let any site under those domains (any Vercel tenant, for the "
            "default) open WebSockets with no token; set --ws-auth optional or required, or "
            "list exact --cors-origins (docs/security.md)",
            ", ".join(wide),
        )


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the store, then the hub, then the services; close in reverse.

    Every closing step has a deadline, so one stuck dependency cannot keep the process
    from exiting: it is logged and the next step runs.
    """
    settings = app[SETTINGS_KEY]
    store, hub, services = app[STORE_KEY], app[HUB_KEY], app[SERVICES_KEY]
    await store.open()
    try:
        await hub.start()
        try:
            await services.start()
            log.info(
                "devskyy_ws ready (store=%s, broker=%s)", store.name, settings.broker.split("?")[0]
            )
            yield
        finally:
            await _step(
                "services", services.stop(settings.shutdown_grace), settings.shutdown_grace + 5
            )
            await _step("sockets", hub.close_all(1001), 5)
            await _step("broker", hub.stop(), 5)
    finally:
        await _step("store", store.close(), 5)


async def _step(name: str, closing: Awaitable[None], deadline: float) -> None:
    try:
        await asyncio.wait_for(closing, deadline)
        log.debug("shutdown: %s closed", name)
    except TimeoutError:
        log.error("shutdown: %s did not close within %.0fs; going on", name, deadline)
    except Exception:
        log.exception("shutdown: closing %s failed", name)


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name the product, not the Python and aiohttp versions an attacker would look up."""
    response.headers["Server"] = SERVER_HEADER


async def _close_sockets(app: web.Application) -> None:
    """Shutdown: every socket gets 1001 at once, before handlers are waited for."""
    await app[HUB_KEY].close_all(1001, "server shutting down")
