"""Every typed `web.AppKey`: how handlers and a host application reach shared objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .channels.hub import Hub
    from .http.auth import JwtKeys
    from .http.cors import OriginPolicy
    from .http.ratelimit import SharedBuckets, TokenBuckets
    from .services.container import Services
    from .services.requests import RequestStats
    from .settings import Settings
    from .store.base import Store

__all__ = [
    "HANDSHAKE_KEY",
    "HUB_KEY",
    "JWT_KEY",
    "ORIGINS_KEY",
    "PROMETHEUS_KEY",
    "PUBLISH_LIMIT_KEY",
    "RATELIMIT_KEY",
    "REQUEST_STATS_KEY",
    "SERVICES_KEY",
    "SETTINGS_KEY",
    "STARTED_KEY",
    "STORE_KEY",
]

SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("devskyy_settings")
HUB_KEY: web.AppKey[Hub] = web.AppKey("devskyy_hub")
JWT_KEY: web.AppKey[JwtKeys] = web.AppKey("devskyy_jwt")
ORIGINS_KEY: web.AppKey[OriginPolicy] = web.AppKey("devskyy_origins")
REQUEST_STATS_KEY: web.AppKey[RequestStats] = web.AppKey("devskyy_request_stats")
STORE_KEY: web.AppKey[Store] = web.AppKey("devskyy_store")
SERVICES_KEY: web.AppKey[Services] = web.AppKey("devskyy_services")
STARTED_KEY: web.AppKey[float] = web.AppKey("devskyy_started")
PROMETHEUS_KEY: web.AppKey[CollectorRegistry] = web.AppKey("devskyy_prometheus")
RATELIMIT_KEY: web.AppKey[SharedBuckets | None] = web.AppKey("devskyy_ratelimit")
HANDSHAKE_KEY: web.AppKey[TokenBuckets | None] = web.AppKey("devskyy_handshakes")
PUBLISH_LIMIT_KEY: web.AppKey[SharedBuckets | None] = web.AppKey("devskyy_publish_limit")
