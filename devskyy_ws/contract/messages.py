"""Every message on the wire, as attrs classes.

Field names are the API document's, snake_case as it writes them. The wire shape
(`Z` timestamps, omitted `seq`/`epoch` on per-connection messages) is the converter's
job in `serde.py`, not the models'.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final, Literal

import attrs
from attrs import validators as v

__all__ = [
    "AGENT_STATUSES",
    "CHANNELS",
    "CHANNEL_MESSAGES",
    "COMPETITION_STAGES",
    "ERROR_TYPES",
    "PIPELINE_STAGES",
    "TASK_STATUSES",
    "AgentStatusUpdate",
    "Authenticated",
    "CompetitionUpdate",
    "ErrorMessage",
    "Keepalive",
    "MetricsSample",
    "MetricsUpdate",
    "PipelineUpdate",
    "Pong",
    "ResyncRequired",
    "ServerMessage",
    "Snapshot",
    "Subscribed",
    "TaskUpdate",
    "Unsubscribed",
    "utcnow",
]

CHANNELS: Final = ("agents", "round_table", "tasks", "3d_pipeline", "metrics")
AGENT_STATUSES: Final = ("running", "completed", "error", "idle", "learning", "stopped")
TASK_STATUSES: Final = ("pending", "running", "completed", "failed", "cancelled")
COMPETITION_STAGES: Final = ("generating", "scoring", "ab_testing", "completed", "failed")
PIPELINE_STAGES: Final = ("generating", "validating", "uploading", "completed", "failed")
ERROR_TYPES: Final = ("error", "warning", "info")


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision the wire carries (so records round-trip).

    Whole milliseconds as a float are exact to well under a microsecond, and
    `fromtimestamp` rounds to the nearest one, so this is one C call instead of two.
    """
    return datetime.fromtimestamp(int(time.time() * 1000) / 1000, UTC)


def _aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be timezone-aware")


