"""Helpers for reading channels in tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType


async def next_message(ws: ClientWebSocketResponse, wait: float = 10.0) -> dict[str, Any]:
    """The next data message, skipping keepalives."""
    while True:
        msg = await ws.receive(timeout=wait)
        assert msg.type is WSMsgType.TEXT, msg
        doc: dict[str, Any] = json.loads(msg.data)
        if doc["type"] != "keepalive":
            return doc


async def collect_until(
    ws: ClientWebSocketResponse,
    done: Callable[[dict[str, Any]], bool],
    keep: Callable[[dict[str, Any]], bool] = lambda _: True,
    wait: float = 10.0,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Messages (those `keep` accepts) up to and including the first that is `done`."""
    out: list[dict[str, Any]] = []
    for _ in range(limit):
        doc = await next_message(ws, wait)
        if keep(doc):
            out.append(doc)
        if done(doc):
            return out
    raise AssertionError(f"no final message within {limit} messages")


async def updates(
    ws: ClientWebSocketResponse, count: int, kind: str = "task_update", wait: float = 10.0
) -> list[dict[str, Any]]:
    """The next `count` messages of type `kind`, passing over every other type."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        doc = await next_message(ws, wait)
        if doc["type"] == kind:
            got.append(doc)
    return got


def record_runs(broker: Any) -> list[int]:
    """The length of every run `broker` hands its hub from now on (a run leaves each
    socket in one write)."""
    runs: list[int] = []
    deliver = broker._deliver

    def recording(channel: str, run: Any) -> list[int]:
        runs.append(len(run))
        return deliver(channel, run)  # type: ignore[no-any-return]

    broker._deliver = recording
    return runs
