"""The one retry loop and the circuit breaker the outside-service providers share."""

from __future__ import annotations

import pytest

from devskyy_ws.retry import CircuitBreaker, CircuitOpen, Retry, with_retries


async def test_retries_until_an_attempt_returns() -> None:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Retry("HTTP 503", after=0.0)
        return "ok"

    assert await with_retries(attempt, retries=5, base=0.0) == "ok"
    assert len(calls) == 3


async def test_gives_up_with_the_last_reason_after_every_attempt() -> None:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        raise Retry(f"HTTP 50{len(calls)}")

    with pytest.raises(Retry) as info:
        await with_retries(attempt, retries=2, base=0.0)
    assert info.value.reason == "HTTP 503" and len(calls) == 3


async def test_an_error_that_is_not_a_retry_ends_the_loop_at_once() -> None:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await with_retries(attempt, retries=5, base=0.0)
    assert len(calls) == 1


def test_the_breaker_opens_after_the_threshold_and_closes_on_success() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=3600)
    breaker.failure()
    breaker.check()
    breaker.failure()
    with pytest.raises(CircuitOpen):
        breaker.check()
    breaker.success()
    assert breaker.state == "closed"
    breaker.check()
