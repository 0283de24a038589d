"""REST rate limiting: a token bucket per token subject, per client address otherwise.

As the API document says, it applies to the REST API, not to WebSockets (nor to the
health checks and static files, which are public). Producers publishing with a valid
token spend their own bucket instead, one token per event (`--publish-rate`). The
bucket table is bounded, so a flood of distinct addresses cannot grow memory without
limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..settings import Settings
from .auth import JwtKeys, verified_claims
from .errors import error_response
from .proxy import client_address

__all__ = ["Allowance", "SharedBuckets", "TokenBuckets", "ratelimit_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenBuckets:
    """`rate` tokens per second up to `burst`; one request costs one token."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None, cost: int = 1) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until `cost` tokens are there); all or nothing."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        wait = 0.0 if tokens >= cost else (cost - tokens) / self.rate
        return allowed, tokens, wait

    def full_in(self, tokens: float) -> float:
        return (self.burst - tokens) / self.rate


class SharedBuckets:
    """Buckets every instance shares when the broker can keep them (Redis: one bucket per
    key, taken atomically), so N instances do not allow N times the limit; this
    instance's own buckets while it cannot (no Redis, or Redis unreachable)."""

    def __init__(self, local: TokenBuckets, broker: Any, name: str) -> None:
        self.local = local
        self.rate = local.rate
        self.burst = local.burst
        self.name = name
        self._shared = getattr(broker, "take_tokens", None)

    async def take(self, key: str, cost: int = 1) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until `cost` tokens are there)."""
        if self._shared is not None:
            got = await self._shared(f"{self.name}:{key}", self.rate, self.burst, cost)
            if got is not None:
                allowed, left = got
                return allowed, left, 0.0 if left >= cost else (cost - left) / self.rate
        return self.local.take(key, cost=cost)

    def full_in(self, tokens: float) -> float:
        return self.local.full_in(tokens)


class Allowance:
    """One client's own bucket, for limits kept per connection (no table, no key)."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one; a rate of 0 means no limit."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def ratelimit_middleware(
    buckets_for: Callable[[web.Request], SharedBuckets | None],
    keys_for: Callable[[web.Request], JwtKeys],
    settings_for: Callable[[web.Request], Settings],
) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        buckets = buckets_for(request)
        match = request.match_info
        if (
            buckets is None
            or request.method == "OPTIONS"
            or match.http_exception is not None
            or getattr(match.handler, "__devskyy_public__", False)
        ):
            return await handler(request)
        claims = verified_claims(request, keys_for(request))
        publishing = getattr(match.handler, "__devskyy_scope__", "") == "publish"
        if publishing and claims is not None and claims.allows("publish"):
            return await handler(request)  # a producer with a valid token: its own limit
        key = (
            "sub:" + claims.sub
            if claims is not None
            else "addr:" + client_address(request, settings_for(request).trusted_proxies)
        )
        allowed, left, wait = await buckets.take(key)
        headers = {
            "X-RateLimit-Limit": str(buckets.burst),
            "X-RateLimit-Remaining": str(math.floor(left)),
            "X-RateLimit-Reset": str(math.ceil(buckets.full_in(left))),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return error_response(
                429,
                "rate_limited",
                "Too many requests; retry after the Retry-After delay.",
                headers=headers,
            )
        response = await handler(request)
        if not response.prepared:
            response.headers.update(headers)
        return response

    return middleware
