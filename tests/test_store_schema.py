"""The SQLite schema after every migration: the task list finds its rows through an
index, in order, so it stays fast at 100,000 tasks (the REST benchmark's target)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devskyy_ws.store.base import Row
from devskyy_ws.store.schema import MIGRATIONS, statements
from devskyy_ws.store.sqlite import SqliteStore


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    """A store's database with tasks of several agents and statuses, analyzed, so the
    planner chooses from statistics as it does on a database in use."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    agents, statuses = ["commerce", "support", "analytics"], ["completed", "failed", "pending"]
    await store.put_many(
        [
            Row(
                id=f"task-{i:012x}",
                kind="task",
                group_key=agents[i % 3],
                status=statuses[i % 7 % 3],
                created_at=float(i),
                doc={"n": i},
            )
            for i in range(3000)
        ]
    )
    await store.close()
    connection = sqlite3.connect(store.path)
    connection.execute("ANALYZE")
    yield connection
    connection.close()


def _plan(db: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> str:
    return " / ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))


@pytest.mark.parametrize(
    ("where", "args", "index"),
    [
        ("kind = ?", ("task",), "records_kind_created"),
        ("kind = ? AND group_key = ?", ("task", "support"), "records_kind_group_created"),
        ("kind = ? AND status IN (?)", ("task", "failed"), "records_kind_status_created"),
        (
            "kind = ? AND group_key = ? AND status IN (?)",
            ("task", "support", "failed"),
            "records_kind_group_status_created",
        ),
    ],
)
def test_every_task_list_reads_an_index_in_order(
    db: sqlite3.Connection, where: str, args: tuple[object, ...], index: str
) -> None:
    """The list's query (store.list_docs): newest first, straight off an index, with
    no scan of the table and no sort of its own."""
    plan = _plan(
        db,
        f"SELECT doc FROM records WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (*args, 20, 0),
    )
    assert f"USING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


async def test_a_database_from_before_migration_4_gets_category_and_provider(
    tmp_path: Path,
) -> None:
    """Tasks stored before the columns existed are tallied by them after the upgrade."""
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")
    for version, migration in MIGRATIONS[:3]:
        for statement in statements(migration, "sqlite"):
            old.execute(statement)
        old.execute("INSERT INTO schema_version VALUES (?)", (version,))
    doc = {"taskId": "task-1", "category": "analysis", "metrics": {"provider": "offline"}}
    old.execute(
        "INSERT INTO records (id, kind, group_key, status, created_at, technique, doc)"
        " VALUES ('task-1', 'task', 'support', 'completed', 1.0, 'react', ?)",
        (json.dumps(doc),),
    )
    old.commit()
    old.close()
    store = SqliteStore(path)
    await store.open()
    try:
        tallies = await store.tally("task", ["technique", "category", "provider"])
        assert [(t.key, t.status, t.count) for t in tallies] == [
            (("react", "analysis", "offline"), "completed", 1)
        ]
        assert await store.get("task", "task-1") == doc
    finally:
        await store.close()
