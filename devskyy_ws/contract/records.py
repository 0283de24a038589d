"""REST payloads and stored records, as attrs classes.

Casing follows the API document per endpoint: tasks and agents speak camelCase
(`taskId`, `mlModels`), execute/Round Table/3D pipeline speak snake_case. The casing
is applied by the converter (`serde.py`), so the classes keep Python names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .messages import utcnow

__all__ = [
    "CAMEL_CASE",
    "ABTest",
    "AgentInfo",
    "AgentStats",
    "CompetitionEntry",
    "CompetitionRecord",
    "ExecuteResponse",
    "PipelineRecord",
    "TaskMetrics",
    "TaskRecord",
    "ToolInfo",
]


@attrs.define(kw_only=True)
class ToolInfo:
    name: str
    description: str = ""
    category: str = "general"
    parameters: dict[str, Any] = attrs.Factory(dict)


@attrs.define(kw_only=True)
class AgentStats:
    tasks_completed: int = 0
    success_rate: float = 0.0
    avg_latency_ms: float = 0.0
    total_cost_usd: float = 0.0
    learning_cycles: int = 0


@attrs.define(kw_only=True)
class AgentInfo:
    id: str
    type: str
    name: str
    description: str
    status: str
    capabilities: list[str]
    tools: list[ToolInfo]
    ml_models: list[str]
    stats: AgentStats


@attrs.define(kw_only=True)
class TaskMetrics:
    start_time: datetime | None = None
    end_time: datetime | None = None
    latency_ms: float | None = None
    cost_usd: float = 0.0
    tokens_used: int = 0
    provider: str | None = None


@attrs.define(kw_only=True)
class TaskRecord:
    """A task as stored and as returned by the task endpoints (camelCase on the wire)."""

    task_id: str
    agent_type: str
    prompt: str
    parameters: dict[str, Any] = attrs.Factory(dict)
    status: str = "pending"
    result: str | None = None
    error: str | None = None
    created_at: datetime = attrs.Factory(utcnow)
    progress: float = 0.0
    technique_used: str | None = None
    category: str | None = None
    use_round_table: bool = False
    competition_id: str | None = None
    metrics: TaskMetrics = attrs.Factory(TaskMetrics)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


@attrs.define(kw_only=True)
class ExecuteResponse:
    """`POST /agents/{type}/execute` answers in the document's snake_case."""

    task_id: str
    agent_type: str
    status: str
    result: str | None
    latency_ms: float
    technique_used: str | None


CAMEL_CASE: tuple[type[Any], ...] = (ToolInfo, AgentStats, AgentInfo, TaskMetrics, TaskRecord)


@attrs.define(kw_only=True)
class CompetitionEntry:
    provider: str
    model: str
    rank: int = 0
    response: str | None = None
    scores: dict[str, float] = attrs.Factory(dict)
    total_score: float = 0.0
    latency_ms: float = 0.0
    tokens_used: int = 0
    cost_usd: float = 0.0
    error: str | None = None


@attrs.define(kw_only=True)
class ABTest:
    finalists: list[str]
    winner: str
    judge: str
    confidence: float
    reasoning: str
    position_swapped_agreed: bool | None = None


@attrs.define(kw_only=True)
class CompetitionRecord:
    """A Round Table competition, as stored and as the REST endpoints return it."""

    competition_id: str
    task_id: str | None
    prompt: str
    status: str = "generating"
    winner: CompetitionEntry | None = None
    entries: list[CompetitionEntry] = attrs.Factory(list)
    ab_test: ABTest | None = None
    total_cost_usd: float = 0.0
    total_duration_ms: float = 0.0
    created_at: datetime = attrs.Factory(utcnow)
    error: str | None = None


@attrs.define(kw_only=True)
class PipelineRecord:
    """A 3D pipeline run, as stored and as the REST endpoints return it (snake_case)."""

    pipeline_id: str
    stage: str = "generating"
    progress: float = 0.0
    prompt: str
    format: str = "glb"
    quality: str = "preview"
    image_url: str | None = None
    product_id: int | None = None
    created_at: datetime = attrs.Factory(utcnow)
    completed_at: datetime | None = None
    error: str | None = None
    asset_url: str | None = None
    asset_status: str | None = None  # "available", then "expired" once retention removed it
    generator: str = "offline"
    validation: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.stage in ("completed", "failed")
