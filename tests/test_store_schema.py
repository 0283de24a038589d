"""The SQLite schema after every migration: each query the store runs finds its rows
through an index, so lists and claims stay fast at 100,000 tasks."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devskyy_ws.store.sqlite import SqliteStore


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    await store.close()
    connection = sqlite3.connect(store.path)
    yield connection
    connection.close()


def _plan(db: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> str:
    return " / ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))


def test_records_pending_is_dropped(db: sqlite3.Connection) -> None:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "records_pending" not in names
    assert "records_kind_status_created" in names


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        (
            "SELECT doc FROM records WHERE kind = ? AND status = ? AND owner IS NULL"
            " ORDER BY created_at LIMIT ?",
            ("task", "pending", 8),
        ),
        (
            "SELECT doc FROM records WHERE kind = ? AND status = ? AND lease_until < ?",
            ("task", "running", 1.0),
        ),
        (
            "SELECT doc FROM records WHERE kind = ? AND owner = ? AND status IN (?, ?)",
            ("task", "me", "pending", "running"),
        ),
    ],
)
def test_claim_queries_use_the_status_index(
    db: sqlite3.Connection, sql: str, args: tuple[object, ...]
) -> None:
    plan = _plan(db, sql, args)
    assert "USING INDEX records_kind_status_created" in plan, plan
    assert "SCAN records" not in plan.replace("SCAN records USING", "")
