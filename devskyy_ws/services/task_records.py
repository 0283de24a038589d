"""How a task is stored (its row), read back as JSON text, and announced (its
`task_update`, its snapshot)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..contract import serde
from ..contract.messages import TaskUpdate
from ..contract.records import TaskRecord
from ..store.base import Row, Store

__all__ = ["recent_json", "snapshot_of", "task_json", "task_row", "task_update"]


def task_row(task: TaskRecord) -> Row:
    return Row(
        id=task.task_id,
        kind="task",
        group_key=task.agent_type,
        status=task.status,
        created_at=task.created_at.timestamp(),
        doc=serde.unstructure(task),
        latency_ms=task.metrics.latency_ms,
        cost_usd=task.metrics.cost_usd,
        technique=task.technique_used,
        category=task.category,
        provider=task.metrics.provider,
    )


def task_update(task: TaskRecord, instance_id: str) -> TaskUpdate:
    """The message on `tasks` for the task as it is now."""
    data: dict[str, Any] = {
        "agent_id": f"{task.agent_type}-001",
        "agent_type": task.agent_type,
        "technique_used": task.technique_used,
        "instance": instance_id,
    }
    if task.error:
        data["error"] = task.error
    if task.result is not None:
        data["result_preview"] = task.result[:200]
    if task.metrics.latency_ms is not None:
        data["latency_ms"] = task.metrics.latency_ms
    if task.competition_id:
        data["competition_id"] = task.competition_id
    return TaskUpdate(task_id=task.task_id, status=task.status, progress=task.progress, data=data)


def snapshot_of(tasks: Iterable[TaskRecord]) -> dict[str, Any]:
    """The `tasks` channel's snapshot: every task pending or running here."""
    return {
        "tasks": [
            {
                "task_id": t.task_id,
                "agent_type": t.agent_type,
                "status": t.status,
                "progress": t.progress,
                "technique_used": t.technique_used,
            }
            for t in tasks
            if t.status in ("pending", "running")
        ]
    }


async def task_json(store: Store, active: dict[str, TaskRecord], task_id: str) -> str | None:
    """One task as JSON text: its live state if it is active here, else as stored."""
    live = active.get(task_id)
    if live is not None:
        return serde.dumps(serde.unstructure(live))
    return await store.get_json("task", task_id)


async def recent_json(
    store: Store,
    active: dict[str, TaskRecord],
    limit: int,
    agent_type: str | None,
    status: str | None,
    offset: int = 0,
    text: str | None = None,
) -> str:
    """The task list as JSON text, newest first: stored documents as stored, live ones
    as they are now. Stored documents already have the wire shape, so they are never
    decoded and encoded again."""
    rows = await store.list_json(
        "task",
        limit=limit,
        group_key=agent_type,
        statuses=[status] if status else None,
        offset=offset,
        text=text,
    )
    parts = [
        serde.dumps(serde.unstructure(active[task_id])) if task_id in active else text
        for task_id, text in rows
    ]
    return "[" + ",".join(parts) + "]"
