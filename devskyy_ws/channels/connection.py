"""One subscriber socket and its one guarded write path.

Every frame a socket gets (a publish, a replay, a pong, a keepalive) goes through
`send_frame`: closed sockets are skipped, a client that lags past the send buffer is
closed with 4008 instead of buffered without bound, and a transport that fails to write
closes that socket only. A socket with permessage-deflate is the one alternative: its
frames are compressed per client, so they queue for aiohttp's writer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ..contract import serde
from ..contract.messages import Conflated, ServerMessage
from .conflation import is_terminal
from .filters import Filters, matches
from .frames import frame_payload, text_frame

if TYPE_CHECKING:
    from .hub import Hub

__all__ = ["Connection"]

log = logging.getLogger("devskyy_ws.channels.connection")


class Connection:
    """Uncompressed frames go straight to the transport; a burst within one loop tick is
    held and written in one call when the tick ends (`Hub` calls `release`)."""

    __slots__ = (
        "__weakref__",
        "_behind",
        "_behind_bytes",
        "_closed",
        "_conflate",
        "_drainer",
        "_filters",
        "_muted",
        "_pending",
        "_pending_bytes",
        "_queue",
        "_queued_bytes",
        "_skipped",
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
        self._conflate = False
        self._behind: dict[Any, bytes] | None = None  # while a conflating socket lags
        self._behind_bytes = 0
        self._skipped = 0
        self._drainer: asyncio.Task[None] | None = None
        if ws.compress:
            self._writer = asyncio.create_task(self._write_compressed())
        self._refresh()

    def _refresh(self) -> None:
        """`plain`: every published frame is for this socket as it is (no filter to ask,
        no per-client compression), so runs of frames can go out joined."""
        self.plain = (
            not self._closed
            and not self._muted
            and self._filters is None
            and not self._conflate
            and self._writer is None
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
    def conflate(self) -> bool:
        return self._conflate

    @conflate.setter
    def conflate(self, value: bool) -> None:
        self._conflate = value
        self._refresh()

    @property
    def filters(self) -> Filters | None:
        return self._filters

    @filters.setter
    def filters(self, value: Filters | None) -> None:
        self._filters = value
        self._refresh()

    def wants(self, doc: dict[str, Any]) -> bool:
        if self._filters is None or doc.get("type") == "error":
            return True
        return matches(doc, self._filters)

    # -- writing -------------------------------------------------------------------
    def send_frame(self, frame: bytes, *, burst: bool = False, count: int = 1) -> bool:
        """Write one text frame (or `count` frames joined), or hold it for the end of the
        tick when `burst`.

        Returns False when the frame was not sent: the socket is closed, or it lags by
        more than the send buffer (it is then closed with 4008).
        """
        if self._closed:
            return False
        if self._writer is not None:
            return self._enqueue(frame_payload(frame))
        transport = self._transport
        if transport is None or transport.is_closing():
            self.closed = True
            return False
        size = len(frame)
        owed = transport.get_write_buffer_size() + self._pending_bytes + size
        if owed > self.hub.send_buffer_bytes:
            self.drop_slow()
            return False
        if burst:
            if not self._pending:
                self.hub.hold_until_tick_end(self)
            self._pending.append(frame)
            self._pending_bytes += size
        else:
            if self._pending:  # what this socket holds goes out first, in the same write
                self._pending.append(frame)
                frame, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
            if not self._write(frame):
                return False
        self.sent += count
        self.last_sent = time.monotonic()
        return True

    def offer(self, frame: bytes, doc: dict[str, Any], key: str | None, burst: bool) -> bool:
        """A published frame for a conflating socket: sent while it keeps up; while it
        lags by more than a quarter of the send buffer, kept as the latest of its key
        (`None`: kept whatever comes after) until it drains. 4008 only when even that
        exceeds the send buffer."""
        if self._closed:
            return False
        if self._behind is None:
            if self._owed() + len(frame) <= self.hub.send_buffer_bytes // 4:
                return self.send_frame(frame, burst=burst)
            self._behind = {}
            self._drainer = asyncio.create_task(self._drain_conflated())
        behind = self._behind
        if key is not None and key in behind:  # the latest replaces it
            self._behind_bytes -= len(behind.pop(key))
            self._skipped += 1
        slot: object = key
        if key is None or is_terminal(doc):
            slot = object()  # a terminal state or an error is never replaced
        behind[slot] = frame
        self._behind_bytes += len(frame)
        if self._behind_bytes > self.hub.send_buffer_bytes:
            self.drop_slow()
            return False
        return True

    async def _drain_conflated(self) -> None:
        """Wait until the socket has room again, then send what was kept, in one write."""
        low = self.hub.send_buffer_bytes // 8
        transport = self._transport
        while not self._closed and transport is not None and not transport.is_closing():
            if self._owed() <= low:
                break
            await asyncio.sleep(0.02)
        behind, skipped = self._behind or {}, self._skipped
        self._behind, self._behind_bytes, self._skipped, self._drainer = None, 0, 0, None
        if self._closed or not behind:
            return
        notice = text_frame(serde.dumpb(serde.unstructure(Conflated(skipped=skipped))))
        frames = [notice, *behind.values()]
        if self._writer is not None:  # compressed one by one, behind what is queued
            payloads = [frame_payload(frame) for frame in frames]
            self._queue.extend(payloads)
            self._queued_bytes += sum(map(len, payloads))
            self._wake.set()
        else:
            self.release()
            if not self._write(b"".join(frames)):
                return
        self.sent += len(frames)
        self.last_sent = time.monotonic()

    def _owed(self) -> int:
        """Bytes this socket has not yet taken: held, queued for compression, buffered."""
        transport = self._transport
        owed = self._pending_bytes + self._queued_bytes
        return owed + (transport.get_write_buffer_size() if transport is not None else 0)

    def send(self, message: ServerMessage) -> bool:
        """Send a per-connection message (pong, subscribed, warnings, snapshots)."""
        return self.send_frame(text_frame(serde.dumpb(serde.unstructure(message))))

    def release(self) -> None:
        """Write the held frames in one call."""
        pending = self._pending
        if pending:
            self._pending, self._pending_bytes = [], 0
            self._write(pending[0] if len(pending) == 1 else b"".join(pending))

    def _write(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            self.closed = True
            return False
        try:
            transport.write(data)
        except Exception:  # a broken transport costs this socket only
            log.exception("writing to %s on %s failed", self.address, self.channel)
            self.closed = True
            transport.abort()
            return False
        return True

    def _enqueue(self, payload: bytes) -> bool:
        if self._queued_bytes + len(payload) > self.hub.send_buffer_bytes:
            self.drop_slow()
            return False
        self._queue.append(payload)
        self._queued_bytes += len(payload)
        self._wake.set()
        self.sent += 1
        self.last_sent = time.monotonic()
        return True

    async def _write_compressed(self) -> None:
        """permessage-deflate compresses per client, so it needs aiohttp's writer."""
        try:
            while not self._closed:
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
        self.hub.stats[self.channel].slow_consumer_disconnects += 1
        log.warning("closing slow consumer on %s from %s", self.channel, self.address)
        self.close_soon(4008, "slow consumer")

    def close_soon(self, code: int, reason: str) -> None:
        """Close without waiting: the close frame queues behind what the client owes."""
        if self._closed:
            return
        self.closed = True
        self.hub.spawn(self._close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        """Close from the socket's own reader, which then stops reading."""
        if self._closed:
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
            if self._drainer is not None:
                self._drainer.cancel()
