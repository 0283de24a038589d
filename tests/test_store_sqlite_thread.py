"""The SQLite thread's group commit, on a real database file.

Each test holds the thread on a first call until the others are queued, so the group
they form is known without timing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from devskyy_ws.store.sqlite import SqliteStore
from devskyy_ws.store.sqlite_thread import Insert, SqliteThread


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, parent INTEGER"
        " REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
    )
    return db


@pytest.fixture
async def thread(tmp_path: Path) -> AsyncIterator[SqliteThread]:
    worker = SqliteThread(lambda: _connect(tmp_path / "t.sqlite3"))
    await worker.start()
    yield worker
    await worker.stop()


async def _held(thread: SqliteThread) -> tuple[threading.Event, asyncio.Task[None]]:
    """Occupy the thread until the returned event is set."""
    release, entered = threading.Event(), threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        entered.set()
        release.wait(timeout=30)

    task = asyncio.create_task(thread.call(hold))
    await asyncio.to_thread(entered.wait, 30)
    return release, task


def _insert(item: int, parent: int | None = None) -> Callable[[sqlite3.Connection], int]:
    def run(db: sqlite3.Connection) -> int:
        db.execute("INSERT INTO item (id, parent) VALUES (?, ?)", (item, parent))
        return item

    return run


def _ids(db: sqlite3.Connection) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM item ORDER BY id")]


async def test_queued_calls_commit_as_one_group_in_order(thread: SqliteThread) -> None:
    release, held = await _held(thread)
    calls = [asyncio.create_task(thread.call(_insert(i))) for i in range(50)]
    await asyncio.sleep(0)  # let every call reach the queue
    groups_before = thread.groups
    release.set()
    await held
    assert await asyncio.gather(*calls) == list(range(50))
    assert thread.groups - groups_before == 2  # the held call, then all fifty at once
    assert await thread.call(_ids) == list(range(50))


async def test_a_failing_call_is_rolled_back_alone(thread: SqliteThread) -> None:
    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (id) VALUES (101)")
        raise ValueError("boom")

    release, held = await _held(thread)
    first = asyncio.create_task(thread.call(_insert(100)))
    failing = asyncio.create_task(thread.call(half_then_fail))
    last = asyncio.create_task(thread.call(_insert(102)))
    await asyncio.sleep(0)
    release.set()
    await held
    assert await first == 100 and await last == 102
    with pytest.raises(ValueError, match="boom"):
        await failing
    assert await thread.call(_ids) == [100, 102]


async def test_an_atomic_statement_that_fails_halfway_leaves_none_of_its_rows(
    thread: SqliteThread,
) -> None:
    """Without a savepoint, SQLite's own statement rollback keeps the call alone."""

    def two_rows_then_clash(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (id) VALUES (201), (202), (200)")  # 200 is taken

    release, held = await _held(thread)
    first = asyncio.create_task(thread.call(_insert(200), atomic=True))
    failing = asyncio.create_task(thread.call(two_rows_then_clash, atomic=True))
    last = asyncio.create_task(thread.call(_insert(203), atomic=True))
    await asyncio.sleep(0)
    release.set()
    await held
    assert await first == 200 and await last == 203
    with pytest.raises(sqlite3.IntegrityError):
        await failing
    assert await thread.call(_ids) == [200, 203]


async def test_atomic_calls_take_no_savepoint(tmp_path: Path) -> None:
    statements: list[str] = []

    def traced() -> sqlite3.Connection:
        db = _connect(tmp_path / "trace.sqlite3")
        db.set_trace_callback(statements.append)
        return db

    worker = SqliteThread(traced)
    await worker.start()
    try:
        release, held = await _held(worker)
        calls = [asyncio.create_task(worker.call(_insert(i), atomic=i < 2)) for i in range(3)]
        await asyncio.sleep(0)
        statements.clear()  # from here: the held call's commit, then the group of three
        release.set()
        await held
        assert await asyncio.gather(*calls) == [0, 1, 2]
    finally:
        await worker.stop()
    assert [s for s in statements if "SAVEPOINT" in s] == ["SAVEPOINT call"]  # the third's


async def _traced(thread: SqliteThread) -> list[str]:
    """Every statement the thread's connection runs from now on."""
    statements: list[str] = []
    await thread.call(lambda db: db.set_trace_callback(statements.append))
    return statements


async def _group(
    thread: SqliteThread,
    calls: list[tuple[Callable[[sqlite3.Connection], object], bool]],
    statements: list[str] | None = None,
) -> list[object]:
    """Run `calls` as one group (queued while the thread is held); results or errors.
    `statements` (from `_traced`) is cleared first: it then holds the held call's
    COMMIT and the group's own statements."""
    release, held = await _held(thread)
    tasks = [asyncio.create_task(thread.call(fn, atomic=atomic)) for fn, atomic in calls]
    await asyncio.sleep(0)
    if statements is not None:
        statements.clear()
    release.set()
    await held
    return await asyncio.gather(*tasks, return_exceptions=True)


def _row(item: int, parent: int | None = None) -> Insert:
    return Insert("item (id, parent)", (item, parent))


async def test_inserts_in_a_group_are_one_statement_without_a_transaction(
    thread: SqliteThread,
) -> None:
    statements = await _traced(thread)
    results = await _group(thread, [(_row(i), True) for i in range(50)], statements)
    assert results == [True] * 50
    assert statements[0] == "COMMIT"  # the held call's
    assert len(statements) == 2 and statements[1].startswith("INSERT")
    assert statements[1].count("(") == 51  # the columns, then 50 rows
    assert await thread.call(_ids) == list(range(50))


async def test_a_clash_among_merged_inserts_fails_that_row_alone(thread: SqliteThread) -> None:
    assert await thread.call(_row(7)) is True
    results = await _group(thread, [(_row(i), True) for i in range(5, 10)])
    assert results == [True, True, False, True, True]  # 7 was taken: "not added", no error
    assert await thread.call(_ids) == [5, 6, 7, 8, 9]


async def test_a_bad_value_among_merged_inserts_fails_that_call_alone(
    thread: SqliteThread,
) -> None:
    bad = Insert("item (id)", (object(),))  # no SQLite type for it
    results = await _group(thread, [(_row(1), True), (bad, True), (_row(3), True)])
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], sqlite3.Error)
    assert await thread.call(_ids) == [1, 3]


