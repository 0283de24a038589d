"""The Redis backplane: one Redis Stream per channel, read once per instance.

Why streams and not pub/sub: a stream keeps the last `--history-size` entries, so an
instance whose Redis connection drops reads on from its last stream ID when it is back
(no loss, no duplicate), and a reconnecting client can be replayed from Redis on any
instance. Pub/sub forgets everything said while a subscriber was away.

Order: a small Lua script increments the channel's counter and appends the entry with
the stream ID `<seq>-1` in one atomic step, so every instance sees the same seq for the
same message, in the same order. The channel's epoch lives in Redis too, so it survives
a server restart (and changes only when Redis itself lost the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..contract.messages import CHANNELS
from .brokers import Deliver, Ingest, new_epochs, stamp
from .frames import Entry, text_frame

__all__ = ["RedisBroker"]

log = logging.getLogger("devskyy_ws.redis")

_PUBLISH = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'd', ARGV[1])
return seq
"""
_TAKE = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(saved[1]) or burst
tokens = math.min(burst, tokens + (now - (tonumber(saved[2]) or now)) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""
OUTBOX_LIMIT = 10_000
GROUP = "devskyy"  # one consumer group: every instance shares it, so each entry is taken once


class RedisBroker:
    """Args:
    url: ``redis://host:port/db``; ``?prefix=name`` namespaces every key (tests use it).
    """

    def __init__(self, url: str, *, history_size: int = 1000, block_ms: int = 1000) -> None:
        query = parse_qs(urlsplit(url).query)
        self.prefix = query.get("prefix", ["devskyy"])[0]
        self.url = url.split("?", 1)[0]
        self.history_size = max(history_size, 1)
        self.block_ms = block_ms
        self._redis: Any = None  # redis-py types do not follow decode_responses
        self.seqs: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.epochs = new_epochs()  # replaced by the ones kept in Redis at start
        self._deliver: Deliver | None = None
        self._ingest: Ingest | None = None
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.ingested = 0
        self.ingest_refused = 0
        self._readers: list[asyncio.Task[None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque()
        self._waiters: dict[tuple[str, int], asyncio.Future[int]] = {}
        self._delivered: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._healthy = False
        self._down_since: float | None = None
        self._script: Any = None
        self._take: Any = None
        self.buckets_shared = True  # False while Redis cannot keep the rate-limit buckets

    @property
    def ingest_key(self) -> str:
        """The stream producers in any language `XADD` events to (fields `channel`,
        `message`: a JSON object)."""
        return f"{self.prefix}:ingest"

    def _key(self, kind: str, channel: str) -> str:
        return f"{self.prefix}:{kind}:{channel}"

    @property
    def healthy(self) -> bool:
        return self._healthy

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, deliver: Deliver, ingest: Ingest) -> None:
        self._deliver = deliver
        self._ingest = ingest
        self._redis = aioredis.from_url(
            self.url, decode_responses=True, client_name=f"devskyy:{self.prefix}"
        )
        self._script = self._redis.register_script(_PUBLISH)
        self._take = self._redis.register_script(_TAKE)
        await self._redis.ping()  # readiness only once the broker answers
        self._healthy = True
        last_ids: dict[str, str] = {}
        for channel in CHANNELS:
            self.epochs[channel] = await self._epoch(channel)
            last = await self._redis.xrevrange(self._key("ch", channel), count=1)
            last_ids[channel] = last[0][0] if last else "0-0"
            self.seqs[channel] = int(last_ids[channel].split("-")[0])
        self._readers = [asyncio.create_task(self._read(c, last_ids[c])) for c in CHANNELS]
        with contextlib.suppress(ResponseError):  # BUSYGROUP: another instance made it
            await self._redis.xgroup_create(self.ingest_key, GROUP, id="$", mkstream=True)
        self._readers.append(asyncio.create_task(self._consume_ingest()))
        self._flusher = asyncio.create_task(self._flush_outbox())

    async def stop(self) -> None:
        for task in [*self._readers, *([self._flusher] if self._flusher else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _epoch(self, channel: str) -> str:
        assert self._redis is not None
        key = self._key("epoch", channel)
        await self._redis.set(key, secrets.token_hex(4), nx=True)
        return str(await self._redis.get(key))

    def _down(self, exc: BaseException) -> None:
        if self._healthy:
            log.error("Redis broker down (%s); publishes wait in the outbox", type(exc).__name__)
            self._down_since = time.monotonic()
        self._healthy = False

    def _up(self) -> None:
        if not self._healthy:
            outage = time.monotonic() - (self._down_since or time.monotonic())
            log.warning("Redis broker back after %.1fs", outage)
        self._healthy = True

    # -- publishing ----------------------------------------------------------------
    async def publish(self, channel: str, doc: dict[str, Any]) -> tuple[int | None, int]:
        """Append to the stream; (seq, local deliveries) once this instance read it back.
        During an outage the message waits in the outbox, unnumbered: (None, 0)."""
        return (await self.publish_many(channel, [doc]))[0]

    async def publish_many(
        self, channel: str, docs: Sequence[dict[str, Any]]
    ) -> list[tuple[int | None, int]]:
        """Appends in one round trip, in one MULTI/EXEC: no other publish comes between
        them and every reader gets them in one read, so a batch leaves each socket in one
        write. Then waits (up to 5 s) until this instance has read them back."""
        if self._outbox or not self._healthy:
            return self._enqueue(channel, docs)
        try:
            if len(docs) == 1:
                seqs = [int(await self._append(channel, docs[0]))]
            else:
                pipe = self._redis.pipeline(transaction=True)
                for doc in docs:
                    await self._append(channel, doc, pipe)
                seqs = [int(seq) for seq in await pipe.execute()]
        except (RedisError, OSError) as exc:
            self._down(exc)
            return self._enqueue(channel, docs)
        loop = asyncio.get_running_loop()
        waiting: dict[int, asyncio.Future[int]] = {}
        for seq in seqs:
            if (channel, seq) not in self._delivered:  # else the reader was quicker than us
                self._waiters[(channel, seq)] = waiting[seq] = loop.create_future()
        try:
            if waiting:
                await asyncio.wait(waiting.values(), timeout=5.0)
        finally:
            for seq in waiting:
                self._waiters.pop((channel, seq), None)
        return [(seq, self._delivered_to(channel, seq, waiting.get(seq))) for seq in seqs]

    def _delivered_to(self, channel: str, seq: int, future: asyncio.Future[int] | None) -> int:
        if future is not None:
            return future.result() if future.done() else 0  # not read back within 5 s
        return self._delivered.get((channel, seq), 0)

    async def _append(self, channel: str, doc: dict[str, Any], client: Any = None) -> Any:
        assert self._script is not None
        return await self._script(
            keys=[self._key("ch", channel), self._key("seq", channel)],
            args=[json.dumps(doc, separators=(",", ":")), self.history_size],
            client=client,
        )

    def _enqueue(
        self, channel: str, docs: Sequence[dict[str, Any]]
    ) -> list[tuple[int | None, int]]:
        """Hold `docs` in the outbox, unnumbered, until Redis takes them."""
        for doc in docs:
            if len(self._outbox) >= OUTBOX_LIMIT:
                dropped = self._outbox.popleft()
                log.error("outbox full: dropped the oldest message on %s", dropped[0])
            self._outbox.append((channel, doc))
        return [(None, 0)] * len(docs)

    async def _flush_outbox(self) -> None:
        """Send what was published during an outage, in publish order."""
        while True:
            if not self._outbox:
                await asyncio.sleep(0.05)
                continue
            channel, doc = self._outbox[0]
            try:
                await self._append(channel, doc)
            except (RedisError, OSError) as exc:
                self._down(exc)
                await asyncio.sleep(0.2)
                continue
            self._outbox.popleft()

    # -- reading -------------------------------------------------------------------
    async def _read(self, channel: str, last_id: str) -> None:
        assert self._redis is not None
        assert self._deliver is not None
        key = self._key("ch", channel)
        attempt = 0
        while True:
            try:
                answer = await self._redis.xread({key: last_id}, block=self.block_ms, count=500)
                self._up()
                attempt = 0
            except (RedisError, OSError) as exc:
                self._down(exc)
                attempt += 1
                await asyncio.sleep(min(5.0, 0.05 * 2**attempt))
                with contextlib.suppress(RedisError, OSError):
                    epoch = await self._epoch(channel)
                    if epoch != self.epochs[channel]:  # Redis lost the stream: a new history
                        self.epochs[channel] = epoch
                        last_id = "0-0"
                continue
            for _, entries in answer or []:
                run = []
                for entry_id, fields in entries:
                    last_id = entry_id
                    seq = int(entry_id.split("-")[0])
                    self.seqs[channel] = max(self.seqs[channel], seq)
                    run.append((seq, stamp(json.loads(fields["d"]), seq, self.epochs[channel])))
                for (seq, _), delivered in zip(run, self._deliver(channel, run), strict=True):
                    waiter = self._waiters.get((channel, seq))
                    if waiter is not None and not waiter.done():
                        waiter.set_result(delivered)
                    self._delivered[(channel, seq)] = delivered
                    if len(self._delivered) > 1024:
                        self._delivered.popitem(last=False)

    async def take_tokens(
        self, key: str, rate: float, burst: int, cost: int
    ) -> tuple[bool, float] | None:
        """Take `cost` tokens from the bucket every instance shares under `key`, in one
        atomic step; None when Redis cannot answer (the caller uses its own buckets)."""
        if self._take is None:
            return None
        try:
            allowed, left = await self._take(
                keys=[f"{self.prefix}:bucket:{key}"], args=[rate, burst, cost]
            )
        except (RedisError, OSError) as exc:
            if self.buckets_shared:
                log.warning("rate-limit buckets are local while Redis is unreachable (%s)", exc)
            self.buckets_shared = False
            return None
        self.buckets_shared = True
        return bool(allowed), float(left)

    async def _consume_ingest(self) -> None:
        """Take entries of the ingest stream, once across all instances, and publish them.

        Every entry is acknowledged, published or not: one that cannot be published is
        logged with the reason and counted, never retried forever.
        """
        assert self._redis is not None
        attempt = 0
        while True:
            try:
                answer = await self._redis.xreadgroup(
                    GROUP, self.consumer, {self.ingest_key: ">"}, count=100, block=self.block_ms
                )
                attempt = 0
            except (RedisError, OSError) as exc:
                self._down(exc)
                attempt += 1
                await asyncio.sleep(min(5.0, 0.05 * 2**attempt))
                continue
            for _, entries in answer or []:
                await self._ingest_read(entries)

    async def _ingest_read(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        """One read: the good entries published in order as one batch, each bad one
        logged and counted with its reason, all acknowledged in one XACK."""
        assert self._redis is not None
        assert self._ingest is not None
        fields = [(f.get("channel"), f.get("message")) for _, f in entries]
        try:
            refusals = await self._ingest(fields)
        except Exception:
            self.ingest_refused += len(entries)
            log.exception("ingest of entries %s to %s failed", entries[0][0], entries[-1][0])
        else:
            for (entry_id, _), refusal in zip(entries, refusals, strict=True):
                if refusal is None:
                    self.ingested += 1
                else:
                    self.ingest_refused += 1
                    log.warning("ingest entry %s refused: %s", entry_id, refusal)
        with contextlib.suppress(RedisError, OSError):
            await self._redis.xack(self.ingest_key, GROUP, *(entry_id for entry_id, _ in entries))

    async def history_since(self, channel: str, since: int) -> list[Entry] | None:
        """Entries after `since` from the stream, or None when the stream lost them."""
        assert self._redis is not None
        try:
            rows = await self._redis.xrange(
                self._key("ch", channel), min=f"{since + 1}-0", max="+", count=self.history_size
            )
        except (RedisError, OSError):
            return None
        if not rows or int(rows[0][0].split("-")[0]) != since + 1:
            return None
        epoch, now = self.epochs[channel], time.monotonic()
        out = []
        for entry_id, fields in rows:
            seq = int(entry_id.split("-")[0])
            out.append(Entry(seq, text_frame(stamp(json.loads(fields["d"]), seq, epoch)), now))
        return out
