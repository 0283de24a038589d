"""RFC 6455 server frames, built once per message and written to every socket.

A server frame is unmasked, so the same bytes serve every subscriber: this is what
lets a publish cost one serialization, not one per client.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import attrs

__all__ = ["Entry", "frame_payload", "text_frame"]


def text_frame(payload: bytes) -> bytes:
    """One final TEXT frame (opcode 0x1) carrying `payload`, unmasked."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame made by `text_frame` (a copy, for the rare reader)."""
    length = frame[1] & 0x7F
    return frame[4:] if length == 126 else frame[10:] if length == 127 else frame[2:]


@attrs.frozen
class Entry:
    """One published message as kept in history: its frame, the only copy kept.

    The payload and the doc are derived when a replay needs them (a compressed or a
    filtered socket), which is rare next to how long entries are kept.
    """

    seq: int
    frame: bytes
    at: float

    @property
    def payload(self) -> bytes:
        return frame_payload(self.frame)

    @property
    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.payload)
        return doc
