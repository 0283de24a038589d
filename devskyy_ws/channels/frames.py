"""RFC 6455 server frames, built once per message and written to every socket.

A server frame is unmasked, so the same bytes serve every subscriber: this is what
lets a publish cost one serialization, not one per client.
"""

from __future__ import annotations

import struct

__all__ = ["frame_payload", "text_frame"]


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
