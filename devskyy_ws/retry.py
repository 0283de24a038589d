"""Retries with backoff, and a circuit breaker, for calls to outside services (and the
client's reconnects: the one backoff everything uses)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["CircuitBreaker", "CircuitOpen", "Retry", "backoff", "with_retries"]

T = TypeVar("T")


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class Retry(Exception):
    """An attempt failed in a way the next one may not (a 429, a 5xx, a lost connection).

    Args:
        reason: what went wrong, for the error after the last attempt.
        after: seconds to wait, when the server said (Retry-After); else the backoff.
    """

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


async def with_retries(attempt: Callable[[], Awaitable[T]], retries: int, base: float) -> T:
    """`attempt()` until it returns, at most `retries` + 1 times; a `Retry` it raises
    waits and tries again, anything else ends the loop at once.

    Raises:
        Retry: the last attempt's, when every attempt asked for another.
    """
    for n in range(retries + 1):
        try:
            return await attempt()
        except Retry as exc:
            if n == retries:
                raise
            await asyncio.sleep(exc.after if exc.after is not None else backoff(n, base))
    raise AssertionError("unreachable: the last attempt returns or raises")


class CircuitOpen(Exception):
    """The remote service failed repeatedly; calls are refused until it cools down."""


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial call through after
    `cooldown` seconds (half-open); closes again on a success."""

    def __init__(self, threshold: int = 5, cooldown: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def check(self) -> None:
        """Raises:
        CircuitOpen: while open.
        """
        if self.state == "open":
            raise CircuitOpen("the remote service is failing; try again later")

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold or self.state == "half_open":
            self.opened_at = time.monotonic()
