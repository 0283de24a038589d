"""The converter's wire rules: timestamps, message data, request bodies."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devskyy_ws.contract.messages import TaskUpdate, utcnow
from devskyy_ws.contract.records import ToolInfo
from devskyy_ws.contract.serde import format_timestamp, loads_body, parse_timestamp, unstructure

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=ZONES)
)
def test_any_aware_time_is_written_in_utc_with_z(value: datetime) -> None:
    text = format_timestamp(value)
    assert text.endswith("Z") and "+" not in text
    as_utc = value.astimezone(UTC)
    cut = as_utc.replace(microsecond=as_utc.microsecond // 1000 * 1000)  # milliseconds, cut
    assert parse_timestamp(text) == cut
    assert ("." in text) == bool(as_utc.microsecond)


def test_examples() -> None:
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 678_900, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.678Z"
    )
    five = timezone(timedelta(hours=5))
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 1_000, tzinfo=five)) == (
        "2026-01-01T22:04:05.001Z"
    )


def test_now_is_utc_in_whole_milliseconds_and_round_trips() -> None:
    before = time.time()
    now = utcnow()
    after = time.time()
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
    assert before - 0.001 <= now.timestamp() <= after
    assert parse_timestamp(format_timestamp(now)) == now


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)  # past 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_a_body_reads_as_the_standard_library_reads_it(value: Any) -> None:
    raw = json.dumps(value).encode()
    read = loads_body(raw)
    assert read == json.loads(raw)
    assert json.dumps(read) == json.dumps(value)  # same types: big integers stay integers


def test_bodies_the_fast_reader_refuses_get_the_standard_answer() -> None:
    assert loads_body(b'{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }
    assert math.isnan(loads_body(b'{"x": NaN}')["x"])  # as json.loads reads it
    assert loads_body('{"a": 1}'.encode("utf-16")) == {"a": 1}
    assert loads_body(b"null") is None
    for lone in (b'{"p": "\\ud800"}', b'{"p": "\xed\xa0\x80"}'):
        with pytest.raises(UnicodeEncodeError):
            loads_body(lone)
    with pytest.raises(json.JSONDecodeError):
        loads_body(b'{"a": ')


def test_message_data_keeps_scalars_and_converts_the_rest() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)
    tool = ToolInfo(name="t", description="d", category="c")
    data = {"s": "x", "i": 2, "f": 0.5, "b": True, "n": None, "at": when, "tool": tool}
    wire = unstructure(TaskUpdate(task_id="task-1", status="running", progress=5, data=data))
    assert wire["data"] == {
        "s": "x",
        "i": 2,
        "f": 0.5,
        "b": True,
        "n": None,
        "at": "2026-01-02T03:04:05.600Z",
        "tool": {"name": "t", "description": "d", "category": "c", "parameters": {}},
    }
    assert wire["data"] is not data  # a copy: the publisher may change its dict later
