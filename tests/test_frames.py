"""Server frames as RFC 6455 lays them out."""

from __future__ import annotations

import struct

import pytest

from devskyy_ws.channels.frames import Entry, frame_payload, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_length_encodings_round_trip(size: int) -> None:
    payload = b"x" * size
    frame = text_frame(payload)
    assert frame[0] == 0x81  # FIN and TEXT, unmasked (bit 7 of byte 1 clear)
    assert not frame[1] & 0x80
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(frame) == header + size
    assert frame_payload(frame) == payload


@pytest.mark.parametrize(
    ("size", "marker", "fmt"), [(125, 125, ""), (126, 126, "!H"), (65536, 127, "!Q")]
)
def test_the_length_field_is_rfc_6455s(size: int, marker: int, fmt: str) -> None:
    """7 bits up to 125; 126 and 16 bits up to 65,535; 127 and 64 bits past it."""
    frame = text_frame(b"y" * size)
    assert frame[1] == marker
    if fmt:
        assert struct.unpack(fmt, frame[2 : 2 + struct.calcsize(fmt)])[0] == size


def test_an_entry_derives_payload_and_doc_from_its_frame() -> None:
    entry = Entry(seq=3, frame=text_frame(b'{"type":"x","seq":3}'), at=0.0)
    assert entry.payload == b'{"type":"x","seq":3}' and entry.doc == {"type": "x", "seq": 3}
