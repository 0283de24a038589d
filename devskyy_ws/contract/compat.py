"""REST answers as supersets: the original DevSkyy frontend's field names beside this
server's own, where the API document is silent (docs/compatibility.md).

Nothing this server documents is renamed or removed; stored records keep their own
shape, and the extra fields are added only on the way out.
"""

from __future__ import annotations

from typing import Any

from . import serde
from .records import AgentInfo, CompetitionRecord, PipelineRecord, TaskRecord

__all__ = [
    "PREVIEW_CHARS",
    "agent_view",
    "cancelled_task_view",
    "competition_view",
    "job_view",
    "three_d_quality",
]

PREVIEW_CHARS = 200
_JOB_STATUS = {"completed": "completed", "failed": "failed"}  # every other stage: processing
_QUALITY = {"draft": "preview", "standard": "preview", "high": "production"}


def competition_view(record: CompetitionRecord) -> dict[str, Any]:
    """The record, plus `id`, `prompt_preview`, the A/B verdict flattened, the winner's
    provider and score, and per entry `response_preview` and the frontend's score names."""
    doc: dict[str, Any] = serde.unstructure(record)
    winner, ab = record.winner, record.ab_test
    doc["id"] = record.competition_id
    doc["prompt_preview"] = record.prompt[:PREVIEW_CHARS]
    doc["ab_test_reasoning"] = ab.reasoning if ab is not None else None
    doc["ab_test_confidence"] = ab.confidence if ab is not None else None
    doc["winner_provider"] = winner.provider if winner is not None else None
    doc["winner_score"] = winner.total_score if winner is not None else None
    for entry in [doc["winner"], *doc["entries"]]:
        if entry is not None:
            entry["response_preview"] = (entry.get("response") or "")[:PREVIEW_CHARS]
            scores = entry["scores"] = dict(entry["scores"])
            scores.setdefault("brand_alignment", scores.get("brand", 0.0))
            scores.setdefault("total", entry["total_score"])
    return doc


def agent_view(info: AgentInfo, **extra: Any) -> dict[str, Any]:
    """An agent after start, stop or learn: the agent, `success`, and what is asked."""
    doc: dict[str, Any] = serde.unstructure(info)
    doc["success"] = True
    doc.update(extra)
    return doc


def cancelled_task_view(task: TaskRecord) -> dict[str, Any]:
    doc: dict[str, Any] = serde.unstructure(task)
    doc["success"] = True
    doc["message"] = f"Task {task.task_id} cancelled."
    return doc


def job_view(record: PipelineRecord) -> dict[str, Any]:
    """A pipeline run as the frontend's 3D job. Its optional fields are left out rather
    than null, which its schema would refuse."""
    doc: dict[str, Any] = {
        "id": record.pipeline_id,
        "status": _JOB_STATUS.get(record.stage, "processing"),
        "provider": record.generator,
        "input_type": "image" if record.image_url else "text",
        "input": record.image_url or record.prompt,
        "created_at": serde.format_timestamp(record.created_at),
        "stage": record.stage,
        "progress": record.progress,
    }
    if record.asset_url:
        doc["output_url"] = record.asset_url
    if record.error:
        doc["error"] = record.error
    if record.completed_at is not None:
        doc["completed_at"] = serde.format_timestamp(record.completed_at)
    return doc


def three_d_quality(value: str) -> str:
    """The frontend's draft/standard/high as this pipeline's preview/production."""
    return _QUALITY.get(value, value)
