"""The WAL checkpoint: on its own thread and connection, not in the writer's commits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from devskyy_ws.store.base import Row
from devskyy_ws.store.checkpoint import BACKSTOP_PAGES
from devskyy_ws.store.sqlite import SqliteStore

PAGE = 4096


def _rows(start: int, count: int) -> list[Row]:
    """Rows of about one page each, so the WAL's growth is easy to reckon."""
    return [
        Row(id=f"task-{i:012x}", kind="task", group_key="a", status="pending",
            created_at=float(i), doc={"taskId": f"task-{i:012x}", "pad": "x" * PAGE})
        for i in range(start, start + count)
    ]  # fmt: skip


def _wal_frames(path: Path) -> int:
    """Frames in the WAL now, read by another connection (its passive checkpoint is
    all but free after the store's own: nothing left to copy)."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        db.close()


async def test_the_writer_checkpoints_only_at_the_backstop(sqlite_store: SqliteStore) -> None:
    assert await sqlite_store._run(
        lambda db: db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    ) == (BACKSTOP_PAGES)
    sqlite_store.checkpointer.poke_every = 10**9  # never: only the writer could checkpoint
    for start in range(0, 1500, 100):
        await asyncio.gather(*(sqlite_store.add(r) for r in _rows(start, 100)))
    # SQLite's default would have checkpointed in the commit that passed 1,000 pages
    # and started the WAL over; the writer left them all for the checkpoint thread.
    assert _wal_frames(sqlite_store.path) > 1000


async def test_the_checkpoint_thread_copies_the_wal_when_poked(sqlite_store: SqliteStore) -> None:
    sqlite_store.checkpointer.poke_every = 1
    for start in range(0, 200, 50):
        await asyncio.gather(*(sqlite_store.add(r) for r in _rows(start, 50)))
    for _ in range(500):  # bounded: the thread runs as soon as it is poked
        if sqlite_store.checkpointer.checkpoints and sqlite_store.checkpointer.backfilled:
            break
        await asyncio.sleep(0.01)
    # Stopped, it writes the file no more: the reader below promises SQLite the file
    # does not change while it reads (immutable=1), which a running checkpoint breaks.
    await asyncio.to_thread(sqlite_store.checkpointer.stop)
    assert sqlite_store.checkpointer.checkpoints >= 1
    assert sqlite_store.checkpointer.backfilled > 0
    # What it copied is in the database file itself: a reader that ignores the WAL
    # (immutable mode reads only the main file) sees the rows.
    db = sqlite3.connect(f"file:{sqlite_store.path}?immutable=1", uri=True)
    try:
        copied = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    finally:
        db.close()
    assert copied > 0
    assert len((await sqlite_store.list_records("task", limit=100))[0]) == 100


async def test_closing_stops_the_checkpoint_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.sqlite3")
    await store.open()
    thread = store.checkpointer._thread
    assert thread is not None and thread.is_alive()
    await store.close()
    assert not thread.is_alive()
