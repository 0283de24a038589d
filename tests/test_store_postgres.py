"""What only the PostgreSQL store does: its URL options and the plans of its lists."""

from __future__ import annotations

import json

import asyncpg
import pytest

from devskyy_ws.store.base import Row
from devskyy_ws.store.postgres import POOL_SIZE, PostgresStore, _numbered
from devskyy_ws.store.schema import MIGRATIONS, statements
from devskyy_ws.store.sql import _filters

from .system import postgres_url

__all__ = ["postgres_url"]


def test_pool_size_is_an_option_of_the_url() -> None:
    assert PostgresStore("postgresql://h/db").pool_size == POOL_SIZE
    store = PostgresStore("postgresql://h/db?schema=s&pool_size=7&sslmode=disable")
    assert (store.dsn, store.schema, store.pool_size) == (
        "postgresql://h/db?sslmode=disable",
        "s",
        7,
    )
    for bad in ("0", "101", "x", "-1", "²"):
        with pytest.raises(ValueError, match="pool_size"):
            PostgresStore(f"postgresql://h/db?pool_size={bad}")


async def test_the_pool_holds_as_many_connections_as_asked(postgres_url: str) -> None:
    store = PostgresStore(f"{postgres_url}&pool_size=2")
    await store.open()
    try:
        assert store._pool.get_max_size() == 2 and store._pool.get_min_size() == 2
        assert await store.ping()
    finally:
        await store.close()


async def test_a_filtered_list_walks_the_index_in_order_under_a_generic_plan(
    postgres_url: str,
) -> None:
    """A prepared statement goes generic after five runs; the list by agent and one
    status must then still read its page off the index, never sort every match."""
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        rows = [
            Row(
                id=f"task-{i:012x}",
                kind="task",
                group_key=("support", "commerce")[i % 2],
                status=("completed", "failed", "cancelled")[i % 3],
                created_at=1000.0 + i,
                doc={"taskId": f"task-{i:012x}"},
            )
            for i in range(3000)
        ]
        await store.put_many(rows)
        clause, args = _filters("task", "support", ["failed"])
        sql = _numbered(
            f"SELECT doc FROM records WHERE {clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        )
        async with store._pool.acquire() as conn:
            await conn.execute("ANALYZE records")
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args, 20, 0)
        text = json.dumps(plan)
        assert '"Sort"' not in text, text
        assert "records_kind_group_status_created" in text, text
        page = await store.list_docs("task", limit=20, group_key="support", statuses=["failed"])
        assert len(page) == 20 and page[0]["taskId"] == f"task-{2998:012x}"
    finally:
        await store.close()


async def test_a_database_from_before_migration_4_gets_category_and_provider(
    postgres_url: str,
) -> None:
    store = PostgresStore(postgres_url)
    conn = await asyncpg.connect(store.dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{store.schema}"')
        await conn.execute(f'SET search_path TO "{store.schema}"')
        await conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")
        for version, migration in MIGRATIONS[:3]:
            for statement in statements(migration, "postgresql"):
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
        doc = {"taskId": "task-1", "category": "analysis", "metrics": {"provider": "offline"}}
        await conn.execute(
            "INSERT INTO records (id, kind, group_key, status, created_at, technique, doc)"
            " VALUES ('task-1', 'task', 'support', 'completed', 1.0, 'react', $1)",
            json.dumps(doc),
        )
    finally:
        await conn.close()
    await store.open()
    try:
        tallies = await store.tally("task", ["technique", "category", "provider"])
        assert [(t.key, t.status, t.count) for t in tallies] == [
            (("react", "analysis", "offline"), "completed", 1)
        ]
        assert await store.get("task", "task-1") == doc
    finally:
        await store.close()
