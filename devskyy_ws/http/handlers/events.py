"""`POST /api/v1/events`: outside processes publish through the same hub call, one event
or a batch of them (`{"events": [...]}`), with a token that may publish. Events are
checked by contract/events.py, as on the publish socket and the Redis ingest stream."""

from __future__ import annotations

import math

from aiohttp import web

from ...contract.events import EventRefused, parse_batch, parse_event
from ...keys import HUB_KEY, PUBLISH_LIMIT_KEY
from ..auth import Claims, claims_of, requires_scope
from ..errors import ApiError
from ..responses import json_response
from .common import read_json

__all__ = ["charge", "publish_event", "refused"]


async def charge(request: web.Request, claims: Claims | None, events: int) -> float:
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
    allowed, _, wait = await buckets.take("pub:" + claims.sub, cost=events)
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


def refused(exc: EventRefused) -> ApiError:
    return ApiError(422, exc.code, exc.message, details=exc.details)


@requires_scope("publish")
async def publish_event(request: web.Request) -> web.Response:
    doc = await read_json(request)
    try:
        events = parse_batch(doc["events"]) if "events" in doc else [parse_event(doc)]
    except EventRefused as exc:
        raise refused(exc) from exc
    hub = request.app[HUB_KEY]
    if wait := await charge(request, claims_of(request), len(events)):
        raise _refuse(request, wait)
    if "events" not in doc:  # one event: written at once, not held for a batch's tick
        channel, message = events[0]
        delivered = await hub.publish(channel, message)
        return json_response({"channel": channel, "delivered": delivered}, status=202)
    published = await hub.publish_batch(events)
    counts = [count for _, count in published]
    return json_response({"accepted": len(events), "delivered": counts}, status=202)
