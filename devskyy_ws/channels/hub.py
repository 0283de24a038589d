"""The hub: per-channel sets of live connections and the one ordered publish point.

The path of a message: `publish()` → broker (in-memory by default, Redis when scaled
out) → `deliver()` assigns the channel's next `seq`, serializes once, keeps it in the
channel's history and writes the same pre-built frame to every matching connection.
A connection whose socket cannot keep up is closed with 4008 instead of buffering
without bound, so one slow client never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from aiohttp import WSMsgType, web

from ..contract import serde
from ..contract.messages import CHANNEL_MESSAGES, CHANNELS, Keepalive, ServerMessage
from .filters import Filters, matches
from .frames import frame_payload, text_frame

__all__ = ["Broker", "ChannelStats", "Connection", "Entry", "Hub", "MemoryBroker"]

log = logging.getLogger("devskyy_ws.channels.hub")

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


@attrs.frozen
class Entry:
    """One published message as kept in history: its frame, the only copy kept.

    The payload and the doc are derived when a replay needs them (a compressed or a
    filtered socket), which is rare next to how long entries are kept.
    """

    seq: int
    frame: bytes
    at: float

    @property
    def payload(self) -> bytes:
        return frame_payload(self.frame)

    @property
    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.payload)
        return doc


class Connection:
    """One subscriber socket. Writes go straight to the transport when uncompressed."""

    __slots__ = (
        "__weakref__",
        "_closed",
        "_filters",
        "_muted",
        "_pending",
        "_pending_bytes",
        "_queue",
        "_queued_bytes",
        "_transport",
        "_wake",
        "_writer",
        "address",
        "authenticated",
        "channel",
        "hub",
        "last_sent",
        "live_from",
        "opened_at",
        "plain",
        "received",
        "sent",
        "subject",
        "token_exp",
        "ws",
    )

    def __init__(
        self, hub: Hub, channel: str, ws: web.WebSocketResponse, request: web.Request, address: str
    ) -> None:
        self.hub = hub
        self.channel = channel
        self.ws = ws
        self.address = address
        self._filters: Filters | None = None
        self.plain = False  # set by _refresh once the rest is initialised
        self._closed = False
        self.opened_at = time.monotonic()
        self.last_sent = self.opened_at
        self.sent = 0
        self.received = 0
        self.authenticated = False
        self._muted = False
        self.live_from = hub.seqs[channel]
        self.subject: str | None = None
        self.token_exp: float | None = None
        self._transport = request.transport
        self._pending: list[bytes] = []  # frames of this loop tick, written together
        self._pending_bytes = 0
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        if ws.compress:
            self._writer = asyncio.create_task(self._write_compressed())
        self._refresh()

    def _refresh(self) -> None:
        """`plain`: the hub may write the shared frame straight to this transport."""
        self.plain = (
            not self._closed and not self._muted and self._filters is None and self._writer is None
        )

    @property
    def closed(self) -> bool:
        return self._closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self._closed = value
        self._refresh()

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = value
        self._refresh()

    @property
    def filters(self) -> Filters | None:
        return self._filters

    @filters.setter
    def filters(self, value: Filters | None) -> None:
        self._filters = value
        self._refresh()

    # -- writing -------------------------------------------------------------------
    def hold(self, frame: bytes) -> None:
        """Keep a frame for the end of this loop tick (the hub writes them then, at once)."""
        self._pending.append(frame)
        self._pending_bytes += len(frame)

    @property
    def held_bytes(self) -> int:
        return self._pending_bytes

    def release(self) -> None:
        """Write the held frames, in one call; everything else written comes after them."""
        pending = self._pending
        if not pending:
            return
        self._pending, self._pending_bytes = [], 0
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write(self, payload: bytes | None, frame: bytes | None = None) -> bool:
        """Queue one text message, given as its payload, its frame or both; False (and a
        4008 close) when the client lags. Only a compressed socket needs the payload."""
        if self.closed:
            return False
        self.release()
        transport = self._transport
        if transport is None or transport.is_closing():
            self.closed = True
            return False
        if self._writer is not None:
            if payload is None:
                assert frame is not None
                payload = frame_payload(frame)
            if self._queued_bytes + len(payload) > self.hub.send_buffer_bytes:
                self.drop_slow()
                return False
            self._queue.append(payload)
            self._queued_bytes += len(payload)
            self._wake.set()
        else:
            if frame is None:
                assert payload is not None
                frame = text_frame(payload)
            if transport.get_write_buffer_size() + len(frame) > self.hub.send_buffer_bytes:
                self.drop_slow()
                return False
            transport.write(frame)
        self.sent += 1
        self.last_sent = time.monotonic()
        return True

    def send(self, message: ServerMessage) -> bool:
        """Send a per-connection message (pong, subscribed, warnings, snapshots)."""
        return self.write(serde.dumpb(serde.unstructure(message)))

    async def _write_compressed(self) -> None:
        """permessage-deflate compresses per client, so it needs aiohttp's writer."""
        try:
            while not self.closed:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                payload = self._queue.popleft()
                self._queued_bytes -= len(payload)
                await self.ws.send_frame(payload, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            self.closed = True

    # -- closing -------------------------------------------------------------------
    def drop_slow(self) -> None:
        stats = self.hub.stats[self.channel]
        stats.slow_consumer_disconnects += 1
        log.warning("closing slow consumer on %s from %s", self.channel, self.address)
        self.close_soon(4008, "slow consumer")

    def close_soon(self, code: int, reason: str) -> None:
        """Close without waiting: the close frame queues behind what the client owes."""
        if self.closed:
            return
        self.closed = True
        self.hub.spawn(self._close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        """Close from the socket's own reader, which then stops reading."""
        if self.closed:
            return
        self.closed = True
        await self._close(code, reason)

    async def _close(self, code: int, reason: str) -> None:
        self.release()  # what was published before the close goes out before it
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), 2.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            if self._transport is not None and not self._transport.is_closing():
                self._transport.abort()
            if self._writer is not None:
                self._writer.cancel()

    def wants(self, doc: dict[str, Any]) -> bool:
        if self.filters is None or doc.get("type") == "error":
            return True
        return matches(doc, self.filters)


class Broker(Protocol):
    """Carries published messages to every instance's hub, in one order per channel."""

    async def start(self, hub: Hub) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, doc: dict[str, Any]) -> int: ...

    async def history_since(self, channel: str, since: int) -> list[Entry] | None: ...

    @property
    def healthy(self) -> bool: ...


