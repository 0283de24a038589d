"""`POST /api/v1/events`: outside processes publish through the same hub call, one event
or a batch of them (`{"events": [...]}`), with a token that may publish."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from ...contract import serde
from ...contract.messages import CHANNEL_MESSAGES, type_name, utcnow
from ...contract.requests import MAX_BATCH, EventSubmission
from ...keys import HUB_KEY, PUBLISH_LIMIT_KEY
from ..auth import claims_of, requires_scope
from ..errors import ApiError
from ..responses import json_response
from .common import read_json, structure_body

__all__ = ["MAX_BATCH", "publish_event"]


def _message_for(channel: str, raw: dict[str, Any]) -> Any:
    allowed = {type_name(cls): cls for cls in CHANNEL_MESSAGES[channel]}
    kind = raw.get("type")
    cls = allowed.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ApiError(
            422,
            "invalid_message",
            f"Message type {kind!r} does not belong to channel {channel!r}.",
            details={"allowed_types": sorted(allowed)},
        )
    raw = {k: v for k, v in raw.items() if k not in ("seq", "epoch")}
    raw.setdefault("timestamp", serde.format_timestamp(utcnow()))
    try:
        return serde.structure(raw, cls)
    except Exception as exc:
        raise ApiError(
            422,
            "invalid_message",
            f"The message does not fit the {kind} schema.",
            details=serde.error_details(exc),
        ) from exc


def _event(raw: Any) -> tuple[str, Any]:
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid_event", "An event must be a JSON object.")
    body = structure_body(raw, EventSubmission)
    return body.channel, _message_for(body.channel, body.message)


def _batch(raw: Any) -> list[tuple[str, Any]]:
    """Every event of a batch, validated before any is published.

    Raises:
        ApiError: 422 naming the first bad event's index and what is wrong with it.
    """
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BATCH:
        raise ApiError(
            422,
            "invalid_batch",
            f"'events' must be a list of 1 to {MAX_BATCH:,} events.",
            details={"field": "events", "max_events": MAX_BATCH},
        )
    events = []
    for index, item in enumerate(raw):
        try:
            events.append(_event(item))
        except ApiError as exc:
            details = {"index": index, "error": exc.code, "details": exc.details}
            raise ApiError(422, exc.code, f"Event {index}: {exc.message}", details=details) from exc
    return events


def _charge(request: web.Request, events: int) -> None:
    """Producers spend their own bucket, one token per event (not the REST limit)."""
    buckets = request.app[PUBLISH_LIMIT_KEY]
    claims = claims_of(request)
    if buckets is None or claims is None:
        return
    allowed, _, wait = buckets.take("pub:" + claims.sub, cost=events)
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"Over this producer's publish limit ({buckets.rate:g} events/s); slow down.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


@requires_scope("publish")
async def publish_event(request: web.Request) -> web.Response:
    doc = await read_json(request)
    hub = request.app[HUB_KEY]
    if "events" in doc:
        events = _batch(doc["events"])
        _charge(request, len(events))
        delivered = await hub.publish_batch(events)
        return json_response({"accepted": len(events), "delivered": delivered}, status=202)
    channel, message = _event(doc)
    _charge(request, 1)
    delivered_to = await hub.publish(channel, message)
    return json_response({"channel": channel, "delivered": delivered_to}, status=202)
