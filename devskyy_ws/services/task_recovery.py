"""What outlives a process: recovery at start-up and, with several instances on one
store, claims and leases. Each instance takes pending tasks nobody has claimed, keeps
the leases of the tasks it runs, honours cancels made on other instances, and fails the
running tasks of an instance that stopped renewing its leases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..contract.records import TaskRecord

if TYPE_CHECKING:
    from .tasks import TaskService

__all__ = ["POLL_S", "keep_leases", "poll_shared_queue", "recover"]

log = logging.getLogger("devskyy_ws.tasks")

POLL_S = 0.25  # how often instances sharing a store look for unclaimed tasks


async def recover(service: TaskService) -> None:
    """Deal with what a previous run of this instance left behind.

    Alone on its store, the instance owns everything: running tasks failed with it and
    pending ones are queued again. Sharing a store, it only recovers its own; other
    instances' leases protect theirs, and pending tasks are polled for.
    """
    store, shared = service.store, service.store.shared
    leftovers = (
        await store.release("task", service.instance_id, ["running"])
        if shared
        else await store.in_status("task", ["running"])
    )
    for task in service.loader.many(leftovers, TaskRecord, "task"):
        await service.interrupt(task, "interrupted by restart")
    await store.disown("task", "pending", service.instance_id if shared else None)
    if not shared:
        pending = await store.in_status("task", ["pending"])
        for task in service.loader.many(pending, TaskRecord, "task"):
            service.enqueue(task)


async def poll_shared_queue(service: TaskService) -> None:
    """Take pending tasks nobody has claimed yet, as far as there is room."""
    while True:
        await asyncio.sleep(POLL_S)
        free = service.free_slots()
        if free <= 0:
            continue
        try:
            docs = await service.store.unclaimed("task", "pending", free)
        except Exception:
            log.exception("polling for tasks failed")
            continue
        for task in service.loader.many(docs, TaskRecord, "task"):
            if not service.knows(task.task_id):
                service.enqueue(task)


async def keep_leases(service: TaskService) -> None:
    """Renew our leases, honour cancels made elsewhere, fail work of dead instances."""
    store = service.store
    while True:
        await asyncio.sleep(service.lease_s / 3)
        try:
            running = service.running_here()
            await store.renew("task", running, service.instance_id, service.lease_s)
            for task_id, status in (await store.status_of("task", running)).items():
                if status == "cancelled":
                    await service.cancelled_elsewhere(task_id)
            expired = await store.expired("task", "running", time.time())
            for stale in service.loader.many(expired, TaskRecord, "task"):
                if stale.task_id not in service.running_here():
                    await service.interrupt(stale, "interrupted: its instance stopped responding")
        except Exception:
            log.exception("lease upkeep failed")
