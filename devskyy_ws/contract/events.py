"""Events from producers, read and checked once for every way they arrive (REST, the
publish socket, the Redis ingest stream): each must be a message its channel sends."""

from __future__ import annotations

from typing import Any

from . import serde
from .jsoncheck import check_json
from .messages import CHANNEL_MESSAGES, type_name
from .requests import MAX_BATCH, EventSubmission

__all__ = ["EventRefused", "load_text", "parse_batch", "parse_entry", "parse_event"]


class EventRefused(ValueError):
    """An event that cannot be published; `code` and the message are the contract's."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


_ALLOWED = {
    channel: {type_name(cls): cls for cls in classes}
    for channel, classes in CHANNEL_MESSAGES.items()
}


def _message_for(channel: str, raw: dict[str, Any]) -> Any:
    allowed = _ALLOWED[channel]
    kind = raw.get("type")
    cls = allowed.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventRefused(
            "invalid_message",
            f"Message type {kind!r} does not belong to channel {channel!r}.",
            {"allowed_types": sorted(allowed)},
        )
    if "seq" in raw or "epoch" in raw:  # the broker stamps these; a producer's are dropped
        raw = {k: v for k, v in raw.items() if k not in ("seq", "epoch")}
    try:
        return serde.structure(raw, cls)
    except Exception as exc:
        raise EventRefused(
            "invalid_message",
            f"The message does not fit the {kind} schema.",
            serde.error_details(exc),
        ) from exc


def parse_event(raw: Any) -> tuple[str, Any]:
    """(channel, message object).

    Raises:
        EventRefused: not an object, an unknown channel, or a message the channel
            does not send.
    """
    if not isinstance(raw, dict):
        raise EventRefused("invalid_event", "An event must be a JSON object.")
    try:
        body = serde.structure(raw, EventSubmission)
    except Exception as exc:
        code, message, details = serde.refusal(exc, EventSubmission)
        raise EventRefused(code, message, details or None) from exc
    return body.channel, _message_for(body.channel, body.message)


def load_text(text: str) -> Any:
    """A producer's JSON text (a publish socket message, an ingest entry's message),
    read within the same limits as a request body.

    Raises:
        EventRefused: not JSON, or beyond the limits.
    """
    try:
        doc = serde.loads_body(text.encode())
        check_json(doc)
    except (ValueError, RecursionError) as exc:
        raise EventRefused("invalid_json", "The message is not JSON within the limits.") from exc
    return doc


def parse_entry(channel: Any, message: Any) -> tuple[str, Any]:
    """(channel, message object) from an ingest stream entry's two fields, the message
    being JSON text.

    Raises:
        EventRefused: as `parse_event`, or the message field is missing or not JSON.
    """
    if not isinstance(message, str):
        raise EventRefused("invalid_event", "An entry needs a message field of JSON text.")
    return parse_event({"channel": channel, "message": load_text(message)})


def parse_batch(raw: Any) -> list[tuple[str, Any]]:
    """Every event of a batch, checked before any is published.

    Raises:
        EventRefused: the first bad event's index and what is wrong with it.
    """
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BATCH:
        raise EventRefused(
            "invalid_batch",
            f"'events' must be a list of 1 to {MAX_BATCH:,} events.",
            {"field": "events", "max_events": MAX_BATCH},
        )
    events = []
    for index, item in enumerate(raw):
        try:
            events.append(parse_event(item))
        except EventRefused as exc:
            details = {"index": index, "error": exc.code, "details": exc.details}
            raise EventRefused(exc.code, f"Event {index}: {exc.message}", details) from exc
    return events
