"""The SQLite store's one thread: order, failure and closing (the contract suite covers
what every store does)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import attrs
import pytest

from devskyy_ws.contract.records import TaskRecord
from devskyy_ws.services.tasks import task_row
from devskyy_ws.store.base import Row, StoreUnavailable
from devskyy_ws.store.sqlite import SqliteStore


def _row(n: int) -> Row:
    return task_row(TaskRecord(task_id=f"task-{n:012x}", agent_type="support", prompt=f"p {n}"))


async def _held(store: SqliteStore) -> tuple[threading.Event, asyncio.Task[None]]:
    """A call that holds the store's thread until released: what is asked meanwhile
    queues behind it."""
    entered, release = threading.Event(), threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        entered.set()
        release.wait(10)

    held = asyncio.create_task(store._run(hold))
    assert await asyncio.to_thread(entered.wait, 10)
    return release, held


async def test_a_read_never_overtakes_a_write_made_before_it(sqlite_store: SqliteStore) -> None:
    row = _row(1)
    assert await sqlite_store.add(row)
    release, held = await _held(sqlite_store)
    done = attrs.evolve(row, status="completed", doc={**row.doc, "status": "completed"})
    write = asyncio.create_task(sqlite_store.put(done))
    await asyncio.sleep(0)  # the write is queued behind the held call
    read = asyncio.create_task(sqlite_store.get("task", row.id))
    listed = asyncio.create_task(sqlite_store.list_docs("task", limit=1, statuses=["completed"]))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(held, write)
    doc = await read
    assert doc is not None and doc["status"] == "completed"
    assert [d["taskId"] for d in await listed] == [row.id]


async def test_a_transaction_that_fails_leaves_none_of_its_rows(
    sqlite_store: SqliteStore,
) -> None:
    bad = attrs.evolve(_row(2), status=None)  # type: ignore[arg-type]  # status is NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        await sqlite_store.put_many([_row(1), bad])
    assert await sqlite_store.get("task", _row(1).id) is None  # the good row went too

    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO state (key, value) VALUES ('half', '{}')")
        raise sqlite3.IntegrityError("second statement failed")

    with pytest.raises(sqlite3.IntegrityError):
        await sqlite_store._run(half_then_fail, transaction=True)
    assert await sqlite_store.get_state("half") is None
    assert await sqlite_store.add(_row(3))  # the thread goes on


async def test_a_cancelled_caller_does_not_stop_the_thread(sqlite_store: SqliteStore) -> None:
    release, held = await _held(sqlite_store)
    waiting = asyncio.create_task(sqlite_store.add(_row(1)))
    await asyncio.sleep(0)
    waiting.cancel()
    release.set()
    await held
    assert await sqlite_store.add(_row(2))
    assert await sqlite_store.get("task", _row(2).id) is not None


async def test_calls_queued_before_close_finish_and_later_ones_are_refused(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "close.sqlite3")
    await store.open()
    release, held = await _held(store)
    queued = asyncio.create_task(store.add(_row(1)))
    await asyncio.sleep(0)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)
    with pytest.raises(StoreUnavailable):
        await store.add(_row(2))  # asked after close: refused at once, never left waiting
    release.set()
    await asyncio.gather(held, closing)
    assert await queued is True  # asked before: done
    assert not await store.ping()
    await store.open()  # and it opens again on the same file
    try:
        assert await store.get("task", _row(1).id) is not None
        assert await store.get("task", _row(2).id) is None
    finally:
        await store.close()


async def test_a_file_that_cannot_be_opened_is_reported(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    store = SqliteStore(tmp_path / "dir.sqlite3")
    with pytest.raises(sqlite3.Error):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.get("task", "task-1")


async def test_statements_run_on_the_store_thread_in_wal(sqlite_store: SqliteStore) -> None:
    threads: set[int] = set()
    await sqlite_store._run(
        lambda db: db.set_trace_callback(lambda _: threads.add(threading.get_ident()))
    )
    assert await sqlite_store.add(_row(1))
    await sqlite_store.list_docs("task", limit=5)
    assert len(threads) == 1 and threading.get_ident() not in threads
    mode = await sqlite_store._run(lambda db: db.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"


async def test_calls_queued_together_commit_as_one_group_and_fail_alone(
    sqlite_store: SqliteStore,
) -> None:
    """Held, the thread finds five calls waiting: one commit for all of them; the clash
    fails alone, and the call whose second statement fails leaves neither."""
    assert await sqlite_store.add(_row(0))
    release, held = await _held(sqlite_store)
    before = sqlite_store.commits

    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO state (key, value) VALUES ('half', '{}')")
        raise sqlite3.IntegrityError("second statement failed")

    calls = [
        asyncio.create_task(sqlite_store.add(_row(1))),
        asyncio.create_task(sqlite_store.add(_row(0))),  # its id is taken
        asyncio.create_task(sqlite_store._run(half_then_fail, transaction=True)),
        asyncio.create_task(sqlite_store.put_state("kept", {"n": 1})),
        asyncio.create_task(sqlite_store.add(_row(2))),
    ]
    await asyncio.sleep(0)
    release.set()
    await held
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[0] is True and results[1] is False and results[4] is True
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert sqlite_store.commits - before == 1
    assert await sqlite_store.get_state("half") is None
    assert await sqlite_store.get_state("kept") == {"n": 1}
    assert [d["taskId"] for d in await sqlite_store.list_docs("task", limit=5)] == [
        _row(2).id,
        _row(1).id,
        _row(0).id,
    ]