async def test_merged_inserts_stay_within_the_variable_limit(thread: SqliteThread) -> None:
    await thread.call(lambda db: db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 6))
    statements = await _traced(thread)
    assert await _group(thread, [(_row(i), True) for i in range(7)], statements) == [True] * 7
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert [s.count("(") - 1 for s in inserts] == [3, 3, 1]  # 6 variables: 3 rows of 2
    assert await thread.call(_ids) == list(range(7))


async def test_a_group_keeps_its_order_across_inserts_and_other_calls(
    thread: SqliteThread,
) -> None:
    """Runs of inserts and the calls between them commit in the order they were made."""
    results = await _group(
        thread, [(_row(1), True), (_row(2), True), (_ids, True), (_row(3), True), (_ids, True)]
    )
    assert results == [True, True, [1, 2], True, [1, 2, 3]]


async def test_a_failed_commit_fails_every_call_of_the_group(thread: SqliteThread) -> None:
    """A deferred foreign key is checked at COMMIT: nobody in the group may hear "done"."""
    release, held = await _held(thread)
    good = asyncio.create_task(thread.call(_insert(1)))
    orphan = asyncio.create_task(thread.call(_insert(2, parent=999)))
    await asyncio.sleep(0)
    release.set()
    await held
    results = await asyncio.gather(good, orphan, return_exceptions=True)
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results)
    assert await thread.call(_ids) == []
    assert await thread.call(_insert(3)) == 3  # and it goes on


