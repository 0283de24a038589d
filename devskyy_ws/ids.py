"""Record ids as the API shows them: a prefix and 12 hex digits (48 random bits).

The bits come from os.urandom, drawn a block at a time: one system call per 680 ids
instead of one per id (it showed in the profile of POST /api/v1/tasks). A child
process never reuses its parent's block.

48 bits collide, rarely: among a million stored tasks a new id is taken about once in
280 million draws. `insert_fresh` therefore inserts without overwriting and draws
again on a clash, so a new record can never replace an old one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from .store.base import Row, Store

__all__ = ["insert_fresh", "new_id"]

R = TypeVar("R")

_BLOCK = 4096
_ID_BYTES = 6
_ATTEMPTS = 8

_lock = threading.Lock()
_pool = b""
_used = 0
_last_ms = 0.0
_same_ms = 0


def _forget_pool() -> None:
    global _pool, _used
    _pool, _used = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def new_id(prefix: str) -> str:
    global _pool, _used
    with _lock:
        if _used + _ID_BYTES > len(_pool):
            _pool, _used = os.urandom(_BLOCK), 0
        chunk = _pool[_used : _used + _ID_BYTES]
        _used += _ID_BYTES
    return f"{prefix}-{chunk.hex()}"


def _sort_stamp(created_at: float) -> float:
    """The creation time lists sort by: the record's (whole milliseconds, as the wire
    shows it) plus a microsecond per record made earlier in the same millisecond here,
    so that records made in one millisecond list newest first, not by their random ids.
    """
    global _last_ms, _same_ms
    with _lock:
        if created_at == _last_ms:
            _same_ms = min(_same_ms + 1, 999)
        else:
            _last_ms, _same_ms = created_at, 0
        return created_at + _same_ms / 1_000_000


async def insert_fresh(
    store: Store, record: R, id_field: str, prefix: str, to_row: Callable[[R], Row]
) -> Row:
    """Give `record` a fresh id in `id_field` and store it as new; returns the stored row.

    Raises:
        RuntimeError: every draw clashed (only a broken random source does that).
    """
    for _ in range(_ATTEMPTS):
        setattr(record, id_field, new_id(prefix))
        row = to_row(record)
        row = Row(
            id=row.id,
            kind=row.kind,
            group_key=row.group_key,
            status=row.status,
            created_at=_sort_stamp(row.created_at),
            doc=row.doc,
            latency_ms=row.latency_ms,
            cost_usd=row.cost_usd,
            technique=row.technique,
        )
        if await store.add(row):
            return row
    raise RuntimeError(f"no free {prefix} id in {_ATTEMPTS} draws")
