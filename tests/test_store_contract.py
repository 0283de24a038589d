"""One contract, both stores: SQLite (a real file) and PostgreSQL (a real server)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devskyy_ws.store import open_store
from devskyy_ws.store.base import Row, Store

from .system import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_store(url)
    await opened.open()
    yield opened
    await opened.close()


def _row(i: int, status: str = "pending", group: str = "commerce") -> Row:
    return Row(
        id=f"task-{i:012x}",
        kind="task",
        group_key=group,
        status=status,
        created_at=1000.0 + i,
        doc={
            "taskId": f"task-{i:012x}",
            "status": status,
            "category": "analysis",
            "metrics": {"provider": "p"},
        },
        latency_ms=10.0 * i,
        cost_usd=0.5,
        technique="chain_of_thought",
    )


async def test_put_get_list_filters_and_order(store: Store) -> None:
    for i in range(5):
        await store.put(
            _row(i, "completed" if i % 2 else "pending", "commerce" if i < 3 else "support")
        )
    assert (await store.get("task", _row(1).id)) == _row(1, "completed").doc
    assert await store.get("task", "task-missing") is None
    page, total = await store.list_records("task", limit=2)
    assert total == 5 and [d["taskId"] for d in page] == [_row(4).id, _row(3).id]
    commerce, total = await store.list_records(
        "task", limit=10, group_key="commerce", statuses=["completed"]
    )
    assert total == 1 and commerce[0]["taskId"] == _row(1).id
    assert await store.status_counts("task") == {"completed": 2, "pending": 3}
    assert json.loads(await store.get_text("task", _row(1).id) or "") == _row(1, "completed").doc
    assert await store.get_text("task", "task-missing") is None
    texts = await store.list_texts("task", limit=2, statuses=["pending"])
    assert [(i, json.loads(t)) for i, t in texts] == [
        (_row(4).id, _row(4).doc),
        (_row(2).id, _row(2).doc),
    ]
    totals = await store.agent_totals("commerce")
    assert (
        totals["completed"] == 1
        and totals["avg_latency_ms"] == 10.0
        and totals["total_cost_usd"] == 1.5
    )
    stats = await store.technique_stats(None)
    assert (
        stats[0].technique == "chain_of_thought" and stats[0].uses == 2 and stats[0].successes == 2
    )


async def test_claim_is_exactly_once_under_concurrency(store: Store) -> None:
    await store.put(_row(1))
    results = await asyncio.gather(
        *(store.claim("task", _row(1).id, "pending", f"i{n}") for n in range(10))
    )
    assert results.count(True) == 1
    assert await store.unclaimed("task", "pending", 10) == []
    await store.disown("task", "pending", None)
    assert len(await store.unclaimed("task", "pending", 10)) == 1


async def test_add_never_overwrites_a_record(store: Store) -> None:
    assert await store.add(_row(3, "completed")) is True
    assert await store.add(_row(3, "pending", "support")) is False
    assert (await store.get("task", _row(3).id)) == _row(3, "completed").doc
    page, total = await store.list_records("task", limit=10, group_key="support")
    assert (page, total) == ([], 0)


async def test_put_if_never_overwrites_a_changed_status(store: Store) -> None:
    await store.put(_row(2, "running"))
    assert await store.put_if(_row(2, "cancelled"), "running") is True
    assert await store.put_if(_row(2, "completed"), "running") is False
    assert (await store.status_of("task", [_row(2).id])) == {_row(2).id: "cancelled"}


async def test_leases_expire(store: Store) -> None:
    await store.put(_row(3))
    assert await store.claim("task", _row(3).id, "pending", "me", lease_s=0.01)
    await store.put(_row(3, "running"))
    assert [d["taskId"] for d in await store.expired("task", "running", time.time() + 1)] == [
        _row(3).id
    ]
    await store.renew("task", [_row(3).id], "me", 60)
    assert await store.expired("task", "running", time.time() + 1) == []
    assert [d["taskId"] for d in await store.release("task", "me", ["running"])] == [_row(3).id]


async def test_state_and_samples_and_rollup(store: Store) -> None:
    await store.put_state("agent:x", {"learning_cycles": 2})
    assert await store.get_state("agent:x") == {"learning_cycles": 2}
    now = time.time()
    await store.add_samples(
        [(now - i * 300.0, {"cpu_percent": 50.0}) for i in range(int(31 * 86400 / 300))]
    )
    counts = await store.rollup(now)
    assert counts["raw"] <= 289 and counts["hour"] <= 721
    hours = await store.samples(now - 30 * 86400, "hour")
    assert hours and all(h[1]["cpu_percent"] == 50.0 for h in hours)


async def test_migrations_are_idempotent_when_instances_start_together(
    store: Store, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'contract.sqlite3'}" if store.name == "sqlite" else None
    if url is None:
        from devskyy_ws.store.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        url = f"{store.dsn}?schema={store.schema}"
    others = [open_store(url) for _ in range(3)]
    await asyncio.gather(*(o.open() for o in others))
    for other in others:
        assert await other.ping()
        await other.close()
