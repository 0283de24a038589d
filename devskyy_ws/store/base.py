"""The store interface, by what it holds: records, claims on them, state, samples.

Each kind of record (task, competition, pipeline) is a row with the columns its lists
filter, sort and add up on, and the full document as JSON; the document's shape is the
converter's, so the store never needs to know a record's fields. The rules (what counts
as a success, what a rate is) live in the services.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import attrs

from ..contract.serde import dumps

__all__ = [
    "KINDS",
    "RECORD_COLUMNS",
    "Claims",
    "Records",
    "Row",
    "Samples",
    "State",
    "Store",
    "StoreUnavailable",
    "Tally",
    "TallyColumn",
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
    category: str | None = None
    provider: str | None = None


RECORD_COLUMNS = (
    "id, kind, group_key, status, created_at, latency_ms, cost_usd, technique, category,"
    " provider, doc"
)


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
        row.category,
        row.provider,
        dumps(row.doc),
    )


TallyColumn = Literal["group_key", "technique", "category", "provider"]


@attrs.frozen
class Tally:
    """Records of one kind that share `key` (the values of the tallied columns) and a
    status: how many, and the sums services turn into rates and means."""

    key: tuple[str | None, ...]
    status: str
    count: int
    latency_count: int  # of those with a latency
    latency_ms_sum: float
    cost_usd_sum: float

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_ms_sum / self.latency_count if self.latency_count else 0.0


class Records(Protocol):
    async def put(self, row: Row) -> None:
        """Insert or replace a record."""

    async def add(self, row: Row) -> bool:
        """Insert a new record; False, and nothing written, when its id is taken."""

    async def put_many(self, rows: Sequence[Row]) -> None: ...

    async def put_if(self, row: Row, expected_status: str) -> bool:
        """Write only if the stored status is still `expected_status` (no lost cancel)."""

    async def get(self, kind: str, id: str) -> dict[str, Any] | None: ...

    async def list_docs(
        self,
        kind: str,
        *,
        limit: int,
        offset: int = 0,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""

    async def get_json(self, kind: str, id: str) -> str | None:
        """A record's document as the stored JSON text."""

    async def list_json(
        self,
        kind: str,
        *,
        limit: int,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
        text: str | None = None,
    ) -> list[tuple[str, str]]:
        """Newest first, as (id, stored JSON text): the task list served without decoding
        and encoding every document again (docs/benchmarks.md: 1.3x the requests/s).
        With `text`, only those whose document holds it, ignoring case, among the
        newest SEARCH_WINDOW (contract/requests.py) the other filters select."""

    async def count(
        self, kind: str, *, group_key: str | None = None, statuses: Sequence[str] | None = None
    ) -> int: ...

    async def in_status(
        self, kind: str, statuses: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every record in `statuses` (in any, if None), oldest first."""

    async def status_of(self, kind: str, ids: Sequence[str]) -> dict[str, str]: ...

    async def tally(
        self, kind: str, by: Sequence[TallyColumn] = (), *, group_key: str | None = None
    ) -> list[Tally]:
        """Counts and sums per value of the `by` columns and status."""


class Claims(Protocol):
    """Leases that let exactly one of several instances run a queued record."""

    shared: bool
    """True when several instances share this store (they then poll for work)."""

    async def claim(self, row: Row, from_status: str, owner: str, lease_s: float = 30.0) -> bool:
        """Take a record still in `from_status` and unowned, writing `row` (its new
        status and document) in the same statement; False if it was not there to take."""

    async def renew(self, kind: str, ids: Sequence[str], owner: str, lease_s: float) -> None: ...

    async def expired(self, kind: str, status: str, now: float) -> list[dict[str, Any]]:
        """Records in `status` whose owner's lease ran out (a dead instance)."""

    async def unclaimed(self, kind: str, status: str, limit: int) -> list[dict[str, Any]]: ...

    async def release(self, kind: str, owner: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Records of `owner` in `statuses` (its own leftovers after a restart)."""

    async def disown(self, kind: str, status: str, owner: str | None) -> None:
        """Forget the owner of records in `status` (of `owner`, or of anyone if None)."""


class State(Protocol):
    async def get_state(self, key: str) -> dict[str, Any] | None: ...

    async def put_state(self, key: str, value: dict[str, Any]) -> None: ...


class Samples(Protocol):
    async def add_samples(self, samples: Sequence[tuple[float, dict[str, float]]]) -> None: ...

    async def samples(self, since: float, resolution: str) -> list[tuple[float, dict[str, float]]]:
        """Metric samples at `raw`, `minute` or `hour` resolution since a time."""

    async def rollup(self, now: float) -> dict[str, int]:
        """Roll raw samples into minutes and hours and drop what is past retention."""


class Store(Records, Claims, State, Samples, Protocol):
    """What the services need from a database; every method is safe to await."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> bool: ...
