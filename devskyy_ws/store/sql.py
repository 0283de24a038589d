"""Every store method, written once in SQL that SQLite and PostgreSQL both run.

A dialect (sqlite.py, postgres.py) supplies the connection and three primitives; the
SQL here uses `?` placeholders, which the PostgreSQL store numbers for asyncpg.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ..contract.requests import SEARCH_WINDOW
from ..contract.serde import dumps
from .base import RECORD_COLUMNS, Row, Tally, TallyColumn, record_values
from .schema import RETENTION, ROLLUPS

__all__ = ["SEARCH_WINDOW", "SqlStore"]

_INSERT = f"INSERT INTO records ({RECORD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
_ADD = _INSERT + " ON CONFLICT (id) DO NOTHING"
_UPSERT = (
    _INSERT + " ON CONFLICT (id) DO UPDATE SET group_key = excluded.group_key,"
    " status = excluded.status, latency_ms = excluded.latency_ms,"
    " cost_usd = excluded.cost_usd, technique = excluded.technique,"
    " category = excluded.category, provider = excluded.provider, doc = excluded.doc"
)
_PUT_SAMPLE = (
    "INSERT INTO samples (resolution, ts, doc) VALUES (?, ?, ?)"
    " ON CONFLICT (resolution, ts) DO UPDATE SET doc = excluded.doc"
)
_TALLY_COLUMNS = frozenset({"group_key", "technique", "category", "provider"})


_CHANGES = (
    "status = ?, latency_ms = ?, cost_usd = ?, technique = ?, category = ?, provider = ?, doc = ?"
)


def _changes(row: Row) -> tuple[Any, ...]:
    """The values of _CHANGES: what a later write of a record may change."""
    return (row.status, row.latency_ms, row.cost_usd, row.technique, row.category,
            row.provider, dumps(row.doc))  # fmt: skip


def _like(text: str) -> str:
    """A LIKE pattern for `text` inside a stored document: written as JSON writes it
    (quotes and backslashes escaped), wildcards escaped."""
    written = json.dumps(text, ensure_ascii=False)[1:-1]
    return "%" + written.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _filters(
    kind: str, group_key: str | None, statuses: Sequence[str] | None
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) every record list shares."""
    where, args = ["kind = ?"], [kind]
    if group_key is not None:
        where.append("group_key = ?")
        args.append(group_key)
    if statuses:
        # IN with one value plans as `=`, so a prepared statement's generic plan still
        # reads the page off the (kind, group_key, status, created_at) index in order.
        where.append(f"status IN ({_marks(statuses)})")
        args.extend(statuses)
    return " AND ".join(where), args


