"""Fresh record ids: random, never overwriting, listed in the order they were made."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devskyy_ws.contract.records import TaskRecord
from devskyy_ws.services.ids import FreshIds, new_id
from devskyy_ws.services.tasks import task_row
from devskyy_ws.store.sqlite import SqliteStore


def test_ids_are_a_prefix_and_12_hex_digits_and_do_not_repeat() -> None:
    drawn = [new_id("task") for _ in range(5000)]
    assert len(set(drawn)) == 5000
    assert all(len(d) == 17 and d.startswith("task-") for d in drawn)
    assert all(int(d[5:], 16) >= 0 for d in drawn)


async def test_a_clashing_id_is_drawn_again(sqlite_store: SqliteStore) -> None:
    draws = iter(["task-00000000000a", "task-00000000000a", "task-00000000000b"])
    ids = FreshIds("task", draw=lambda prefix: next(draws))
    first = TaskRecord(task_id="", agent_type="support", prompt="one")
    second = TaskRecord(task_id="", agent_type="commerce", prompt="two")
    await ids.insert(sqlite_store, first, "task_id", task_row)
    row = await ids.insert(sqlite_store, second, "task_id", task_row)
    assert (first.task_id, second.task_id, row.id) == (
        "task-00000000000a",
        "task-00000000000b",
        "task-00000000000b",
    )
    stored = await sqlite_store.get("task", "task-00000000000a")
    assert stored is not None and stored["prompt"] == "one"  # never overwritten


async def test_a_source_that_only_clashes_gives_up(sqlite_store: SqliteStore) -> None:
    ids = FreshIds("task", draw=lambda prefix: "task-00000000000a")
    await ids.insert(
        sqlite_store, TaskRecord(task_id="", agent_type="a", prompt="x"), "task_id", task_row
    )
    with pytest.raises(RuntimeError, match="no free task id"):
        await ids.insert(
            sqlite_store, TaskRecord(task_id="", agent_type="a", prompt="y"), "task_id", task_row
        )


async def test_records_made_in_one_millisecond_list_newest_first(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "order.sqlite3")
    await store.open()
    try:
        ids = FreshIds("task")
        same = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
        made = []
        for i in range(8):
            task = TaskRecord(task_id="", agent_type="support", prompt=f"p{i}", created_at=same)
            made.append((await ids.insert(store, task, "task_id", task_row)).id)
        listed = [doc["taskId"] for doc in await store.list_docs("task", limit=10)]
        assert listed == list(reversed(made))
        stored = await store.get("task", made[0])
        assert stored is not None and stored["createdAt"] == "2026-11-25T12:00:00.123Z"
    finally:
        await store.close()
