"""Brokers carry published messages to every instance's hub, in one order per channel.

A broker owns each channel's position: it numbers every message (`seq`, within an
`epoch` that changes only when the history starts over), stamps both into the message,
serializes it once and hands the hub `(channel, seq, payload)`. In-memory by default;
Redis (`redis_broker.py`) when several instances share the channels.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..contract import serde
from ..contract.messages import CHANNELS
from .frames import Entry

__all__ = ["Broker", "Deliver", "Ingest", "MemoryBroker", "open_broker", "stamp"]

Deliver = Callable[[str, int, bytes], int]
"""The hub's side: write `(channel, seq, payload)` to local sockets; returns how many."""
Ingest = Callable[[Any], Awaitable[None]]
"""The hub's side of the ingest stream: check one producer's event and publish it
(raises contract.events.EventRefused for one that cannot be published)."""


def stamp(doc: dict[str, Any], seq: int, epoch: str) -> bytes:
    """The message as every subscriber gets it: with its position, serialized once."""
    doc["seq"] = seq
    doc["epoch"] = epoch
    return serde.dumpb(doc)


def new_epochs() -> dict[str, str]:
    return {c: secrets.token_hex(4) for c in CHANNELS}


class Broker(Protocol):
    seqs: dict[str, int]  # the last seq seen on each channel
    epochs: dict[str, str]

    async def start(self, deliver: Deliver, ingest: Ingest) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, doc: dict[str, Any]) -> tuple[int | None, int]:
        """(its seq, or None while it waits to be numbered; local deliveries)."""
        ...

    async def history_since(self, channel: str, since: int) -> list[Entry] | None: ...

    @property
    def healthy(self) -> bool: ...


class MemoryBroker:
    """The single-process default: a publish is delivered right away, in call order."""

    def __init__(self) -> None:
        self.seqs: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.epochs = new_epochs()
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver, ingest: Ingest) -> None:
        self._deliver = deliver  # one process: producers reach it through the HTTP API

    async def stop(self) -> None:
        self._deliver = None

    async def publish(self, channel: str, doc: dict[str, Any]) -> tuple[int | None, int]:
        if self._deliver is None:
            raise RuntimeError("the hub is not running")
        seq = self.seqs[channel] + 1
        self.seqs[channel] = seq
        return seq, self._deliver(channel, seq, stamp(doc, seq, self.epochs[channel]))

    async def history_since(self, channel: str, since: int) -> list[Entry] | None:
        return None  # the hub's own in-memory history is the whole history

    @property
    def healthy(self) -> bool:
        return True


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
