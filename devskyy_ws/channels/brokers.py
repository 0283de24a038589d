"""Brokers carry published messages to every instance's hub, in one order per channel.

A broker owns each channel's position: it numbers every message (`seq`, within an
`epoch` that changes only when the history starts over), stamps both into the message,
serializes it once and hands the hub `(channel, seq, payload)`. In-memory by default;
Redis (`redis_broker.py`) when several instances share the channels.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..contract import serde
from ..contract.events import EventRefused
from ..contract.messages import CHANNELS
from .frames import Entry

__all__ = ["Broker", "Deliver", "Ingest", "MemoryBroker", "open_broker", "stamp"]

Deliver = Callable[[str, Sequence[tuple[int, bytes]]], list[int]]
"""The hub's side: write a channel's consecutive messages `(seq, payload)` to local
sockets; returns how many sockets each reached."""
Ingest = Callable[[Sequence[tuple[Any, Any]]], Awaitable[list[EventRefused | None]]]
"""The hub's side of the ingest stream: check a read of entries `(channel, message
text)` and publish the good ones in order; returns None or the refusal for each."""


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

    async def publish_many(
        self, channel: str, docs: Sequence[dict[str, Any]]
    ) -> list[tuple[int | None, int]]:
        """Several messages on one channel, in order: as many `publish` calls would."""
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
        return (await self.publish_many(channel, [doc]))[0]

    async def publish_many(
        self, channel: str, docs: Sequence[dict[str, Any]]
    ) -> list[tuple[int | None, int]]:
        """Numbered and delivered as one run: one write per socket for all of them."""
        if self._deliver is None:
            raise RuntimeError("the hub is not running")
        first, epoch = self.seqs[channel] + 1, self.epochs[channel]
        self.seqs[channel] += len(docs)
        run = [(seq, stamp(doc, seq, epoch)) for seq, doc in enumerate(docs, first)]
        counts = self._deliver(channel, run)
        return [(seq, count) for (seq, _), count in zip(run, counts, strict=True)]

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
