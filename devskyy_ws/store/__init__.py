"""Persistence behind one small interface: SQLite by default, PostgreSQL to scale out."""

from __future__ import annotations

from .base import Store, StoreUnavailable
from .sqlite import SqliteStore

__all__ = ["SqliteStore", "Store", "StoreUnavailable", "open_store"]


def open_store(url: str) -> Store:
    """The store for a database URL (`sqlite:///path` or `postgresql://...`).

    Raises:
        ValueError: an unsupported scheme.
    """
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise ValueError(
                "postgresql:// needs asyncpg: pip install devskyy-ws[postgres]"
            ) from exc
        return PostgresStore(url)
    raise ValueError(f"unsupported database URL {url!r}; use sqlite:/// or postgresql://")
