"""`POST /api/v1/events`: outside processes publish through the same hub call."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...contract import serde
from ...contract.messages import CHANNEL_MESSAGES, type_name, utcnow
from ...contract.requests import EventSubmission
from ...keys import HUB_KEY
from ..errors import ApiError
from ..responses import json_response
from .common import read_body

__all__ = ["publish_event"]


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


async def publish_event(request: web.Request) -> web.Response:
    body = await read_body(request, EventSubmission)
    message = _message_for(body.channel, body.message)
    delivered = await request.app[HUB_KEY].publish(body.channel, message)
    return json_response({"channel": body.channel, "delivered": delivered}, status=202)
