"""Producers' events, checked once for every way they arrive (contract/events.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devskyy_ws.contract.events import EventRefused, parse_batch, parse_entry, parse_event
from devskyy_ws.contract.jsoncheck import MAX_DEPTH
from devskyy_ws.contract.messages import AgentStatusUpdate, TaskUpdate
from devskyy_ws.contract.requests import MAX_BATCH

UPDATE = {"type": "task_update", "task_id": "t-1", "status": "running", "progress": 5}


def test_an_event_becomes_its_channels_message_without_a_forged_position() -> None:
    channel, message = parse_event(
        {"channel": "tasks", "message": {**UPDATE, "seq": 9, "epoch": "x"}}
    )
    assert channel == "tasks"
    assert isinstance(message, TaskUpdate) and message.task_id == "t-1"
    assert (message.seq, message.epoch) == (None, None)  # the broker stamps its own
    agents = parse_event({"channel": "agents",
                          "message": {"type": "agent_status_update", "agent_id": "a", "status": "idle"}})  # fmt: skip
    assert isinstance(agents[1], AgentStatusUpdate)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ([], "invalid_event"),
        ({"channel": "nope", "message": UPDATE}, "unknown_channel"),
        ({"channel": "agents", "message": UPDATE}, "invalid_message"),  # not that channel's
        ({"channel": "tasks", "message": {**UPDATE, "progress": "half"}}, "invalid_message"),
        ({"channel": "tasks", "message": {"type": 7}}, "invalid_message"),
    ],
)
def test_a_bad_event_is_refused_with_the_contracts_code(raw: Any, code: str) -> None:
    with pytest.raises(EventRefused) as info:
        parse_event(raw)
    assert info.value.code == code and info.value.message


def test_an_ingest_entry_is_read_from_json_text() -> None:
    channel, message = parse_entry("tasks", json.dumps(UPDATE))
    assert channel == "tasks" and isinstance(message, TaskUpdate)


@pytest.mark.parametrize(
    ("channel", "text", "code"),
    [
        ("tasks", None, "invalid_event"),  # no message field
        ("tasks", "{not json", "invalid_json"),
        ("tasks", "[" * 10_000 + "]" * 10_000, "invalid_json"),  # deeper than any body may be
        ("tasks", '{"a":' + "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH + "}", "invalid_json"),
        ("tasks", '"\\ud800"', "invalid_json"),  # a lone surrogate can be neither kept nor sent
        (None, json.dumps(UPDATE), "unknown_channel"),
    ],
)
def test_a_bad_ingest_entry_is_refused_not_raised(channel: Any, text: Any, code: str) -> None:
    with pytest.raises(EventRefused) as info:
        parse_entry(channel, text)
    assert info.value.code == code


def test_a_batch_names_its_first_bad_event() -> None:
    good = {"channel": "tasks", "message": UPDATE}
    events = parse_batch([good, good])
    assert [channel for channel, _ in events] == ["tasks", "tasks"]
    with pytest.raises(EventRefused) as info:
        parse_batch([good, good, {"channel": "nope", "message": UPDATE}, {"bad": 1}])
    assert info.value.details["index"] == 2 and info.value.message.startswith("Event 2:")


@pytest.mark.parametrize(
    "raw", [[], {"channel": "tasks"}, [{"channel": "tasks", "message": UPDATE}] * (MAX_BATCH + 1)]
)
def test_a_batch_outside_its_size_is_refused(raw: Any) -> None:
    with pytest.raises(EventRefused) as info:
        parse_batch(raw)
    assert info.value.code == "invalid_batch" and info.value.details["max_events"] == MAX_BATCH