async def test_a_call_alone_that_fails_leaves_nothing(thread: SqliteThread) -> None:
    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (id) VALUES (7)")
        raise KeyError("x")

    with pytest.raises(KeyError):
        await thread.call(half_then_fail)
    assert await thread.call(_ids) == []


async def test_a_cancelled_caller_does_not_stop_the_thread(thread: SqliteThread) -> None:
    release, held = await _held(thread)
    abandoned = asyncio.create_task(thread.call(_insert(5)))
    await asyncio.sleep(0)
    abandoned.cancel()
    release.set()
    await held
    assert await thread.call(_ids) == [5]  # the write was already queued: it happened


async def test_store_writes_under_concurrency_share_commits(tmp_path: Path) -> None:
    """Through the store: many concurrent puts take fewer transactions than puts."""
    from devskyy_ws.store.base import Row

    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        release, held = await _held(store.thread)
        rows = [
            Row(id=f"task-{i:012x}", kind="task", group_key="a", status="pending",
                created_at=float(i), doc={"taskId": f"task-{i:012x}"})
            for i in range(40)
        ]  # fmt: skip
        puts = [asyncio.create_task(store.put(r)) for r in rows]
        await asyncio.sleep(0)
        before = store.thread.groups
        release.set()
        await held
        await asyncio.gather(*puts)
        assert store.thread.groups - before == 2
        page, total = await store.list_records("task", limit=100)
        assert total == 40 and page[0]["taskId"] == rows[-1].id
    finally:
        await store.close()


async def test_a_connection_that_cannot_open_is_reported(tmp_path: Path) -> None:
    def refuse() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    worker = SqliteThread(refuse)
    with pytest.raises(sqlite3.OperationalError):
        await worker.start()
    assert not worker.running


async def test_the_thread_outlives_a_call_that_breaks_the_transaction(
    thread: SqliteThread,
) -> None:
    """A call that commits on its own removes the group's savepoint: the group fails,
    the thread goes on."""

    def commits(db: sqlite3.Connection) -> None:
        db.execute("COMMIT")

    release, held = await _held(thread)
    first = asyncio.create_task(thread.call(_insert(1)))
    rogue = asyncio.create_task(thread.call(commits))
    await asyncio.sleep(0)
    release.set()
    await held
    results = await asyncio.gather(first, rogue, return_exceptions=True)
    assert all(isinstance(r, sqlite3.Error) for r in results)
    assert await thread.call(_insert(2)) == 2


async def test_calls_after_stop_are_refused_not_left_waiting(tmp_path: Path) -> None:
    worker = SqliteThread(lambda: _connect(tmp_path / "stop.sqlite3"))
    await worker.start()
    release, held = await _held(worker)
    queued = asyncio.create_task(worker.call(_insert(1)))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0)  # the stop request is queued behind `queued`
    late = asyncio.create_task(worker.call(_insert(2)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(held, stopping)
    assert await queued == 1  # asked before the stop: done
    with pytest.raises(sqlite3.OperationalError, match="closed"):
        await asyncio.wait_for(late, 10)  # asked after: refused, never left waiting
    with pytest.raises(sqlite3.OperationalError, match="closed"):
        await worker.call(_insert(3))


async def test_on_commit_follows_groups_that_changed_rows(tmp_path: Path) -> None:
    """What pokes the checkpoint thread: a group that wrote does, a read does not."""
    calls: list[int] = []
    worker = SqliteThread(
        lambda: _connect(tmp_path / "c.sqlite3"), on_commit=lambda: calls.append(1)
    )
    await worker.start()
    try:
        await worker.call(_ids)
        assert calls == []
        assert await _group(worker, [(_row(i), True) for i in range(3)]) == [True] * 3
        assert calls == [1]  # the held call wrote nothing; the three were one group
        await worker.call(_insert(10))
        assert calls == [1, 1]
        await worker.call(_ids, atomic=True)
        assert calls == [1, 1]
    finally:
        await worker.stop()
