"""`/api/ws/publish`: a WebSocket for producers, who pipeline events without a round
trip each.

Each text message is one event (`{"channel", "message"}`) or a batch
(`{"events": [...]}`), with an optional `id` of the producer's choosing. Messages are
taken one at a time, in order: each is validated as `POST /api/v1/events` validates,
published, and answered `{"type": "ack", "id", "seq": [...]}` or `{"type": "nack", "id",
"error", "message"}`. A producer faster than the fan-out is slowed by TCP itself: the
next message is read only once the last one is out, so nothing queues without bound;
one over its `--publish-rate` is slowed the same way, by waiting for its tokens.
A token with the `publish` scope (or `write`) comes in `Authorization` or `?token=`;
without one the socket is closed with 4001.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from aiohttp import WSMsgType, web

from ...contract import serde
from ...contract.events import EventRefused, load_text, parse_batch, parse_event
from ...keys import HUB_KEY, JWT_KEY, SETTINGS_KEY
from ..auth import PUBLISH, Claims, public, verified_claims
from ..errors import ApiError
from ..liveness import PatientSocketResponse
from .events import charge

__all__ = ["publish_socket"]

log = logging.getLogger("devskyy_ws.publish")


def _id(doc: dict[str, Any]) -> Any:
    """The producer's id for its message, if it is one we can echo (a short string or an
    integer)."""
    value = doc.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int | None):
        return None
    return value[:200] if isinstance(value, str) else value


def _nack(ident: Any, code: str, message: str) -> dict[str, Any]:
    return {"type": "nack", "id": ident, "error": code, "message": message}


async def _answer(request: web.Request, claims: Claims, text: str) -> dict[str, Any]:
    try:
        doc = load_text(text)
    except EventRefused as exc:
        return _nack(None, exc.code, exc.message)
    if not isinstance(doc, dict):
        return _nack(None, "invalid_event", "A message must be a JSON object.")
    ident = _id(doc)
    try:
        events = parse_batch(doc["events"]) if "events" in doc else [parse_event(doc)]
        while wait := await charge(request, claims, len(events)):  # over the limit: slow down
            if math.isinf(wait):
                raise ApiError(422, "batch_too_large", "The batch is larger than the burst.")
            await asyncio.sleep(wait)
        published = await request.app[HUB_KEY].publish_batch(events)
    except (ApiError, EventRefused) as exc:
        nack = _nack(ident, exc.code, exc.message)
        if exc.details is not None:
            nack["details"] = exc.details
        return nack
    return {"type": "ack", "id": ident, "seq": [seq for seq, _ in published]}


@public  # the token is checked here, after the upgrade, so a refusal is a close code
async def publish_socket(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    ws = PatientSocketResponse(
        heartbeat=settings.effective_heartbeat, max_msg_size=settings.max_body_bytes + 1
    )
    await ws.prepare(request)
    claims = verified_claims(request, request.app[JWT_KEY], query=True)
    if claims is None or not claims.allows(PUBLISH):
        await ws.close(code=4001, message=b"a token with the publish scope is required")
        return ws
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(serde.dumps(await _answer(request, claims, msg.data)))
            elif msg.type is WSMsgType.BINARY:
                answer = _nack(None, "invalid_event", "Send JSON text, not binary frames.")
                await ws.send_str(serde.dumps(answer))
    except (ConnectionError, RuntimeError):
        pass  # the producer went away; what it sent before is published and acknowledged
    except Exception:
        log.exception("publish socket from %s failed", claims.sub)
        await ws.close(code=1011, message=b"internal error")
    return ws
