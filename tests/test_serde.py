"""Wire timestamps: the one formatter every message and record goes through."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from devskyy_ws.messages import utcnow
from devskyy_ws.serde import format_timestamp, parse_timestamp

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
