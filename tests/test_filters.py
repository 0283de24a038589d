"""Subscription filters, without a socket."""

from __future__ import annotations

from typing import Any

import pytest

from devskyy_ws.channels.filters import FilterError, matches, parse_filters

UPDATE = {"type": "agent_status_update", "agent_id": "a-1", "status": "running",
          "data": {"agent_type": "commerce", "load": 3, "tags": ["x"]}}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"status": "running"}, True),
        ({"status": ["idle", "running"]}, True),
        ({"status": "idle"}, False),
        ({"agent_type": "commerce"}, True),  # a field of `data`
        ({"agent_type": "commerce", "status": "running"}, True),
        ({"agent_type": "commerce", "status": "idle"}, False),  # every key must match
        ({"load": 3}, True),
        ({"load": "3"}, False),  # no coercion
        ({"missing": "x"}, False),  # a message without the key does not match
        ({"tags": "x"}, False),  # a list field never equals a scalar
        ({"data": "x"}, False),  # `data` itself is not a filterable field
    ],
)
def test_matches(raw: dict[str, Any], expected: bool) -> None:
    assert matches(UPDATE, parse_filters(raw)) is expected


def test_a_top_level_field_wins_over_data() -> None:
    doc = {"status": "running", "data": {"status": "idle"}}
    assert matches(doc, parse_filters({"status": "running"}))
    assert not matches(doc, parse_filters({"status": "idle"}))


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        "status",
        {"": "x"},
        {"k" * 65: "x"},
        {"status": []},
        {"status": [None]},
        {"status": {"nested": 1}},
        {"status": [["running"]]},
        {f"k{i}": 1 for i in range(17)},
        {"status": list(range(257))},
    ],
)
def test_malformed_filters_are_refused(raw: Any) -> None:
    with pytest.raises(FilterError):
        parse_filters(raw)


def test_the_limits_themselves_are_accepted() -> None:
    parsed = parse_filters({f"k{i}": list(range(256)) for i in range(16)})
    assert len(parsed) == 16 and all(len(v) == 256 for v in parsed.values())
