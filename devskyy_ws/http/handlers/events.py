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
from ..auth import Claims, claims_of, requires_scope
from ..errors import ApiError
from ..responses import json_response
from .common import read_json, structure_body

__all__ = ["charge", "parse_batch", "parse_event", "publish_event"]


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


def parse_event(raw: Any) -> tuple[str, Any]:
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid_event", "An event must be a JSON object.")
    body = structure_body(raw, EventSubmission)
    return body.channel, _message_for(body.channel, body.message)


def parse_batch(raw: Any) -> list[tuple[str, Any]]:
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
            events.append(parse_event(item))
        except ApiError as exc:
            details = {"index": index, "error": exc.code, "details": exc.details}
            raise ApiError(422, exc.code, f"Event {index}: {exc.message}", details=details) from exc
    return events


def charge(request: web.Request, claims: Claims | None, events: int) -> float:
    """Producers spend their own bucket, one token per event (not the REST limit).

    Returns:
        0 when the events were paid for; else the seconds until they can be, nothing
        taken meanwhile (infinite when the batch is larger than the whole burst).
    """
    buckets = request.app[PUBLISH_LIMIT_KEY]
    if buckets is None or claims is None:
        return 0.0
    if events > buckets.burst:
        return math.inf
    allowed, _, wait = buckets.take("pub:" + claims.sub, cost=events)
    return 0.0 if allowed else wait


def _refuse(request: web.Request, wait: float) -> ApiError:
    buckets = request.app[PUBLISH_LIMIT_KEY]
    rate = buckets.rate if buckets is not None else 0.0
    retry = "60" if math.isinf(wait) else str(max(1, math.ceil(wait)))
    return ApiError(
        429,
        "rate_limited",
        f"Over this producer's publish limit ({rate:g} events/s); slow down.",
        headers={"Retry-After": retry},
    )


@requires_scope("publish")
async def publish_event(request: web.Request) -> web.Response:
    doc = await read_json(request)
    hub = request.app[HUB_KEY]
    if "events" in doc:
        events = parse_batch(doc["events"])
        if wait := charge(request, claims_of(request), len(events)):
            raise _refuse(request, wait)
        published = await hub.publish_batch(events)
        delivered = [count for _, count in published]
        return json_response({"accepted": len(events), "delivered": delivered}, status=202)
    channel, message = parse_event(doc)
    if wait := charge(request, claims_of(request), 1):
        raise _refuse(request, wait)
    delivered_to = await hub.publish(channel, message)
    return json_response({"channel": channel, "delivered": delivered_to}, status=202)
