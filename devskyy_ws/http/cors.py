"""CORS for REST and the Origin check for WebSocket upgrades.

aiohttp-cors compares origins as exact strings, but the API document allows
`https://*.vercel.app` (one DNS label) and our error contract wants JSON on a refused
preflight, so this small module does both with one matcher.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from .errors import error_response

__all__ = ["OriginPolicy", "cors_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSED_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"


class OriginPolicy:
    """Which browser origins may call us. `*` in a pattern stands for one DNS label."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.strip().lower().rstrip("/") for p in patterns if p.strip())
        self.allow_all = "*" in self.patterns
        regexes = [re.escape(p).replace(r"\*", _LABEL) for p in self.patterns if p != "*"]
        self._regex = re.compile("^(?:" + "|".join(regexes) + ")$") if regexes else None

    def allows(self, origin: str) -> bool:
        """True for an allowed browser origin; `null` and malformed values never are."""
        origin = origin.strip().lower()
        if origin in ("", "null") or "://" not in origin:
            return False
        if self.allow_all:
            return True
        return bool(self._regex and self._regex.match(origin))

    def allows_upgrade(self, origin: str | None) -> bool:
        """WebSocket rule: no Origin header means a non-browser client, which is allowed."""
        return origin is None or self.allows(origin)


def cors_middleware(policy_for: Callable[[web.Request], OriginPolicy]) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        is_preflight = (
            request.method == "OPTIONS"
            and origin is not None
            and "Access-Control-Request-Method" in request.headers
        )
        if origin is None:
            return await handler(request)
        allowed = policy_for(request).allows(origin)
        if is_preflight:
            exc = request.match_info.http_exception
            if exc is not None and exc.status == 404:
                return error_response(404, "not_found", "No such resource.")
            if not allowed:
                return error_response(
                    403, "origin_not_allowed", f"Origin {origin!r} is not allowed by CORS."
                )
            requested = request.headers.get("Access-Control-Request-Headers", "")
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": requested or "Authorization, Content-Type",
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        if allowed and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            response.headers.add("Vary", "Origin")
        return response

    return middleware
