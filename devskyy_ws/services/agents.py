"""Agents: live status, start/stop, learning, and stats computed from task records.

An agent's status is derived, never stored as a counter: `stopped` if stopped, else
`learning` while learning, else `running` while any of its tasks runs, else `idle`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs

from ..channels.hub import Hub
from ..contract.messages import AgentStatusUpdate
from ..contract.records import AgentInfo, AgentStats, TaskRecord
from ..store.base import Store
from .errors import Conflict, NotFound
from .roster import AgentDefinition
from .stats import agent_totals, technique_stats
from .techniques import Preference, categorize, choose_technique, learn_preferences

__all__ = ["AgentService"]

log = logging.getLogger("devskyy_ws.agents")


@attrs.define
class AgentRuntime:
    definition: AgentDefinition
    stopped: bool = False
    learning: bool = False
    learning_cycles: int = 0
    running: set[str] = attrs.Factory(set)
    preferences: dict[str, dict[str, Preference]] = attrs.Factory(dict)

    @property
    def status(self) -> str:
        if self.stopped:
            return "stopped"
        if self.learning:
            return "learning"
        return "running" if self.running else "idle"


def preview(prompt: str, limit: int = 100) -> str:
    return prompt if len(prompt) <= limit else prompt[:limit] + "..."


class AgentService:
    def __init__(self, roster: dict[str, AgentDefinition], store: Store, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self.agents = {t: AgentRuntime(d) for t, d in roster.items()}
        self.learn_delay = 0.0
        self._learning_tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        for agent_type, runtime in self.agents.items():
            saved = await self.store.get_state(f"agent:{agent_type}")
            if saved:
                runtime.stopped = bool(saved.get("stopped", False))
                runtime.learning_cycles = int(saved.get("learning_cycles", 0))
                runtime.preferences = _load_preferences(saved.get("preferences", {}))
        self.hub.snapshot_providers["agents"] = self.snapshot

    async def stop(self, grace: float) -> None:
        for task in list(self._learning_tasks):
            task.cancel()

    async def _persist(self, agent_type: str) -> None:
        runtime = self.agents[agent_type]
        await self.store.put_state(
            f"agent:{agent_type}",
            {
                "stopped": runtime.stopped,
                "learning_cycles": runtime.learning_cycles,
                "preferences": {
                    cat: {t: attrs.asdict(p) for t, p in prefs.items()}
                    for cat, prefs in runtime.preferences.items()
                },
            },
        )

    # -- reads ---------------------------------------------------------------------
    def runtime(self, agent_type: str) -> AgentRuntime:
        """Raises:
        NotFound: no such agent type.
        """
        runtime = self.agents.get(agent_type)
        if runtime is None:
            raise NotFound(
                "agent_not_found",
                f"No agent of type {agent_type!r}.",
                {"agent_types": list(self.agents)},
            )
        return runtime

    async def stats(self, agent_type: str) -> AgentStats:
        runtime = self.runtime(agent_type)
        totals = agent_totals(await self.store.tally("task", group_key=agent_type))
        finished = totals["completed"] + totals["failed"]
        return AgentStats(
            tasks_completed=int(totals["completed"]),
            success_rate=round(totals["completed"] / finished, 4) if finished else 0.0,
            avg_latency_ms=round(totals["avg_latency_ms"], 3),
            total_cost_usd=round(totals["total_cost_usd"], 6),
            learning_cycles=runtime.learning_cycles,
        )

    async def info(self, agent_type: str) -> AgentInfo:
        runtime = self.runtime(agent_type)
        d = runtime.definition
        return AgentInfo(
            id=d.id,
            type=d.type,
            name=d.name,
            description=d.description,
            status=runtime.status,
            capabilities=list(d.capabilities),
            tools=list(d.tools),
            ml_models=list(d.ml_models),
            stats=await self.stats(agent_type),
        )

    async def all(self) -> list[AgentInfo]:
        return [await self.info(t) for t in self.agents]

    def snapshot(self) -> dict[str, Any]:
        return {
            "agents": [
                {
                    "agent_id": r.definition.id,
                    "agent_type": t,
                    "status": r.status,
                    "running_tasks": sorted(r.running),
                    "learning_cycles": r.learning_cycles,
                }
                for t, r in self.agents.items()
            ]
        }

    def choose(self, agent_type: str, prompt: str) -> tuple[str, str]:
        """(category, technique) for a prompt, using what this agent has learned."""
        runtime = self.runtime(agent_type)
        category = categorize(prompt)
        return category, choose_technique(category, runtime.preferences)

    # -- changes -------------------------------------------------------------------
    async def publish_status(self, agent_type: str, status: str | None = None, **data: Any) -> None:
        runtime = self.agents[agent_type]
        await self.hub.publish(
            "agents",
            AgentStatusUpdate(
                agent_id=runtime.definition.id,
                status=status or runtime.status,
                data={"agent_type": agent_type, **data},
            ),
        )

    async def set_stopped(self, agent_type: str, stopped: bool) -> AgentInfo:
        runtime = self.runtime(agent_type)
        if runtime.stopped != stopped:
            runtime.stopped = stopped
            await self._persist(agent_type)
            await self.publish_status(agent_type)
        return await self.info(agent_type)

    def ensure_accepting(self, agent_type: str) -> None:
        """Raises:
        NotFound: unknown type. Conflict: the agent is stopped.
        """
        if self.runtime(agent_type).stopped:
            raise Conflict("agent_stopped", f"The {agent_type} agent is stopped; start it first.")

    async def learn(self, agent_type: str) -> AgentInfo:
        """Start a learning cycle in the background; 202 comes back at once."""
        runtime = self.runtime(agent_type)
        if runtime.learning:
            raise Conflict("already_learning", f"The {agent_type} agent is already learning.")
        runtime.learning = True
        await self.publish_status(agent_type, "learning")
        task = asyncio.create_task(self._learn(agent_type))
        self._learning_tasks.add(task)
        task.add_done_callback(self._learning_tasks.discard)
        return await self.info(agent_type)

    async def _learn(self, agent_type: str) -> None:
        runtime = self.agents[agent_type]
        try:
            tallies = await self.store.tally(
                "task", ["technique", "category"], group_key=agent_type
            )
            if self.learn_delay:
                await asyncio.sleep(self.learn_delay)
            runtime.preferences = learn_preferences(technique_stats(tallies))
            runtime.learning_cycles += 1
            await self._persist(agent_type)
        except Exception:
            log.exception("learning failed for %s", agent_type)
        finally:
            runtime.learning = False
            await self.publish_status(
                agent_type,
                learning_cycles=runtime.learning_cycles,
                techniques_learned=sum(len(p) for p in runtime.preferences.values()),
            )

    async def task_started(self, task: TaskRecord, started_at: str) -> None:
        runtime = self.agents[task.agent_type]
        runtime.running.add(task.task_id)
        await self.publish_status(
            task.agent_type,
            "running",
            task_id=task.task_id,
            prompt_preview=preview(task.prompt),
            started_at=started_at,
            technique_used=task.technique_used,
        )

    async def task_finished(self, task: TaskRecord, started_at: str | None) -> None:
        runtime = self.agents[task.agent_type]
        runtime.running.discard(task.task_id)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "prompt_preview": preview(task.prompt),
            "technique_used": task.technique_used,
        }
        if started_at:
            data["started_at"] = started_at
        if task.metrics.latency_ms is not None:
            data["duration_ms"] = task.metrics.latency_ms
        if task.status == "completed":
            await self.publish_status(task.agent_type, "completed", **data)
        elif task.status == "failed":
            await self.publish_status(task.agent_type, "error", error=task.error, **data)
        if runtime.status != "running":
            await self.publish_status(task.agent_type)


def _load_preferences(raw: Any) -> dict[str, dict[str, Preference]]:
    out: dict[str, dict[str, Preference]] = {}
    if not isinstance(raw, dict):
        return out
    for category, prefs in raw.items():
        if isinstance(prefs, dict):
            out[category] = {
                t: Preference(float(p["success_rate"]), float(p["mean_latency_ms"]), int(p["uses"]))
                for t, p in prefs.items()
                if isinstance(p, dict)
            }
    return out
