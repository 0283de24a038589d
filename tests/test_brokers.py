"""The in-memory broker numbers each channel's messages and serializes them once."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from devskyy_ws.channels.brokers import MemoryBroker, open_broker, stamp
from devskyy_ws.contract.events import EventRefused


async def test_memory_broker_stamps_seq_and_epoch_per_channel() -> None:
    broker = MemoryBroker()
    got: list[tuple[str, int, bytes]] = []

    def deliver(channel: str, run: Sequence[tuple[int, bytes]]) -> list[int]:
        got.extend((channel, seq, payload) for seq, payload in run)
        return [7] * len(run)

    async def ingest(entries: Sequence[tuple[object, object]]) -> list[EventRefused | None]:
        raise AssertionError("the memory broker has no ingest stream")

    await broker.start(deliver, ingest)
    assert await broker.publish("tasks", {"type": "task_update"}) == (1, 7)
    await broker.publish("tasks", {"type": "task_update"})
    await broker.publish("agents", {"type": "agent_status_update"})
    assert [(c, s) for c, s, _ in got] == [("tasks", 1), ("tasks", 2), ("agents", 1)]
    docs = [json.loads(p) for _, _, p in got]
    assert [d["seq"] for d in docs] == [1, 2, 1]
    assert docs[0]["epoch"] == docs[1]["epoch"] == broker.epochs["tasks"]
    assert docs[2]["epoch"] == broker.epochs["agents"]
    assert broker.seqs["tasks"] == 2 and broker.seqs["agents"] == 1
    many = await broker.publish_many("tasks", [{"type": "a"}, {"type": "b"}])
    assert many == [(3, 7), (4, 7)]  # one run, numbered in order
    assert [(c, s, json.loads(p)["type"]) for c, s, p in got[3:]] == [
        ("tasks", 3, "a"),
        ("tasks", 4, "b"),
    ]


async def test_a_stopped_memory_broker_refuses_to_publish() -> None:
    broker = MemoryBroker()
    with pytest.raises(RuntimeError):
        await broker.publish("tasks", {"type": "task_update"})


def test_stamp_overrides_a_position_the_publisher_sent() -> None:
    payload = stamp({"type": "x", "seq": 99, "epoch": "forged"}, 3, "abcd")
    assert json.loads(payload) == {"type": "x", "seq": 3, "epoch": "abcd"}


@pytest.mark.parametrize("url", ["memory://", "memory", ""])
def test_open_broker_defaults_to_memory(url: str) -> None:
    assert isinstance(open_broker(url), MemoryBroker)


def test_open_broker_names_what_it_supports() -> None:
    with pytest.raises(ValueError, match="memory:// or redis://"):
        open_broker("kafka://127.0.0.1:9092")
