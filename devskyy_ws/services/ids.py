"""Record ids as the API shows them: a prefix and 12 random hex digits (48 bits).

Ids can collide, if rarely: another instance sharing the database may draw the same
one. `FreshIds.insert` therefore inserts without overwriting and draws again on a
clash, so a new record can never replace an old one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

import attrs

from ..store.base import Row, Store

__all__ = ["FreshIds", "new_id"]

R = TypeVar("R")
ATTEMPTS = 8


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


class FreshIds:
    """Stores new records of one kind under fresh ids, in the order they were made.

    Records carry their creation time in whole milliseconds, as the wire shows it; the
    list order adds a microsecond per record made earlier in the same millisecond, so
    records made together list newest first, not by their random ids.
    """

    def __init__(self, prefix: str, draw: Callable[[str], str] = new_id) -> None:
        self.prefix = prefix
        self.draw = draw
        self._last_ms = 0.0
        self._same_ms = 0

    def _sort_stamp(self, created_at: float) -> float:
        if created_at == self._last_ms:
            self._same_ms = min(self._same_ms + 1, 999)
        else:
            self._last_ms, self._same_ms = created_at, 0
        return created_at + self._same_ms / 1_000_000

    async def insert(
        self, store: Store, record: R, id_field: str, to_row: Callable[[R], Row]
    ) -> Row:
        """Give `record` a fresh id in `id_field` and store it as new; returns the row.

        Raises:
            RuntimeError: every draw clashed (only a broken random source does that).
        """
        stamp: float | None = None
        for _ in range(ATTEMPTS):
            setattr(record, id_field, self.draw(self.prefix))
            row = to_row(record)
            if stamp is None:
                stamp = self._sort_stamp(row.created_at)
            row = attrs.evolve(row, created_at=stamp)
            if await store.add(row):
                return row
        raise RuntimeError(f"no free {self.prefix} id in {ATTEMPTS} draws")
