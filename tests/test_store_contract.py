"""One contract, both stores: SQLite (a real file) and PostgreSQL (a real server)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
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
        category="analysis" if i % 3 else None,
        provider="p",
    )


async def test_text_search_ignores_case_escapes_wildcards_and_is_bounded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = ["Analyze PRICING trends", 'Say "50% off_now" \\ please', "Écrire un résumé",
               "nothing to see"]  # fmt: skip
    for i, prompt in enumerate(prompts):
        row = _row(i, group="commerce" if i < 2 else "support")
        await store.put(attrs.evolve(row, doc={**row.doc, "prompt": prompt}))

    async def found(text: str, **filters: object) -> list[int]:
        rows = await store.list_json("task", limit=10, text=text, **filters)  # type: ignore[arg-type]
        return [prompts.index(json.loads(doc)["prompt"]) for _, doc in rows]

    assert await found("pricing") == [0]
    assert await found("ANALYZE pr") == [0]
    assert await found('"50% off_now"') == [1]  # quotes and wildcards as typed
    assert await found("50%") == [1] and await found("%") == [1] and await found("_") == [1]
    assert await found("\\") == [1]
    assert await found("résumé") == [2] and await found("Écrire") == [2]
    assert await found("pricing", group_key="support") == []
    assert await found("e", offset=1, statuses=["pending"]) == [2, 1, 0]
    assert await found("absent") == []
    monkeypatch.setattr("devskyy_ws.store.sql.SEARCH_WINDOW", 2)  # the newest two only
    assert await found("pricing") == [] and await found("see") == [3]


async def test_put_get_list_filters_and_order(store: Store) -> None:
    for i in range(5):
        await store.put(
            _row(i, "completed" if i % 2 else "pending", "commerce" if i < 3 else "support")
        )
    assert (await store.get("task", _row(1).id)) == _row(1, "completed").doc
    assert await store.get("task", "task-missing") is None
    page = await store.list_docs("task", limit=2)
    assert [d["taskId"] for d in page] == [_row(4).id, _row(3).id]
    assert await store.count("task") == 5
    assert [d["taskId"] for d in await store.list_docs("task", limit=2, offset=3)] == [
        _row(1).id,
        _row(0).id,
    ]
    commerce = await store.list_docs("task", limit=10, group_key="commerce", statuses=["completed"])
    assert [d["taskId"] for d in commerce] == [_row(1).id]
    assert await store.count("task", group_key="commerce", statuses=["completed"]) == 1
    pending = await store.list_docs("task", limit=2, statuses=["pending"])
    assert pending == [_row(4).doc, _row(2).doc]
    texts = await store.list_json("task", limit=2, statuses=["pending"])
    assert [(i, json.loads(t)) for i, t in texts] == [
        (_row(4).id, pending[0]),
        (_row(2).id, pending[1]),
    ]
    skipped = await store.list_json("task", limit=2, statuses=["pending"], offset=1)
    assert [i for i, _ in skipped] == [_row(2).id, _row(0).id]
    assert json.loads(await store.get_json("task", _row(1).id) or "") == _row(1, "completed").doc
    assert await store.get_json("task", "task-missing") is None
    assert [d["taskId"] for d in await store.in_status("task")] == [_row(i).id for i in range(5)]
    by_status = {t.status: t for t in await store.tally("task")}
    assert {s: t.count for s, t in by_status.items()} == {"completed": 2, "pending": 3}
    assert by_status["completed"].latency_ms_sum == 40.0 and by_status["completed"].count == 2
    assert by_status["pending"].cost_usd_sum == 1.5
    mine = await store.tally("task", group_key="commerce")
    assert [(t.status, t.count, t.mean_latency_ms) for t in mine] == [
        ("completed", 1, 10.0),
        ("pending", 2, 10.0),
    ]
    split = await store.tally("task", ["technique", "category"])
    assert {(t.key, t.status, t.count) for t in split} == {
        (("chain_of_thought", None), "completed", 1),
        (("chain_of_thought", None), "pending", 1),
        (("chain_of_thought", "analysis"), "completed", 1),
        (("chain_of_thought", "analysis"), "pending", 2),
    }
    with pytest.raises(ValueError, match="cannot tally"):
        await store.tally("task", ["doc"])  # type: ignore[list-item]


async def test_claim_is_exactly_once_under_concurrency(store: Store) -> None:
    await store.put(_row(1))
    results = await asyncio.gather(*(store.claim(_row(1), "pending", f"i{n}") for n in range(10)))
    assert results.count(True) == 1
    assert await store.unclaimed("task", "pending", 10) == []
    await store.disown("task", "pending", None)
    assert len(await store.unclaimed("task", "pending", 10)) == 1


async def test_add_never_overwrites_a_record(store: Store) -> None:
    assert await store.add(_row(3, "completed")) is True
    assert await store.add(_row(3, "pending", "support")) is False
    assert (await store.get("task", _row(3).id)) == _row(3, "completed").doc
    page = await store.list_docs("task", limit=10, group_key="support")
    total = await store.count("task", group_key="support")
    assert (page, total) == ([], 0)


async def test_put_if_never_overwrites_a_changed_status(store: Store) -> None:
    await store.put(_row(2, "running"))
    assert await store.put_if(_row(2, "cancelled"), "running") is True
    assert await store.put_if(_row(2, "completed"), "running") is False
    assert (await store.status_of("task", [_row(2).id])) == {_row(2).id: "cancelled"}


async def test_leases_expire(store: Store) -> None:
    await store.put(_row(3))
    assert await store.claim(_row(3, "running"), "pending", "me", lease_s=0.01)
    assert (await store.get("task", _row(3).id)) == _row(3, "running").doc
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
