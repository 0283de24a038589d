"""Record ids: the API's shape, no repeats, and a clash never overwrites a record."""

from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path

import pytest

from devskyy_ws import ids
from devskyy_ws.records import TaskRecord
from devskyy_ws.services.tasks import task_row
from devskyy_ws.store.sqlite import SqliteStore


def test_ids_have_the_documented_shape_and_do_not_repeat() -> None:
    drawn = [ids.new_id("task") for _ in range(5000)]
    assert all(re.fullmatch(r"task-[0-9a-f]{12}", i) for i in drawn)
    assert len(set(drawn)) == len(drawn)


def test_ids_lead_with_the_millisecond_so_new_ones_are_index_neighbours() -> None:
    before = int(time.time() * 1000)
    drawn = [ids.new_id("task") for _ in range(200)]
    after = int(time.time() * 1000)
    window = {ms & 0xFFFFFF for ms in range(before, after + 1)}
    assert {int(i[5:11], 16) for i in drawn} <= window
    # within one millisecond the ids count up from a random start
    by_tick: dict[str, list[int]] = {}
    for i in drawn:
        by_tick.setdefault(i[5:11], []).append(int(i[11:], 16))
    for lows in by_tick.values():
        assert lows == [(lows[0] + n) & 0xFFFFFF for n in range(len(lows))]


def test_fresh_draws_a_new_start_within_the_same_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ids, "_clock", lambda: 1_764_000_000.5)
    first = ids.new_id("task")
    counted = ids.new_id("task")
    fresh = [ids.new_id("task", fresh=True) for _ in range(3)]
    assert int(counted[11:], 16) == (int(first[11:], 16) + 1) & 0xFFFFFF
    assert {f[5:11] for f in fresh} == {first[5:11]}
    assert len({*fresh, first, counted}) == 5


def test_a_forked_child_does_not_reuse_the_parent_block() -> None:
    ids.new_id("x")  # the parent now holds a block
    read, write = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns about forking a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ids.new_id("x").encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert child != ids.new_id("x")


async def test_a_clashing_id_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "ids.sqlite3")
    await store.open()
    try:
        draws = iter(["task-00000000000a", "task-00000000000a", "task-00000000000b"])
        monkeypatch.setattr(ids, "new_id", lambda prefix, fresh=False: next(draws))
        first = TaskRecord(task_id="", agent_type="support", prompt="one")
        second = TaskRecord(task_id="", agent_type="commerce", prompt="two")
        await ids.insert_fresh(store, first, "task_id", "task", task_row)
        row = await ids.insert_fresh(store, second, "task_id", "task", task_row)
        assert (first.task_id, second.task_id, row.id) == (
            "task-00000000000a",
            "task-00000000000b",
            "task-00000000000b",
        )
        stored = await store.get("task", "task-00000000000a")
        assert stored is not None and stored["prompt"] == "one"
    finally:
        await store.close()


async def test_a_clash_with_another_instances_count_draws_from_a_fresh_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance sharing the database counted through the ids this one would
    count to next: the retry leaves that run instead of walking along it."""
    store = SqliteStore(tmp_path / "clash.sqlite3")
    await store.open()
    try:
        monkeypatch.setattr(ids, "_clock", lambda: 1_764_000_000.25)
        probe = ids.new_id("task")
        tick, low = probe[5:11], int(probe[11:], 16)
        taken = [f"task-{tick}{(low + n) & 0xFFFFFF:06x}" for n in range(1, 41)]
        for n, other in enumerate(taken):
            other_task = TaskRecord(task_id=other, agent_type="support", prompt=f"theirs {n}")
            assert await store.add(task_row(other_task))
        mine = TaskRecord(task_id="", agent_type="support", prompt="mine")
        row = await ids.insert_fresh(store, mine, "task_id", "task", task_row)
        assert row.id not in taken and row.id[5:11] == tick
        stored = await store.get("task", row.id)
        assert stored is not None and stored["prompt"] == "mine"
        first_taken = await store.get("task", taken[0])
        assert first_taken is not None and first_taken["prompt"] == "theirs 0"
    finally:
        await store.close()


async def test_records_made_in_one_millisecond_list_newest_first(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    store = SqliteStore(tmp_path / "order.sqlite3")
    await store.open()
    try:
        same = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
        made = []
        for i in range(8):
            task = TaskRecord(task_id="", agent_type="support", prompt=f"p{i}", created_at=same)
            made.append((await ids.insert_fresh(store, task, "task_id", "task", task_row)).id)
        listed = [task_id for task_id, _ in await store.list_texts("task", limit=10)]
        assert listed == list(reversed(made))
        stored = await store.get("task", made[0])
        assert stored is not None and stored["createdAt"] == "2026-11-25T12:00:00.123Z"
    finally:
        await store.close()