class MemoryBroker:
    """The single-process default: a publish is delivered right away, in call order."""

    def __init__(self) -> None:
        self._hub: Hub | None = None

    async def start(self, hub: Hub) -> None:
        self._hub = hub

    async def stop(self) -> None:
        self._hub = None

    async def publish(self, channel: str, doc: dict[str, Any]) -> int:
        if self._hub is None:
            raise RuntimeError("the hub is not running")
        hub = self._hub
        seq = hub.next_seq(channel)
        return hub.deliver(channel, seq, hub.epochs[channel], doc)

    async def history_since(self, channel: str, since: int) -> list[Entry] | None:
        return None  # the hub's own in-memory history is the whole history

    @property
    def healthy(self) -> bool:
        return True


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
        max_connections: int = 10_000,
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
        self.seqs: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.epochs: dict[str, str] = {c: secrets.token_hex(4) for c in CHANNELS}
        self.snapshot_providers: dict[str, SnapshotProvider] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keepalive_task: asyncio.Task[None] | None = None
        self._live: set[Connection] = set()
        self._per_address: dict[str, int] = {}  # live sockets per client address
        self._snapshots: dict[str, tuple[Connection, ...]] = {}
        self._tick_channels: set[str] = set()  # channels that delivered in this loop tick
        self._held: list[Connection] = []  # connections holding frames until the tick ends

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        await self.broker.start(self)
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
        allowed = CHANNEL_MESSAGES.get(channel)
        if allowed is None:
            raise ValueError(f"unknown channel {channel!r}")
        if not isinstance(message, allowed):
            raise ValueError(f"{type(message).__name__} cannot be published on {channel!r}")
        doc = serde.unstructure(message)
        doc.pop("seq", None)
        doc.pop("epoch", None)
        self.stats[channel].published += 1
        return await self.broker.publish(channel, doc)

    def next_seq(self, channel: str) -> int:
        self.seqs[channel] += 1
        return self.seqs[channel]

    def deliver(self, channel: str, seq: int, epoch: str, doc: dict[str, Any]) -> int:
        """Stamp, serialize once, remember, and write to every matching local socket.

        The first message of a loop tick on a channel is written at once; later ones in
        the same tick (a burst) are held per socket and written together when the tick
        ends: one write per socket per burst instead of one per message. A socket's
        own messages (pong, warnings) and its close frame flush what it holds first.
        """
        doc["seq"] = seq
        doc["epoch"] = epoch
        self.seqs[channel] = max(self.seqs[channel], seq)
        payload = serde.dumpb(doc)
        entry = Entry(seq, text_frame(payload), time.monotonic())
        self._remember(channel, entry)
        stats = self.stats[channel]
        delivered = 0
        frame, limit, now = entry.frame, self.send_buffer_bytes, entry.at
        size = len(frame)
        members = self._members(channel)
        burst = channel in self._tick_channels
        if not burst and members:  # with nobody listening there is no burst to gather
            if not self._tick_channels:
                asyncio.get_running_loop().call_soon(self._end_tick)
            self._tick_channels.add(channel)
        held = self._held
        for conn in members:
            transport = conn._transport
            if conn.plain and transport is not None and not transport.is_closing():
                # The fast path (most sockets): no filters, no compression, no auth wait.
                holding = conn.held_bytes
                if transport.get_write_buffer_size() + holding + size > limit:
                    conn.drop_slow()
                    stats.dropped += 1
                    continue
                if burst:
                    if not holding:
                        held.append(conn)
                    conn.hold(frame)
                    stats.coalesced += 1
                else:
                    transport.write(frame)
                conn.last_sent = now
                delivered += 1
                continue
            if conn.closed or conn.muted or not conn.wants(doc):
                continue
            if conn.write(payload, frame):
                delivered += 1
            else:
                stats.dropped += 1
        stats.sent += delivered
        return delivered

    def _end_tick(self) -> None:
        self._tick_channels.clear()
        held, self._held = self._held, []
        for conn in held:
            try:
                conn.release()
            except Exception:  # one broken transport must not keep the others' frames
                log.exception("writing held frames to %s failed", conn.address)

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
            payload = serde.dumpb(serde.unstructure(Keepalive()))
            frame = text_frame(payload)
            for conn in idle:
                conn.write(payload, frame)