def _progress(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    """0 to 100 (after the float converter), in one call: every publish checks it."""
    if not 0.0 <= value <= 100.0:  # False for NaN too
        raise ValueError(f"'{attribute.name}' must be a number from 0 to 100: {value!r}")


_data = attrs.field(factory=dict, validator=v.instance_of(dict))
_ts = attrs.field(factory=utcnow, validator=_aware)
_seq = attrs.field(default=None)
_epoch = attrs.field(default=None)


@attrs.frozen(kw_only=True)
class AgentStatusUpdate:
    type: Literal["agent_status_update"] = "agent_status_update"
    agent_id: str = attrs.field(validator=v.min_len(1))
    status: str = attrs.field(validator=v.in_(AGENT_STATUSES))
    data: dict[str, Any] = _data
    timestamp: datetime = _ts
    seq: int | None = _seq
    epoch: str | None = _epoch


@attrs.frozen(kw_only=True)
class TaskUpdate:
    type: Literal["task_update"] = "task_update"
    task_id: str = attrs.field(validator=v.min_len(1))
    status: str = attrs.field(validator=v.in_(TASK_STATUSES))
    progress: float = attrs.field(converter=float, validator=_progress)
    data: dict[str, Any] = _data
    timestamp: datetime = _ts
    seq: int | None = _seq
    epoch: str | None = _epoch


@attrs.frozen(kw_only=True)
class CompetitionUpdate:
    type: Literal["competition_update"] = "competition_update"
    competition_id: str = attrs.field(validator=v.min_len(1))
    stage: str = attrs.field(validator=v.in_(COMPETITION_STAGES))
    data: dict[str, Any] = _data
    timestamp: datetime = _ts
    seq: int | None = _seq
    epoch: str | None = _epoch


@attrs.frozen(kw_only=True)
class PipelineUpdate:
    type: Literal["pipeline_update"] = "pipeline_update"
    pipeline_id: str = attrs.field(validator=v.min_len(1))
    stage: str = attrs.field(validator=v.in_(PIPELINE_STAGES))
    progress: float = attrs.field(converter=float, validator=_progress)
    data: dict[str, Any] = _data
    timestamp: datetime = _ts
    seq: int | None = _seq
    epoch: str | None = _epoch


@attrs.frozen(kw_only=True)
class MetricsSample:
    timestamp: datetime = _ts
    cpu_percent: float = attrs.field(converter=float, validator=[v.ge(0.0), v.le(100.0)])
    memory_percent: float = attrs.field(converter=float, validator=[v.ge(0.0), v.le(100.0)])
    active_connections: int = attrs.field(validator=[v.instance_of(int), v.ge(0)])
    requests_per_second: float = attrs.field(converter=float, validator=v.ge(0.0))
    avg_latency_ms: float = attrs.field(converter=float, validator=v.ge(0.0))


@attrs.frozen(kw_only=True)
class MetricsUpdate:
    type: Literal["metrics_update"] = "metrics_update"
    metrics: MetricsSample
    timestamp: datetime = _ts
    seq: int | None = _seq
    epoch: str | None = _epoch


@attrs.frozen(kw_only=True)
class ErrorMessage:
    """On any channel; published ones carry seq, per-connection ones do not."""

    type: Literal["error"] = "error"
    error_type: str = attrs.field(default="error", validator=v.in_(ERROR_TYPES))
    message: str = attrs.field(validator=v.instance_of(str))
    timestamp: datetime = _ts
    seq: int | None = _seq
    epoch: str | None = _epoch


@attrs.frozen(kw_only=True)
class Keepalive:
    type: Literal["keepalive"] = "keepalive"
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class Pong:
    type: Literal["pong"] = "pong"
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class Subscribed:
    type: Literal["subscribed"] = "subscribed"
    filters: dict[str, Any]
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class Unsubscribed:
    type: Literal["unsubscribed"] = "unsubscribed"
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class Authenticated:
    """The socket's token was accepted; it must be refreshed before `exp`."""

    type: Literal["authenticated"] = "authenticated"
    sub: str
    exp: int
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class Conflated:
    """This socket fell behind and asked for conflation: `skipped` older versions were
    left out; the latest of each (and every terminal state) follows."""

    type: Literal["conflated"] = "conflated"
    skipped: int
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class ResyncRequired:
    """The asked-for position is gone; the client should take a snapshot."""

    type: Literal["resync_required"] = "resync_required"
    channel: str
    reason: str
    epoch: str
    oldest_seq: int | None
    latest_seq: int
    timestamp: datetime = _ts


@attrs.frozen(kw_only=True)
class Snapshot:
    """The channel's current state, consistent with `seq` (live messages follow it)."""

    type: Literal["snapshot"] = "snapshot"
    channel: str
    state: dict[str, Any]
    seq: int
    epoch: str
    timestamp: datetime = _ts


ServerMessage = (
    AgentStatusUpdate
    | TaskUpdate
    | CompetitionUpdate
    | PipelineUpdate
    | MetricsUpdate
    | ErrorMessage
    | Keepalive
    | Pong
    | Subscribed
    | Unsubscribed
    | Authenticated
    | ResyncRequired
    | Snapshot
)

ChannelMessage = (
    AgentStatusUpdate
    | TaskUpdate
    | CompetitionUpdate
    | PipelineUpdate
    | MetricsUpdate
    | ErrorMessage
)

CHANNEL_MESSAGES: Final[dict[str, tuple[type[Any], ...]]] = {
    "agents": (AgentStatusUpdate, ErrorMessage),
    "round_table": (CompetitionUpdate, ErrorMessage),
    "tasks": (TaskUpdate, ErrorMessage),
    "3d_pipeline": (PipelineUpdate, ErrorMessage),
    "metrics": (MetricsUpdate, ErrorMessage),
}


def type_name(cls: type[Any]) -> str:
    """The `type` value a message class puts on the wire."""
    name = attrs.fields_dict(cls)["type"].default
    assert isinstance(name, str)
    return name


MESSAGE_TYPES: Final[dict[str, type[Any]]] = {
    type_name(cls): cls
    for cls in (
        AgentStatusUpdate,
        TaskUpdate,
        CompetitionUpdate,
        PipelineUpdate,
        MetricsUpdate,
        ErrorMessage,
        Keepalive,
        Pong,
        Subscribed,
        Unsubscribed,
        Authenticated,
        Conflated,
        ResyncRequired,
        Snapshot,
    )
}
