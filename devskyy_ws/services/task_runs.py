"""Running one claimed task: its prompt shaped for its agent, answered by the task
provider or the Round Table, and its outcome written only if it is still running (a
cancel made meanwhile, here or on another instance, has the last word).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..contract import serde
from ..contract.messages import utcnow
from ..contract.records import TaskRecord
from ..providers.llm import Completion, ProviderError
from .task_records import task_row
from .techniques import shape_prompt

if TYPE_CHECKING:
    from .tasks import TaskService

__all__ = ["run_claimed"]

log = logging.getLogger("devskyy_ws.tasks")


async def run_claimed(service: TaskService, task: TaskRecord) -> None:
    """Run a task its worker has claimed (it is running in the store already)."""
    if task.status != "running":
        return  # cancelled between claim and start
    started = time.perf_counter()
    assert task.metrics.start_time is not None
    started_at = serde.format_timestamp(task.metrics.start_time)
    await service.agents.task_started(task, started_at)
    await service.progress(task, 5.0)
    try:
        completion = await _answer(service, task)
    except ProviderError as exc:
        if task.status != "running":
            return
        task.status = "failed"
        task.error = str(exc)
    except Exception as exc:
        if task.status != "running":
            return
        log.exception("task %s crashed", task.task_id)
        task.status = "failed"
        task.error = f"internal error ({type(exc).__name__})"
    else:
        if task.status != "running":
            return
        task.status = "completed"
        task.progress = 100.0
        task.result = completion.text
        task.metrics.cost_usd = completion.cost_usd
        task.metrics.tokens_used = completion.tokens_used
        task.metrics.provider = completion.provider
    task.metrics.end_time = utcnow()
    task.metrics.latency_ms = round((time.perf_counter() - started) * 1000.0, 3)
    service.active.pop(task.task_id, None)
    if not await service.store.put_if(task_row(task), "running"):
        return  # cancelled (or failed by a sweeper) elsewhere: theirs is the last word
    service.finished[task.status] = service.finished.get(task.status, 0) + 1
    await service.publish(task)
    await service.agents.task_finished(task, started_at)


async def _answer(service: TaskService, task: TaskRecord) -> Completion:
    async def progress(value: float) -> None:
        await service.progress(task, value)

    if task.use_round_table:
        assert service.round_table is not None
        return await service.round_table(task, progress)
    runtime = service.agents.runtime(task.agent_type)
    system, user = shape_prompt(
        task.technique_used or "chain_of_thought",
        task.prompt,
        runtime.definition.name,
        (t.name for t in runtime.definition.tools),
    )
    await progress(25.0)
    provider = service.providers.get(service.providers.task_provider)
    completion = await provider.complete(system, user)
    await progress(75.0)
    await progress(90.0)
    return completion
