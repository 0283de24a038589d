"""Tasks: accepted durably, queued, run with bounded concurrency, streamed live.

A task goes pending → running → completed | failed | cancelled. It is written to the
store before the client hears 201/202, so nothing acknowledged is lost; at start-up,
pending tasks are queued again and running ones (the process died under them) fail
with "interrupted by restart".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import attrs

from ..channels.hub import Hub
from ..contract.jsoncheck import MAX_TEXT_BYTES
from ..contract.messages import utcnow
from ..contract.records import TaskRecord
from ..providers.config import ProviderConfig
from ..providers.llm import Completion
from ..store.base import Row, Store, StoreUnavailable
from .agents import AgentService
from .errors import Conflict, Invalid, NotFound, TooLarge, Unavailable
from .ids import FreshIds
from .loading import RecordLoader
from .task_records import recent_json, snapshot_of, task_json, task_row, task_update
from .task_recovery import keep_leases, poll_shared_queue, recover
from .task_runs import run_claimed

__all__ = ["MAX_PROMPT_BYTES", "TaskService", "task_row"]

log = logging.getLogger("devskyy_ws.tasks")

MAX_PROMPT_BYTES = MAX_TEXT_BYTES
LEASE_S = 15.0  # a running task's owner renews its lease every LEASE_S / 3
TERMINAL = ("completed", "failed", "cancelled")
IN_MEMORY_QUEUE = 1_000
"""Queued tasks kept as objects. Past this, a queued task is its id and its stored row
only, so a backlog costs neither memory nor collector time: a 35,000-task backlog made
36 ms garbage-collection pauses in the REST benchmark."""

# A task sent through the Round Table: (task, progress callback) -> winning completion.
RoundTableRunner = Callable[[TaskRecord, Callable[[float], Awaitable[None]]], Awaitable[Completion]]


class TaskService:
    def __init__(
        self,
        store: Store,
        hub: Hub,
        agents: AgentService,
        providers: ProviderConfig,
        *,
        max_concurrent: int = 8,
        step_delay: float = 0.0,
        instance_id: str | None = None,
        lease_s: float = LEASE_S,
        loader: RecordLoader | None = None,
    ) -> None:
        self.store = store
        self.ids = FreshIds("task")
        self.loader = loader or RecordLoader()
        self.hub = hub
        self.agents = agents
        self.providers = providers
        self.max_concurrent = max_concurrent
        self.step_delay = step_delay
        self.instance_id = instance_id or secrets.token_hex(4)
        self.lease_s = lease_s
        self.round_table: RoundTableRunner | None = None
        self.active: dict[str, TaskRecord] = {}
        self.finished: dict[str, int] = {}
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._parked: set[str] = set()  # queued ids whose task is only in the store
        self._workers: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        self._accepting = False

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Recover what a previous run of this instance left behind, then take work."""
        await recover(self)
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.max_concurrent)]
        if self.store.shared:
            self._background = [
                asyncio.create_task(poll_shared_queue(self)),
                asyncio.create_task(keep_leases(self)),
            ]
        self.hub.snapshot_providers["tasks"] = self.snapshot
        self._accepting = True

    async def interrupt(self, task: TaskRecord, reason: str) -> bool:
        task.status = "failed"
        task.error = reason
        task.metrics.end_time = utcnow()
        if await self.store.put_if(task_row(task), "running"):
            await self.publish(task)
            return True
        return False

    def free_slots(self) -> int:
        return self.max_concurrent - len(self._jobs) - self._queue.qsize()

    def knows(self, task_id: str) -> bool:
        return task_id in self.active or task_id in self._parked

    def running_here(self) -> list[str]:
        return list(self._jobs)

    async def cancelled_elsewhere(self, task_id: str) -> None:
        """Another instance cancelled a task this one runs: stop its work."""
        task = self.active.get(task_id)
        if task is None or task.finished:
            return
        task.status = "cancelled"
        self._drop(task_id)
        await self.agents.task_finished(task, None)

    def _drop(self, task_id: str) -> None:
        """Stop a task's work here and forget it; the store keeps what it is."""
        job = self._jobs.pop(task_id, None)
        if job is not None:
            job.cancel()
        self.active.pop(task_id, None)

    async def stop(self, grace: float) -> None:
        """Stop taking work, let running tasks finish within `grace`, fail the rest."""
        self._accepting = False
        for worker in [*self._workers, *self._background]:
            worker.cancel()
        jobs = list(self._jobs.values())
        if jobs:
            await asyncio.wait(jobs, timeout=grace)
        for task_id, job in list(self._jobs.items()):
            task = self.active.get(task_id)
            if task is not None and not task.finished:
                task.status = "failed"
                task.error = "interrupted by shutdown"
                task.metrics.end_time = utcnow()
                with contextlib.suppress(Exception):
                    await self.store.put(task_row(task))
            job.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    # -- reads ---------------------------------------------------------------------
    async def get(self, task_id: str) -> TaskRecord:
        """Raises:
        NotFound: no such task.
        """
        live = self.active.get(task_id)
        if live is not None:
            return live
        doc = await self.store.get("task", task_id)
        if doc is None:
            raise NotFound("task_not_found", f"No task with id {task_id!r}.")
        return self.loader.one(doc, TaskRecord, "task")

    async def get_json(self, task_id: str) -> str:
        """One task as JSON text (live state if it is active here, else as stored).

        Raises:
            NotFound: no such task.
        """
        text = await task_json(self.store, self.active, task_id)
        if text is None:
            raise NotFound("task_not_found", f"No task with id {task_id!r}.")
        return text

    async def recent_json(
        self,
        *,
        limit: int,
        agent_type: str | None,
        status: str | None,
        offset: int = 0,
        text: str | None = None,
    ) -> str:
        return await recent_json(self.store, self.active, limit, agent_type, status, offset, text)

    def snapshot(self) -> dict[str, Any]:
        return snapshot_of(self.active.values())

    # -- changes -------------------------------------------------------------------
    async def submit(
        self,
        agent_type: str,
        prompt: str,
        parameters: dict[str, Any] | None = None,
        use_round_table: bool = False,
    ) -> Row:
        """Validate, persist, queue. Returns, once the task is durable, the row stored:
        the task as accepted (`pending`), whatever its runner has done since.

        Raises:
            NotFound / Invalid: unknown agent type (422 at the REST layer).
            Conflict: the agent is stopped. TooLarge: the prompt is over 32 KiB.
            Invalid: empty prompt, Round Table not available. Unavailable: shutting down.
        """
        if agent_type not in self.agents.agents:
            raise Invalid(
                "unknown_agent_type",
                f"Unknown agent type {agent_type!r}.",
                {"agent_types": list(self.agents.agents)},
            )
        if not prompt.strip():
            raise Invalid("empty_prompt", "The prompt must not be empty.")
        if len(prompt.encode()) > MAX_PROMPT_BYTES:
            raise TooLarge(
                "prompt_too_large", f"The prompt is larger than {MAX_PROMPT_BYTES:,} bytes."
            )
        if use_round_table and self.round_table is None:
            raise Invalid(
                "round_table_unavailable", "The Round Table is not available on this server."
            )
        if not self._accepting:
            raise Unavailable("shutting_down", "The server is shutting down; try again shortly.")
        self.agents.ensure_accepting(agent_type)
        category, technique = self.agents.choose(agent_type, prompt)
        task = TaskRecord(
            task_id="",  # drawn by FreshIds
            agent_type=agent_type,
            prompt=prompt,
            parameters=parameters or {},
            technique_used="round_table" if use_round_table else technique,
            category=category,
            use_round_table=use_round_table,
        )
        task.metrics.start_time = task.created_at
        task.metrics.provider = "round_table" if use_round_table else self.providers.task_provider
        accepted = await self.ids.insert(self.store, task, "task_id", task_row)
        self.enqueue(task)
        await self.publish(task)
        return accepted

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending or running task; its work stops and can never overwrite this.

        Raises:
            NotFound: no such task. Conflict: it already finished.
            StoreUnavailable: nothing changed; a queued task stays queued.
        """
        was_parked = task_id in self._parked
        self._parked.discard(task_id)  # a worker that dequeues it now passes it by
        try:
            return await self._cancel(task_id)
        except BaseException:
            if was_parked:
                self._parked.add(task_id)  # still queued: a worker reads it from the store
            raise

    async def _cancel(self, task_id: str) -> TaskRecord:
        task = await self.get(task_id)
        if task.finished:
            raise Conflict("task_finished", f"Task {task_id} already {task.status}.")
        was_running = task.status == "running"
        local = task_id in self.active
        previous = task.status
        task.status = "cancelled"
        task.error = "cancelled by request"
        task.metrics.end_time = utcnow()
        self._drop(task_id)
        try:
            stored = await self.store.put_if(task_row(task), previous)
            current: str | None = previous
            if not stored:
                # It moved on meanwhile (started, or finished). Its work is stopped now
                # if it was ours, and whatever it wrote is already in the store.
                current = (await self.store.status_of("task", [task_id])).get(task_id)
                if current in ("pending", "running"):
                    stored = await self.store.put_if(task_row(task), current)
                if not stored:
                    raise Conflict("task_finished", f"Task {task_id} already {current}.")
        except StoreUnavailable:
            if local and previous == "pending":
                self._parked.add(task_id)  # its id is still queued; the store decides
            raise
        self.finished["cancelled"] = self.finished.get("cancelled", 0) + 1
        await self.publish(task)
        if local and (was_running or current == "running"):
            await self.agents.task_finished(task, None)
        return task

    # -- running -------------------------------------------------------------------
    @property
    def parked(self) -> int:
        """Queued tasks held only in the store (past IN_MEMORY_QUEUE)."""
        return len(self._parked)

    def enqueue(self, task: TaskRecord) -> None:
        if len(self.active) < IN_MEMORY_QUEUE + self.max_concurrent:
            self.active[task.task_id] = task
        else:
            self._parked.add(task.task_id)
        self._queue.put_nowait(task.task_id)

    async def _unpark(self, task_id: str) -> TaskRecord | None:
        """A parked task back from the store, if it is still waiting to run."""
        self._parked.discard(task_id)
        doc = await self.store.get("task", task_id)
        if doc is None or doc.get("status") != "pending":
            return None
        task = self.loader.one(doc, TaskRecord, "task")
        self.active[task_id] = task
        return task

    async def _worker(self) -> None:
        while True:
            task_id = await self._queue.get()
            try:
                task = self.active.get(task_id)
                if task is None and task_id in self._parked:
                    task = await self._unpark(task_id)
                if task is None or task.status != "pending":
                    continue
                start_time = utcnow()
                running = attrs.evolve(
                    task,
                    status="running",
                    metrics=attrs.evolve(task.metrics, start_time=start_time),
                )
                # The shared record changes only once the store agrees: a cancel racing
                # this write must never see (or answer with) a status the store refused.
                claimed = await self.store.claim(
                    task_row(running), "pending", self.instance_id, self.lease_s
                )
            except Exception:
                # The store is down: leave the task queued (it is in the store as
                # pending) and try again shortly, never losing the worker.
                log.exception("could not take task %s; retrying", task_id)
                self.active.pop(task_id, None)
                self._parked.add(task_id)
                self._queue.put_nowait(task_id)
                await asyncio.sleep(1.0)
                continue
            if not claimed or task.status != "pending":  # taken elsewhere, or cancelled
                self.active.pop(task_id, None)
                continue
            task.status = "running"
            task.metrics.start_time = start_time
            job = asyncio.create_task(run_claimed(self, task))
            self._jobs[task_id] = job
            job.add_done_callback(partial(self._forget_job, task_id))
            # Wait for the job (one at a time per worker). A cancelled job (task
            # cancel) leaves the worker running; a cancelled worker (shutdown) leaves
            # the job to stop(), which gives it the grace period.
            await asyncio.wait([job])

    def _forget_job(self, task_id: str, _: asyncio.Task[None]) -> None:
        self._jobs.pop(task_id, None)

    async def publish(self, task: TaskRecord) -> None:
        await self.hub.publish("tasks", task_update(task, self.instance_id))

    async def progress(self, task: TaskRecord, progress: float) -> None:
        """Progress only rises, and never after the task was cancelled."""
        if task.status != "running" or progress <= task.progress:
            return
        task.progress = min(progress, 99.0)
        await self.publish(task)
        if self.step_delay:
            await asyncio.sleep(self.step_delay)