class SqlStore(ABC):
    name: str
    shared: bool

    # -- what a dialect supplies -------------------------------------------------------
    @abstractmethod
    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """The rows a query returns."""

    @abstractmethod
    async def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abstractmethod
    async def _write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for each of `rows`, all in one transaction."""

    async def _docs(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in await self._rows(sql, args)]

    # -- records -----------------------------------------------------------------------
    async def put(self, row: Row) -> None:
        await self._write(_UPSERT, record_values(row))

    async def add(self, row: Row) -> bool:
        return await self._write(_ADD, record_values(row)) == 1

    async def put_many(self, rows: Sequence[Row]) -> None:
        await self._write_many(_UPSERT, [record_values(r) for r in rows])

    async def put_if(self, row: Row, expected_status: str) -> bool:
        changed = await self._write(
            f"UPDATE records SET {_CHANGES} WHERE id = ? AND status = ?",
            (*_changes(row), row.id, expected_status),
        )
        return changed == 1

    async def get(self, kind: str, id: str) -> dict[str, Any] | None:
        docs = await self._docs("SELECT doc FROM records WHERE id = ? AND kind = ?", (id, kind))
        return docs[0] if docs else None

    async def list_docs(
        self,
        kind: str,
        *,
        limit: int,
        offset: int = 0,
        group_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        clause, args = _filters(kind, group_key, statuses)
        return await self._docs(
            f"SELECT doc FROM records WHERE {clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )

    async def get_json(self, kind: str, id: str) -> str | None:
        rows = await self._rows("SELECT doc FROM records WHERE id = ? AND kind = ?", (id, kind))
        return str(rows[0][0]) if rows else None

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
        clause, args = _filters(kind, group_key, statuses)
        newest = f"FROM records WHERE {clause} ORDER BY created_at DESC, id DESC"
        if text is None:
            sql = f"SELECT id, doc {newest} LIMIT ? OFFSET ?"
        else:  # bounded: only the newest SEARCH_WINDOW records are read
            sql = (
                f"SELECT id, doc FROM (SELECT id, doc, created_at {newest} LIMIT ?) AS recent"
                " WHERE (lower(CAST(doc AS TEXT)) LIKE ? ESCAPE '\\'"
                " OR CAST(doc AS TEXT) LIKE ? ESCAPE '\\')"
                " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            )
            # lower() is Unicode-aware in PostgreSQL, ASCII-only in SQLite, whose LIKE
            # ignores ASCII case: between the two patterns, case never hides a match
            # except for non-ASCII letters in SQLite typed in another case.
            args = [*args, SEARCH_WINDOW, _like(text.lower()), _like(text)]
        rows = await self._rows(sql, (*args, limit, offset))
        return [(str(r[0]), str(r[1])) for r in rows]

    async def count(
        self, kind: str, *, group_key: str | None = None, statuses: Sequence[str] | None = None
    ) -> int:
        clause, args = _filters(kind, group_key, statuses)
        return int((await self._rows(f"SELECT COUNT(*) FROM records WHERE {clause}", args))[0][0])

    async def in_status(
        self, kind: str, statuses: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        clause, args = _filters(kind, None, statuses)
        return await self._docs(
            f"SELECT doc FROM records WHERE {clause} ORDER BY created_at, id", args
        )

    async def status_of(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = await self._rows(
            f"SELECT id, status FROM records WHERE kind = ? AND id IN ({_marks(ids)})",
            (kind, *ids),
        )
        return {str(r[0]): str(r[1]) for r in rows}

    async def tally(
        self, kind: str, by: Sequence[TallyColumn] = (), *, group_key: str | None = None
    ) -> list[Tally]:
        if not _TALLY_COLUMNS.issuperset(by):
            raise ValueError(f"cannot tally by {by!r}")
        clause, args = _filters(kind, group_key, None)
        keys = "".join(f"{column}, " for column in by)
        rows = await self._rows(
            f"SELECT {keys}status, COUNT(*), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0),"
            f" COALESCE(SUM(cost_usd), 0) FROM records WHERE {clause}"
            f" GROUP BY {keys}status ORDER BY {keys}status",
            args,
        )
        n = len(by)
        return [
            Tally(tuple(r[:n]), str(r[n]), int(r[n + 1]), int(r[n + 2]), *map(float, r[n + 3 :]))
            for r in rows
        ]

    # -- claims ------------------------------------------------------------------------
    async def claim(self, row: Row, from_status: str, owner: str, lease_s: float = 30.0) -> bool:
        changed = await self._write(
            f"UPDATE records SET owner = ?, lease_until = ?, {_CHANGES}"
            " WHERE id = ? AND kind = ? AND status = ? AND owner IS NULL",
            (owner, time.time() + lease_s, *_changes(row), row.id, row.kind, from_status),
        )
        return changed == 1

    async def renew(self, kind: str, ids: Sequence[str], owner: str, lease_s: float) -> None:
        if ids:
            await self._write(
                "UPDATE records SET lease_until = ? WHERE kind = ? AND owner = ?"
                f" AND id IN ({_marks(ids)})",
                (time.time() + lease_s, kind, owner, *ids),
            )

    async def expired(self, kind: str, status: str, now: float) -> list[dict[str, Any]]:
        return await self._docs(
            "SELECT doc FROM records WHERE kind = ? AND status = ? AND lease_until < ?",
            (kind, status, now),
        )

    async def unclaimed(self, kind: str, status: str, limit: int) -> list[dict[str, Any]]:
        return await self._docs(
            "SELECT doc FROM records WHERE kind = ? AND status = ? AND owner IS NULL"
            " ORDER BY created_at LIMIT ?",
            (kind, status, limit),
        )

    async def release(self, kind: str, owner: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        return await self._docs(
            "SELECT doc FROM records WHERE kind = ? AND owner = ?"
            f" AND status IN ({_marks(statuses)})",
            (kind, owner, *statuses),
        )

    async def disown(self, kind: str, status: str, owner: str | None) -> None:
        mine = "" if owner is None else " AND owner = ?"
        args = (kind, status) if owner is None else (kind, status, owner)
        await self._write(
            f"UPDATE records SET owner = NULL WHERE kind = ? AND status = ?{mine}", args
        )

    # -- state -------------------------------------------------------------------------
    async def get_state(self, key: str) -> dict[str, Any] | None:
        docs = await self._docs("SELECT value FROM state WHERE key = ?", (key,))
        return docs[0] if docs else None

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        await self._write(
            "INSERT INTO state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, dumps(value)),
        )

    # -- samples -----------------------------------------------------------------------
    async def add_samples(self, samples: Sequence[tuple[float, dict[str, float]]]) -> None:
        await self._write_many(_PUT_SAMPLE, [("raw", ts, dumps(doc)) for ts, doc in samples])

    async def samples(self, since: float, resolution: str) -> list[tuple[float, dict[str, float]]]:
        rows = await self._rows(
            "SELECT ts, doc FROM samples WHERE resolution = ? AND ts >= ? ORDER BY ts",
            (resolution, since),
        )
        return [(float(r[0]), json.loads(r[1])) for r in rows]

    async def rollup(self, now: float) -> dict[str, int]:
        """Average finished buckets of each resolution into the next. Idempotent per
        bucket, so two instances rolling up at once write the same rows."""
        for source, target, width in ROLLUPS:
            last = (
                await self._rows("SELECT MAX(ts) FROM samples WHERE resolution = ?", (target,))
            )[0][0]
            start = float(last) + width if last is not None else 0.0
            rows = await self._rows(
                "SELECT ts, doc FROM samples WHERE resolution = ? AND ts >= ? AND ts < ?"
                " ORDER BY ts",
                (source, start, (now // width) * width),  # only buckets that are over
            )
            buckets: dict[float, list[dict[str, float]]] = {}
            for ts, doc in rows:
                buckets.setdefault((float(ts) // width) * width, []).append(json.loads(doc))
            averaged = [(target, ts, dumps(_average(docs))) for ts, docs in buckets.items()]
            await self._write_many(_PUT_SAMPLE, averaged)
        for resolution, keep in RETENTION.items():
            await self._write(
                "DELETE FROM samples WHERE resolution = ? AND ts < ?", (resolution, now - keep)
            )
        counts = await self._rows("SELECT resolution, COUNT(*) FROM samples GROUP BY resolution")
        return {str(r[0]): int(r[1]) for r in counts}


def _average(docs: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for d in docs for k in d}
    out: dict[str, float] = {}
    for key in keys:
        values = [float(d[key]) for d in docs if isinstance(d.get(key), int | float)]
        if values:
            out[key] = round(sum(values) / len(values), 4)
    return out
