"""The hub: per-channel sets of live connections and the one ordered publish point.

The path of a message: `publish()` → broker (in-memory by default, Redis when scaled
out), which numbers it and serializes it once → `deliver()` keeps the frame in the
channel's history and writes it to every matching connection through the
connection's one guarded write path (`Connection.send_frame`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..contract import serde
from ..contract.events import EventRefused, parse_entry
from ..contract.messages import CHANNEL_MESSAGES, CHANNELS, Keepalive
from .brokers import Broker, MemoryBroker
from .conflation import conflation_key
from .connection import Connection
from .frames import Entry, text_frame

__all__ = ["ChannelStats", "Hub"]

SnapshotProvider = Callable[[], dict[str, Any]]


@attrs.define
class ChannelStats:
    sent: int = 0
    received: int = 0
    dropped: int = 0
    errors: int = 0
    published: int = 0
    slow_consumer_disconnects: int = 0
    coalesced: int = 0  # deliveries that shared a socket write with an earlier one
    connections_total: int = 0
    closed_count: int = 0
    closed_duration_total: float = 0.0


class Hub:
    """Connections per channel (weakly held), ordered publishing, history and stats.

    Args:
        send_buffer_bytes: per-connection outbound bytes allowed before a 4008 close.
        keepalive: seconds of silence before a `keepalive` message is sent.
        history_size / history_bytes / history_ttl: how much of each channel is kept
            for resume: at most that many messages, frame bytes and seconds.
        max_connections: live sockets over all channels.
    """

    def __init__(
        self,
        *,
        send_buffer_bytes: int = 1024 * 1024,
        keepalive: float = 25.0,
        history_size: int = 1000,
        history_ttl: float = 300.0,
        history_bytes: int = 4 * 1024 * 1024,
        max_connections: int = 20_000,
        broker: Broker | None = None,
    ) -> None:
        self.history_bytes = history_bytes
        self.history_held: dict[str, int] = dict.fromkeys(CHANNELS, 0)  # frame bytes kept
        self.send_buffer_bytes = send_buffer_bytes
        self.keepalive = keepalive
        self.history_size = history_size
        self.history_ttl = history_ttl
        self.max_connections = max_connections
        self.broker: Broker = broker or MemoryBroker()
        self.connections: dict[str, weakref.WeakSet[Connection]] = {
            c: weakref.WeakSet() for c in CHANNELS
        }
        self.stats: dict[str, ChannelStats] = {c: ChannelStats() for c in CHANNELS}
        self.history: dict[str, deque[Entry]] = {c: deque() for c in CHANNELS}
        self.snapshot_providers: dict[str, SnapshotProvider] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keepalive_task: asyncio.Task[None] | None = None
        self._live: set[Connection] = set()
        self._per_address: dict[str, int] = {}  # live sockets per client address
        self._snapshots: dict[str, tuple[Connection, ...]] = {}
        self._tick_channels: set[str] = set()  # channels that delivered in this loop tick
        self._held: list[Connection] = []  # connections holding frames until the tick ends

    @property
    def seqs(self) -> dict[str, int]:
        """The last seq of each channel, as the broker numbered it (read-only)."""
        return self.broker.seqs

    @property
    def epochs(self) -> dict[str, str]:
        return self.broker.epochs

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        await self.broker.start(self.deliver, self.ingest)
        self._keepalive_task = asyncio.create_task(self._keepalive_loop())

    async def stop(self) -> None:
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive_task
        await self.broker.stop()

    async def close_all(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Close every socket at once (shutdown) and wait briefly for the close frames."""
        for conn in list(self._live):
            conn.close_soon(code, reason)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=3.0)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- connections ---------------------------------------------------------------
    @property
    def active(self) -> int:
        return len(self._live)

    def active_by_channel(self) -> dict[str, int]:
        return {c: len(s) for c, s in self.connections.items()}

    def attach(self, conn: Connection) -> None:
        self._snapshots.pop(conn.channel, None)
        self.connections[conn.channel].add(conn)
        if conn not in self._live:
            self._live.add(conn)
            self._per_address[conn.address] = self._per_address.get(conn.address, 0) + 1
        self.stats[conn.channel].connections_total += 1

    def detach(self, conn: Connection) -> None:
        conn.closed = True
        self._snapshots.pop(conn.channel, None)
        self.connections[conn.channel].discard(conn)
        if conn in self._live:
            self._live.remove(conn)
            left = self._per_address[conn.address] - 1
            if left:
                self._per_address[conn.address] = left
            else:
                del self._per_address[conn.address]
        stats = self.stats[conn.channel]
        stats.closed_count += 1
        stats.closed_duration_total += time.monotonic() - conn.opened_at

    def open_durations(self, channel: str) -> list[float]:
        now = time.monotonic()
        return [now - c.opened_at for c in self.connections[channel]]

    def count_from(self, address: str) -> int:
        """Live sockets from `address`, kept as a count: every handshake asks, and
        walking all sockets each time made opening 10,000 of them quadratic."""
        return self._per_address.get(address, 0)

    # -- publishing ----------------------------------------------------------------
    async def publish(self, channel: str, message: Any) -> int:
        """The one way to reach a socket: validate, hand to the broker, deliver in order.

        Returns:
            how many local connections the message was written to.

        Raises:
            ValueError: unknown channel, or a message type that does not belong to it.
        """
        _check(channel, message)
        _, delivered = await self._publish(channel, message)
        return delivered

    async def _publish(self, channel: str, message: Any) -> tuple[int | None, int]:
        self.stats[channel].published += 1
        return await self.broker.publish(channel, _doc(message))

    async def ingest(self, entries: Sequence[tuple[Any, Any]]) -> list[EventRefused | None]:
        """A read of the broker's ingest stream, `(channel, message text)` each, checked
        as the HTTP API checks an event: the good ones are published in order as one
        batch (one write per socket), a bad one is refused alone.

        Returns:
            per entry, None when it was published, else why it was refused.
        """
        events: list[tuple[str, Any]] = []
        refusals: list[EventRefused | None] = []
        for channel, message in entries:
            try:
                events.append(parse_entry(channel, message))
                refusals.append(None)
            except EventRefused as exc:
                refusals.append(exc)
        if events:
            await self.publish_batch(events)
        return refusals

    async def publish_batch(self, events: list[tuple[str, Any]]) -> list[tuple[int | None, int]]:
        """Publish every event in order, or none if one does not fit its channel. Their
        frames to one socket leave in one write at the end of this loop tick.

        Returns:
            each event's seq (None while a Redis outage holds it) and local deliveries.

        Raises:
            ValueError: as `publish`, before anything is published.
        """
        for channel, message in events:
            _check(channel, message)
        for channel in {channel for channel, _ in events} - self._tick_channels:
            if not self._tick_channels:
                asyncio.get_running_loop().call_soon(self._end_tick)
            self._tick_channels.add(channel)  # even the first frame is held
        published: list[tuple[int | None, int]] = []
        for channel, run in itertools.groupby(events, key=lambda event: event[0]):
            docs = [_doc(message) for _, message in run]
            self.stats[channel].published += len(docs)
            published.extend(await self.broker.publish_many(channel, docs))
        return published

    def deliver(self, channel: str, run: Sequence[tuple[int, bytes]]) -> list[int]:
        """Remember the broker's stamped messages (consecutive on one channel) and write
        them to every matching socket; returns how many sockets each reached.

        A socket that takes every message gets the whole run as one write (the frames are
        joined once, whatever the number of sockets: a batch of 100 costs one call per
        socket, not 100). The first run of a loop tick on a channel is written at once;
        later ones in the same tick (a burst) are held per socket and written together
        when the tick ends. Docs are decoded only when a filtered socket has to be asked.
        """
        now = time.monotonic()
        entries = [Entry(seq, text_frame(payload), now) for seq, payload in run]
        for entry in entries:
            self._remember(channel, entry)
        members = self._members(channel)
        burst = channel in self._tick_channels
        if not burst and members:  # with nobody listening there is no burst to gather
            if not self._tick_channels:
                asyncio.get_running_loop().call_soon(self._end_tick)
            self._tick_channels.add(channel)
        frames = [entry.frame for entry in entries]
        joined = frames[0] if len(frames) == 1 else b"".join(frames)
        counts, plain, dropped = [0] * len(frames), 0, 0
        docs: list[Any] | None = None
        for conn in members:
            if conn.plain:
                if conn.send_frame(joined, burst=burst, count=len(frames)):
                    plain += 1
                else:
                    dropped += len(frames)
                continue
            if conn.closed or conn.muted:
                continue
            if docs is None:
                docs = [json.loads(payload) for _, payload in run]
            for i, (frame, doc) in enumerate(zip(frames, docs, strict=True)):
                if not conn.wants(doc):
                    continue
                held = burst or i > 0  # after the run's first, frames wait for the tick
                if conn.conflate:
                    sent = conn.offer(frame, doc, conflation_key(channel, doc), held)
                else:
                    sent = conn.send_frame(frame, burst=held)
                counts[i] += sent
                dropped += not sent
        counts = [count + plain for count in counts]
        stats = self.stats[channel]
        delivered = sum(counts)
        stats.sent += delivered
        stats.dropped += dropped
        if burst:
            stats.coalesced += delivered
        return counts

    def hold_until_tick_end(self, conn: Connection) -> None:
        """`conn` holds frames of a burst; `_end_tick` writes them."""
        self._held.append(conn)

    def _end_tick(self) -> None:
        self._tick_channels.clear()
        held, self._held = self._held, []
        for conn in held:
            conn.release()

    def _members(self, channel: str) -> tuple[Connection, ...]:
        """A snapshot of the channel's weak set, rebuilt only when membership changes."""
        members = self._snapshots.get(channel)
        if members is None:
            members = tuple(self.connections[channel])
            self._snapshots[channel] = members
        return members

    def _remember(self, channel: str, entry: Entry) -> None:
        if self.history_size <= 0:
            return
        self.history[channel].append(entry)
        self.history_held[channel] += len(entry.frame)
        self._expire(channel, entry.at)

    def _expire(self, channel: str, now: float) -> None:
        """Drop the oldest entries past the count, byte and age bounds."""
        history = self.history[channel]
        held = self.history_held[channel]
        cutoff = now - self.history_ttl
        while history and (
            len(history) > self.history_size or held > self.history_bytes or history[0].at < cutoff
        ):
            held -= len(history.popleft().frame)
        self.history_held[channel] = held

    def expire_history(self) -> None:
        """Age out entries on quiet channels too (called with every keepalive tick)."""
        now = time.monotonic()
        for channel in self.history:
            self._expire(channel, now)

    async def replay(self, channel: str, since: int, until: int) -> list[Entry] | None:
        """Entries with `since < seq <= until`, or None when part of that range is gone."""
        if since >= until:
            return []
        history = self.history[channel]
        if history and history[0].seq <= since + 1:
            return [e for e in history if since < e.seq <= until]
        remote = await self.broker.history_since(channel, since)
        if remote is None or not remote or remote[0].seq > since + 1:
            return None
        return [e for e in remote if e.seq <= until]

    def snapshot_state(self, channel: str) -> dict[str, Any]:
        provider = self.snapshot_providers.get(channel)
        return provider() if provider is not None else {}

    # -- keepalive -----------------------------------------------------------------
    async def _keepalive_loop(self) -> None:
        """Silence longer than `keepalive` earns a keepalive, so proxies keep the socket."""
        tick = max(0.01, min(self.keepalive / 4, 5.0))
        while True:
            await asyncio.sleep(tick)
            self.expire_history()
            threshold = time.monotonic() - self.keepalive
            idle = [c for c in self._live if not c.closed and c.last_sent <= threshold]
            if not idle:
                continue
            frame = text_frame(serde.dumpb(serde.unstructure(Keepalive())))
            for conn in idle:
                conn.send_frame(frame)


def _doc(message: Any) -> dict[str, Any]:
    """A message as the broker stamps it: its position is the broker's to give."""
    doc: dict[str, Any] = serde.unstructure(message)
    doc.pop("seq", None)
    doc.pop("epoch", None)
    return doc


def _check(channel: str, message: Any) -> None:
    allowed = CHANNEL_MESSAGES.get(channel)
    if allowed is None:
        raise ValueError(f"unknown channel {channel!r}")
    if not isinstance(message, allowed):
        raise ValueError(f"{type(message).__name__} cannot be published on {channel!r}")
