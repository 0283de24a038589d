"""Retry timing and a circuit breaker for calls to outside services."""

from __future__ import annotations

import random
import time

__all__ = ["CircuitBreaker", "CircuitOpen", "backoff_delay"]


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


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
