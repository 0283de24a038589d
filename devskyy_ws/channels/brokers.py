"""Choosing the hub's broker from `--broker`: in-memory by default, Redis to scale out."""

from __future__ import annotations

from .hub import Broker, MemoryBroker

__all__ = ["open_broker"]


def open_broker(url: str, history_size: int = 1000) -> Broker:
    """The broker for a URL.

    Raises:
        ValueError: an unsupported scheme, or redis:// without the redis package.
    """
    if url in ("memory://", "memory", ""):
        return MemoryBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis_broker import RedisBroker
        except ImportError as exc:
            raise ValueError(
                "--broker redis:// needs the redis package: pip install devskyy-ws[redis]"
            ) from exc
        return RedisBroker(url, history_size=history_size)
    raise ValueError(f"unsupported broker URL {url!r}; use memory:// or redis://")
