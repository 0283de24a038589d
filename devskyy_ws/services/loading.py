"""Stored documents back into records, where one unreadable row harms only itself.

A row can fail to load after a schema change, a manual edit or an older bug. It must
not stop start-up, a list, or recovery: it is logged once, counted for /metrics, and
skipped in lists; asked for by id it answers a 500 in the error contract.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from ..contract import serde
from .errors import DomainError

__all__ = ["RecordLoader", "Unreadable"]

log = logging.getLogger("devskyy_ws.store")

T = TypeVar("T")
MAX_REMEMBERED = 10_000


class Unreadable(DomainError):
    status = 500


class RecordLoader:
    """Structures stored documents; counts and logs (once per row) those that fail."""

    def __init__(self) -> None:
        self.unreadable = 0
        self._logged: set[tuple[str, str]] = set()

    def one(self, doc: dict[str, Any], cls: type[T], kind: str) -> T:
        """Raises:
        Unreadable: the stored document does not fit `cls`.
        """
        try:
            return serde.structure(doc, cls)
        except Exception as exc:
            row = self._note(doc, kind, exc)
            raise Unreadable(
                "unreadable_record",
                f"The stored {kind} {row!r} cannot be read; it has been logged.",
            ) from None

    def many(self, docs: Iterable[dict[str, Any]], cls: type[T], kind: str) -> list[T]:
        out = []
        for doc in docs:
            try:
                out.append(serde.structure(doc, cls))
            except Exception as exc:
                self._note(doc, kind, exc)
        return out

    def _note(self, doc: Any, kind: str, exc: Exception) -> str:
        self.unreadable += 1
        row = str(doc.get(f"{kind}_id") or doc.get("id") or "?") if isinstance(doc, dict) else "?"
        row = row[:100]
        if (kind, row) not in self._logged:
            if len(self._logged) >= MAX_REMEMBERED:
                self._logged.clear()
            self._logged.add((kind, row))
            details = "; ".join(serde.error_details(exc))[:500]
            log.error("stored %s %r cannot be read, skipped: %s", kind, row, details)
        return row
