"""What a client may say on a channel, parsed without I/O.

Every problem becomes a `ProtocolError` whose message is sent back as an `error`
message with error_type `warning`; the connection stays open.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from ..contract.jsoncheck import MAX_SAFE_INT, JsonLimitError, check_json
from .filters import FilterError, Filters, parse_filters

__all__ = [
    "Auth",
    "ClientCommand",
    "Ping",
    "ProtocolError",
    "Resume",
    "SnapshotRequest",
    "Subscribe",
    "Unsubscribe",
    "parse_client_message",
]

# The original DevSkyy frontend asks for a channel's state with get_<thing>; each is a
# snapshot request for the channel the socket is on.
SNAPSHOT_ALIASES = ("get_agents", "get_tasks", "get_competitions", "get_pipelines", "get_metrics")
CLIENT_TYPES = ("ping", "subscribe", "unsubscribe", "resume", "snapshot", "auth", *SNAPSHOT_ALIASES)


class ProtocolError(ValueError):
    """The client's message was not understood; the text says what was wrong."""


@attrs.frozen
class Ping:
    pass


@attrs.frozen
class Subscribe:
    filters: Filters | None  # None: everything
    raw: dict[str, Any]
    conflate: bool | None = None  # None: as it was


@attrs.frozen
class Unsubscribe:
    pass


@attrs.frozen
class Resume:
    since: int
    epoch: str | None


@attrs.frozen
class SnapshotRequest:
    pass


@attrs.frozen
class Auth:
    token: str


ClientCommand = Ping | Subscribe | Unsubscribe | Resume | SnapshotRequest | Auth


_DIGITS = re.compile(r"[0-9]{1,16}")
_EPOCH = re.compile(r"[0-9A-Za-z_-]{1,64}")


def parse_position(since: Any, epoch: Any) -> Resume:
    """Validate a resume position from a message or a query string.

    Only ASCII digits count: `str.isdigit` also accepts "²", which `int` refuses.

    Raises:
        ProtocolError: since is not an integer from 0 to 2**53 - 1, or epoch is not a
            short token.
    """
    if isinstance(since, str) and _DIGITS.fullmatch(since):
        since = int(since)
    if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since <= MAX_SAFE_INT:
        raise ProtocolError("resume needs 'since' as an integer from 0 to 2**53 - 1")
    if epoch is not None and (not isinstance(epoch, str) or not _EPOCH.fullmatch(epoch)):
        raise ProtocolError("resume 'epoch' must be the epoch string the server sent")
    return Resume(since, epoch)


def parse_client_message(text: str) -> ClientCommand:
    """Parse one text frame from a client.

    Raises:
        ProtocolError: invalid JSON, not an object, unknown type or bad fields.
    """
    try:
        doc = json.loads(text)
        json.dumps(doc, ensure_ascii=False).encode()  # lone surrogates cannot be echoed back
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("message is not valid JSON") from exc
    try:
        check_json(doc, max_text=len(text))  # the socket's message limit bounds text here
    except JsonLimitError as exc:
        raise ProtocolError(str(exc)) from exc
    if not isinstance(doc, dict):
        raise ProtocolError("message must be a JSON object with a 'type'")
    kind = doc.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("message needs a string 'type'")
    if kind == "ping":
        return Ping()
    if kind == "subscribe":
        raw = doc.get("filters")
        conflate = doc.get("conflate")
        if conflate is not None and not isinstance(conflate, bool):
            raise ProtocolError("'conflate' must be true or false")
        if raw is None or raw == {}:  # no filters: everything, as the frontend expects
            return Subscribe(None, {}, conflate)
        try:
            filters = parse_filters(raw)
        except FilterError as exc:
            raise ProtocolError(f"invalid filters: {exc}") from exc
        assert isinstance(raw, dict)
        return Subscribe(filters, raw, conflate)
    if kind == "unsubscribe":
        return Unsubscribe()
    if kind == "resume":
        return parse_position(doc.get("since"), doc.get("epoch"))
    if kind == "snapshot" or kind in SNAPSHOT_ALIASES:
        return SnapshotRequest()
    if kind == "auth":
        token = doc.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("auth needs a 'token' string")
        return Auth(token)
    shown = kind[:40]
    raise ProtocolError(
        f"unknown message type {shown!r}; expected one of {', '.join(CLIENT_TYPES)}"
    )
