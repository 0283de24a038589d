"""Parsing what clients say on a channel: positions, nesting, numbers."""

from __future__ import annotations

import json

import pytest

from devskyy_ws.channels.protocol import ProtocolError, Resume, parse_client_message, parse_position


@pytest.mark.parametrize(
    "since",
    ["²", "٣", "1²", "9" * 5000, "-1", " 1", "1.0", "", 2**53, -1, True, 1.5, None, [], {}],
)
def test_bad_positions_are_protocol_errors(since: object) -> None:
    with pytest.raises(ProtocolError):
        parse_position(since, None)


@pytest.mark.parametrize("epoch", [5, "", "a" * 65, "ab cd", "ép", "\x00", ["a"]])
def test_bad_epochs_are_protocol_errors(epoch: object) -> None:
    with pytest.raises(ProtocolError):
        parse_position("1", epoch)


def test_good_positions() -> None:
    assert parse_position("0", None) == Resume(0, None)
    assert parse_position(2**53 - 1, "a1b2c3d4") == Resume(2**53 - 1, "a1b2c3d4")
    assert parse_position("9007199254740991", None).since == 2**53 - 1


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"type": "resume", "since": "²"}),
        json.dumps({"type": "resume", "since": "9" * 5000}),
        json.dumps({"type": "resume", "since": 10**30}),
        '{"type":"subscribe","filters":' + '{"a":' * 500 + "1" + "}" * 501,
        '{"type":"ping","x":' + "[" * 900 + "]" * 900 + "}",
        '{"type":"ping","x":1e999}',
    ],
)
def test_hostile_messages_are_protocol_errors(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_client_message(text)
