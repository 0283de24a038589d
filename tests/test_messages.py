"""Every message class round-trips the converter and matches the document's example."""

from __future__ import annotations

from typing import Any

import pytest

from devskyy_ws.contract import serde
from devskyy_ws.contract.messages import MESSAGE_TYPES, MetricsUpdate

from .doc_examples import DOC, SHARED, message_examples

EXAMPLES = message_examples()


def test_vendored_document_matches_shared_copy() -> None:
    if not SHARED.exists():
        pytest.skip("../shared is not beside this checkout")
    assert DOC.read_text() == SHARED.read_text()


def test_document_examples_were_found() -> None:
    assert {
        "ping",
        "pong",
        "subscribe",
        "agent_status_update",
        "task_update",
        "competition_update",
        "pipeline_update",
        "metrics_update",
        "error",
        "keepalive",
    } <= set(EXAMPLES)


@pytest.mark.parametrize(
    "kind",
    [
        "agent_status_update",
        "task_update",
        "competition_update",
        "pipeline_update",
        "metrics_update",
        "error",
        "keepalive",
        "pong",
    ],
)
def test_example_round_trips_field_for_field(kind: str) -> None:
    example: dict[str, Any] = EXAMPLES[kind]
    obj = serde.structure(example, MESSAGE_TYPES[kind])
    assert serde.unstructure(obj) == example


def test_progress_is_a_number_and_timestamps_end_in_z() -> None:
    obj = serde.structure(EXAMPLES["task_update"], MESSAGE_TYPES["task_update"])
    wire = serde.unstructure(obj)
    assert isinstance(wire["progress"], float)
    assert wire["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("agent_status_update", {"status": "sleeping"}),
        ("task_update", {"progress": 101}),
        ("task_update", {"progress": "45"}),
        ("competition_update", {"stage": "voting"}),
        ("pipeline_update", {"stage": "printing"}),
        ("error", {"error_type": "fatal"}),
        ("task_update", {"timestamp": "2024-01-06T12:00:00"}),
        ("task_update", {"unexpected": 1}),
    ],
)
def test_values_outside_the_document_are_refused(kind: str, change: dict[str, Any]) -> None:
    with pytest.raises(Exception):  # noqa: B017,PT011 - cattrs raises several kinds
        serde.structure({**EXAMPLES[kind], **change}, MESSAGE_TYPES[kind])


def test_metrics_nested_sample() -> None:
    obj = serde.structure(EXAMPLES["metrics_update"], MetricsUpdate)
    assert obj.metrics.active_connections == 12
