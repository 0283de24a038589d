"""An async Python client for the channels: connect, filter, ping, iterate, reconnect.

It reconnects with exponential backoff and full jitter capped at 30 s (the API
document's strategy, without giving up silently: it retries until closed, or raises
`ChannelClosed` for a close that retrying cannot fix, such as 4004 or 4001). After a
reconnect it resumes from the last `seq` it saw; when the server answers
`resync_required`, it asks for a snapshot, so the caller's state is whole again.

```python
async with ChannelClient("http://127.0.0.1:8000", "tasks") as client:
    await client.subscribe({"agent_type": "commerce"})
    async for message in client:
        print(message.type, getattr(message, "status", None))
```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs

from .contract import serde
from .contract.messages import MESSAGE_TYPES, Pong
from .publisher import Publisher, PublishRefused
from .retry import backoff

__all__ = ["ChannelClient", "ChannelClosed", "PublishRefused", "Publisher", "backoff"]

log = logging.getLogger("devskyy_ws.client")

FATAL_CLOSE_CODES = {4001, 4004}


class ChannelClosed(Exception):
    """The server closed the channel for a reason that retrying cannot fix."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"channel closed ({code}): {reason}")
        self.code = code
        self.reason = reason


def parse_message(doc: dict[str, Any]) -> Any:
    """An attrs message for a known type (unknown fields ignored), else the dict."""
    cls = MESSAGE_TYPES.get(doc.get("type", ""))
    if cls is None:
        return doc
    names = {a.name for a in attrs.fields(cls)}
    try:
        return serde.structure({k: v for k, v in doc.items() if k in names}, cls)
    except Exception:
        return doc


class ChannelClient:
    """One channel, kept connected until `close()`.

    Args:
        base_url: ``http(s)://host:port`` (the ws scheme is derived).
        channel: agents, round_table, tasks, 3d_pipeline or metrics.
        token: sent as ``?token=`` when the server requires socket auth.
        resume: replay what was missed across reconnects.
        max_retries: stop after this many failed reconnects (None: never stop).
    """

    def __init__(
        self,
        base_url: str,
        channel: str,
        *,
        token: str | None = None,
        filters: dict[str, Any] | None = None,
        resume: bool = True,
        snapshot: bool = False,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        max_retries: int | None = None,
        ssl: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        scheme = "wss" if base_url.startswith("https") else "ws"
        self.url = f"{scheme}://{base_url.split('://', 1)[-1].rstrip('/')}/api/ws/{channel}"
        self.channel = channel
        self.token = token
        self.filters = filters
        self.resume = resume
        self.want_snapshot = snapshot
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retries = max_retries
        self.ssl = ssl if ssl is not None else True
        self.headers = headers or {}
        self.last_seq: int | None = None
        self.epoch: str | None = None
        self.reconnects = 0
        self.connected = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._pongs: list[asyncio.Future[Pong]] = []
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._error: BaseException | None = None

    @property
    def closing(self) -> bool:
        return self._closing

    async def __aenter__(self) -> ChannelClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout: float = 10.0) -> None:
        """Start the connection loop and wait for the first connection."""
        self._session = aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run())
        waiter = asyncio.create_task(self.connected.wait())
        done, _ = await asyncio.wait(
            {waiter, self._runner}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            if self._error is not None:
                raise self._error
            if self._runner.done() and self._runner.exception() is not None:
                raise ConnectionError(
                    f"could not connect to {self.url}"
                ) from self._runner.exception()
            raise TimeoutError(f"could not connect to {self.url}")

    async def close(self) -> None:
        """A clean close (1000); no reconnect follows."""
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._session is not None:
            await self._session.close()

    # -- commands ------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        await self.connected.wait()
        assert self._ws is not None
        await self._ws.send_str(json.dumps(message))

    async def ping(self, timeout: float = 1.0) -> float:
        """Round trip of a ping, in seconds."""
        started = time.perf_counter()
        future: asyncio.Future[Pong] = asyncio.get_running_loop().create_future()
        self._pongs.append(future)
        await self.send({"type": "ping"})
        await asyncio.wait_for(future, timeout)
        return time.perf_counter() - started

    async def subscribe(self, filters: dict[str, Any]) -> None:
        """Filters are kept and re-sent after every reconnect."""
        self.filters = filters
        await self.send({"type": "subscribe", "filters": filters})

    async def unsubscribe(self) -> None:
        self.filters = None
        await self.send({"type": "unsubscribe"})

    async def request_snapshot(self) -> None:
        await self.send({"type": "snapshot"})

    # -- reading -------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def next(self, timeout: float | None = None) -> Any:
        """The next message (keepalives included), or raise what ended the channel."""
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def _url(self) -> str:
        params: dict[str, str] = {}
        if self.token:
            params["token"] = self.token
        if self.resume and self.last_seq is not None and self.epoch is not None:
            params["since"] = str(self.last_seq)
            params["epoch"] = self.epoch
        elif self.want_snapshot:
            params["snapshot"] = "1"
        if not params:
            return self.url
        return self.url + "?" + "&".join(f"{k}={v}" for k, v in params.items())

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                assert self._session is not None
                self._ws = await self._session.ws_connect(
                    self._url(), heartbeat=30.0, ssl=self.ssl, headers=self.headers
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                status = getattr(exc, "status", None)
                if status in (401, 403, 404):
                    self._fail(ChannelClosed(status, f"handshake refused ({status})"))
                    return
                attempt += 1
                if self.max_retries is not None and attempt > self.max_retries:
                    self._fail(
                        ChannelClosed(None, f"gave up after {attempt - 1} reconnects ({exc})")
                    )
                    return
                delay = backoff(attempt, self.base_delay, self.max_delay)
                log.info("connect to %s failed (%s); retrying in %.2fs", self.url, exc, delay)
                await asyncio.sleep(delay)
                continue
            if attempt or self.reconnects:
                self.reconnects += 1
            attempt = 0
            if self.filters is not None:
                await self._ws.send_str(json.dumps({"type": "subscribe", "filters": self.filters}))
            self.connected.set()
            code, reason = await self._read(self._ws)
            self.connected.clear()
            if self.closing:  # close() ran while we were reading
                return
            if code in FATAL_CLOSE_CODES:
                self._fail(ChannelClosed(code, reason))
                return
            attempt = 1
            await asyncio.sleep(backoff(0, self.base_delay, self.max_delay))

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._queue.put_nowait(error)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
        """Read until the socket ends; returns the close code and reason."""
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE:
                await ws.close()
                return int(msg.data), str(msg.extra or "")
            if msg.type in (
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.ERROR,
            ):
                return ws.close_code, "connection lost"
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                doc = json.loads(msg.data)
            except ValueError:
                continue
            kind = doc.get("type")
            seq, epoch = doc.get("seq"), doc.get("epoch")
            if isinstance(seq, int) and isinstance(epoch, str) and kind != "snapshot":
                if epoch == self.epoch and self.last_seq is not None and seq <= self.last_seq:
                    continue  # already seen (replay overlap)
                self.epoch, self.last_seq = epoch, seq
            if kind == "snapshot":
                self.epoch, self.last_seq = doc.get("epoch"), doc.get("seq")
            message = parse_message(doc)
            if kind == "pong":
                while self._pongs:
                    future = self._pongs.pop(0)
                    if not future.done():
                        future.set_result(message)
                        break
            if kind == "resync_required":
                self.last_seq = None
                await ws.send_str(json.dumps({"type": "snapshot"}))
            self._queue.put_nowait(message)
