"""A producer's client for `/api/ws/publish`: pipelined publishing with acknowledgements.

```python
async with Publisher("http://127.0.0.1:8000", token) as publisher:
    seq = await publisher.publish("tasks", TaskUpdate(task_id="t", status="running"))
    for n in range(10_000):  # pipelined: at most `max_in_flight` unacknowledged
        await publisher.publish_nowait("metrics", {"type": "metrics_update", ...})
```

Events are numbered by the publisher; the server answers each with an ack (its seq) or
a nack (why it refused it, raised as `PublishRefused` from the event's future). If the
connection drops, the publisher reconnects with backoff and sends every event not yet
acknowledged again, in order: delivery is at least once, and an event whose ack was lost
in the drop may reach subscribers twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

import aiohttp
import attrs

from .contract import serde
from .retry import backoff

__all__ = ["PublishRefused", "Publisher"]

log = logging.getLogger("devskyy_ws.publisher")


class PublishRefused(Exception):
    """The server refused an event (a nack); `code` is the error contract's code."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.details = details


class Publisher:
    """Args:
    base_url: the server, ``http(s)://host:port`` (the socket is ``/api/ws/publish``).
    token: a token with the ``publish`` scope.
    max_in_flight: unacknowledged events at most; ``publish_nowait`` waits beyond it.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_in_flight: int = 1000,
        base_delay: float = 0.2,
        max_delay: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/").replace("http", "ws", 1) + "/api/ws/publish"
        self.token = token
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.reconnects = 0
        self._slots = asyncio.Semaphore(max_in_flight)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[int | None]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False

    async def __aenter__(self) -> Publisher:
        self._session = aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run())
        await asyncio.wait_for(self._connected.wait(), 10.0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def publish(self, channel: str, message: Any) -> int | None:
        """Publish and wait for the ack; returns the event's seq.

        Raises:
            PublishRefused: the server refused the event.
        """
        future = await self.publish_nowait(channel, message)
        return await future

    async def publish_nowait(self, channel: str, message: Any) -> asyncio.Future[int | None]:
        """Send without waiting for the ack (only for a free slot); the future resolves
        with the seq, or fails with `PublishRefused`."""
        doc = serde.unstructure(message) if attrs.has(type(message)) else message
        await self._slots.acquire()
        ident = next(self._ids)
        text = json.dumps({"id": ident, "channel": channel, "message": doc})
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending[ident] = (text, future)
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(text)  # else the reconnect sends it
        return future

    async def flush(self) -> None:
        """Wait until every event sent so far is acknowledged (or refused)."""
        futures = [future for _, future in self._pending.values()]
        if futures:
            await asyncio.wait(futures)

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._session is not None:
            await self._session.close()
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the publisher was closed"))

    async def _run(self) -> None:
        attempt = 0
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self._closing:
            try:
                assert self._session is not None
                ws = await self._session.ws_connect(self.url, headers=headers, heartbeat=30.0)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                attempt += 1
                delay = backoff(attempt, self.base_delay, self.max_delay)
                log.info("publish socket failed (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if attempt:
                self.reconnects += 1
            attempt = 0
            await self._resend(ws)
            self._ws = ws  # from here new events go straight out, after the resent ones
            self._connected.set()
            await self._read(ws)
            self._connected.clear()
            self._ws = None
            if ws.close_code == 4001:
                self._fail_all(PublishRefused("unauthorized", "the token cannot publish"))
                return
            attempt = 1
            await asyncio.sleep(backoff(0, self.base_delay, self.max_delay))

    async def _resend(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Every unacknowledged event again, in order, those added meanwhile included."""
        sent: set[int] = set()
        while unsent := [(i, text) for i, (text, _) in self._pending.items() if i not in sent]:
            for ident, text in unsent:
                await ws.send_str(text)
                sent.add(ident)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            doc = json.loads(msg.data)
            entry = self._pending.pop(doc.get("id"), None)
            if entry is None:
                continue  # an ack of an event sent twice, or of nothing we know
            self._slots.release()
            future = entry[1]
            if future.done():
                continue
            if doc.get("type") == "ack":
                future.set_result(doc["seq"][0] if doc.get("seq") else None)
            else:
                code, text = doc.get("error", "refused"), doc.get("message", "")
                future.set_exception(PublishRefused(code, text, doc.get("details")))

    def _fail_all(self, error: BaseException) -> None:
        for ident, (_, future) in list(self._pending.items()):
            self._pending.pop(ident)
            self._slots.release()
            if not future.done():
                future.set_exception(error)
