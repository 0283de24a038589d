"""The store interface. Records travel as JSON documents plus a few indexed columns.

Each kind of record (task, competition, pipeline) is a row with the columns its list
queries filter and sort on, and the full document as JSON; the document's shape is the
converter's, so the store never needs to know a record's fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from ..serde import dumps

__all__ = [
    "KINDS",
    "RECORD_COLUMNS",
    "Row",
    "Store",
    "StoreUnavailable",
    "TechniqueStat",
    "record_values",
]

KINDS = ("task", "competition", "pipeline")


class StoreUnavailable(Exception):
    """The database cannot be reached; writes must be refused, not acknowledged."""


@attrs.frozen
class Row:
    """Indexed columns of a record, beside its JSON document."""

    id: str
    kind: str
    group_key: str  # agent_type for tasks, "" otherwise
    status: str  # status or stage
    created_at: float  # epoch seconds, for ordering
    doc: dict[str, Any]
    latency_ms: float | None = None
    cost_usd: float | None = None
    technique: str | None = None


RECORD_COLUMNS = "id, kind, group_key, status, created_at, latency_ms, cost_usd, technique, doc"


def record_values(row: Row) -> tuple[Any, ...]:
    """A row's values in RECORD_COLUMNS order, the document as JSON text."""
    return (
        row.id,
        row.kind,
        row.group_key,
        row.status,
        row.created_at,
        row.latency_ms,
        row.cost_usd,
        row.technique,
        dumps(row.doc),
    )


@attrs.frozen
class TechniqueStat:
    technique: str
    category: str
    uses: int
    successes: int
    mean_latency_ms: float


class Store(Protocol):
    """What the services need from a database; every method is safe to await."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> bool: ...

    async def put(self, row: Row) -> None:
        """Insert or replace a record."""

    async def add(self, row: Row) -> bool:
        """Insert a new record; False, and nothing written, when its id is taken."""

    async def get(self, kind: str, id: str) -> dict[str, Any] | None: ...

    async def list_records(
        self,
        kind: str,
        *,
        limit: int,
        offset: int = 0,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first; the page and the total that match."""

    async def get_text(self, kind: str, id: str) -> str | None:
        """The stored JSON text of a record, undecoded."""

    async def list_texts(
        self,
        kind: str,
        *,
        limit: int,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[tuple[str, str]]:
        """Newest first, as (id, stored JSON text): for lists served without decoding."""

    async def in_status(self, kind: str, statuses: Sequence[str]) -> list[dict[str, Any]]: ...

    shared: bool
    """True when several instances share this store (they then poll for work)."""

    async def claim(
        self, kind: str, id: str, from_status: str, owner: str, lease_s: float = 30.0
    ) -> bool:
        """Atomically take a queued record so exactly one instance runs it."""

    async def put_if(self, row: Row, expected_status: str) -> bool:
        """Write only if the stored status is still `expected_status` (no lost cancel)."""

    async def status_of(self, kind: str, ids: Sequence[str]) -> dict[str, str]: ...

    async def renew(self, kind: str, ids: Sequence[str], owner: str, lease_s: float) -> None: ...

    async def expired(self, kind: str, status: str, now: float) -> list[dict[str, Any]]:
        """Records in `status` whose owner's lease ran out (a dead instance)."""

    async def unclaimed(self, kind: str, status: str, limit: int) -> list[dict[str, Any]]: ...

    async def release(self, kind: str, owner: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Records of `owner` in `statuses` (its own leftovers after a restart)."""

    async def disown(self, kind: str, status: str, owner: str | None) -> None:
        """Forget the owner of records in `status` (of `owner`, or of anyone if None)."""

    async def agent_totals(self, agent_type: str) -> dict[str, float]:
        """completed, failed, avg_latency_ms and total_cost_usd over an agent's tasks."""

    async def technique_stats(self, agent_type: str | None) -> list[TechniqueStat]: ...

    async def get_state(self, key: str) -> dict[str, Any] | None: ...

    async def put_state(self, key: str, value: dict[str, Any]) -> None: ...

    async def add_samples(self, samples: Sequence[tuple[float, dict[str, float]]]) -> None: ...

    async def samples(self, since: float, resolution: str) -> list[tuple[float, dict[str, float]]]:
        """Metric samples at `raw`, `minute` or `hour` resolution since a time."""

    async def rollup(self, now: float) -> dict[str, int]:
        """Roll raw samples into minutes and hours and drop what is past retention."""

    async def count_rows(self, table: str) -> int: ...

    async def status_counts(self, kind: str) -> dict[str, int]:
        """How many records of a kind are in each status (or stage)."""

    async def cost_total(self, kind: str) -> float: ...

    async def provider_task_stats(self) -> list[dict[str, Any]]:
        """Per provider that ran tasks: uses, successes, mean latency, cost."""

    async def all_docs(self, kind: str) -> list[dict[str, Any]]: ...

    async def put_many(self, rows: Sequence[Row]) -> None: ...

    async def integrity_ok(self) -> bool: ...
