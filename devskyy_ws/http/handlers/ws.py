"""The channel endpoint `/api/ws/{channel}`: upgrade, then read client messages.

Writing to the socket is the hub's business; this handler only admits the connection,
applies what the client asks for, and detaches it when the socket ends.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from collections.abc import Collection

import attrs
from aiohttp import WSMsgType, web

from ...channels.connection import Connection
from ...channels.hub import Hub
from ...channels.protocol import (
    Auth,
    ClientCommand,
    Ping,
    ProtocolError,
    Resume,
    SnapshotRequest,
    Subscribe,
    Unsubscribe,
    parse_client_message,
    parse_position,
)
from ...contract.messages import (
    CHANNELS,
    Authenticated,
    ErrorMessage,
    Pong,
    ResyncRequired,
    Snapshot,
    Subscribed,
    Unsubscribed,
)
from ...keys import HANDSHAKE_KEY, HUB_KEY, JWT_KEY, ORIGINS_KEY, SETTINGS_KEY
from ..auth import AuthError, public
from ..errors import ApiError
from ..liveness import PatientSocketResponse
from ..proxy import client_address
from ..ratelimit import Allowance

__all__ = ["channel_socket", "replay", "send_snapshot"]

log = logging.getLogger("devskyy_ws.ws")


def warn(conn: Connection, message: str) -> None:
    conn.hub.stats[conn.channel].errors += 1
    conn.send(ErrorMessage(error_type="warning", message=message))


async def replay(conn: Connection, since: int, epoch: str | None) -> None:
    """Send what the client missed, or `resync_required` when that is not possible."""
    hub = conn.hub
    current = hub.epochs[conn.channel]
    if epoch is not None and epoch != current:
        reason = "epoch changed: the server's history for this channel started over"
        _resync(conn, reason)
        return
    entries = await hub.replay(conn.channel, since, conn.live_from)
    if entries is None:
        _resync(conn, "the requested position is older than the kept history")
        return
    for entry in entries:
        if conn.filters is None or conn.wants(entry.doc):
            conn.send_frame(entry.frame)  # a kept frame is written as it is


def _resync(conn: Connection, reason: str) -> None:
    hub = conn.hub
    history = hub.history[conn.channel]
    conn.send(
        ResyncRequired(
            channel=conn.channel,
            reason=reason,
            epoch=hub.epochs[conn.channel],
            oldest_seq=history[0].seq if history else None,
            latest_seq=hub.seqs[conn.channel],
        )
    )


def send_snapshot(conn: Connection) -> None:
    """State and seq are read in one step, so snapshot + live has no gap."""
    hub = conn.hub
    state = hub.snapshot_state(conn.channel)
    conn.send(
        Snapshot(
            channel=conn.channel,
            state=state,
            seq=hub.seqs[conn.channel],
            epoch=hub.epochs[conn.channel],
        )
    )


@attrs.define
class Asked:
    """A resume and a snapshot the client asked for, held while its socket is muted.

    In required mode nothing of a channel's data reaches a socket before its token
    does: what it asked for in the query string or in messages is served right after
    a token is accepted, and never if none is.
    """

    resume: Resume | None = None
    snapshot: bool = False


async def serve_asked(conn: Connection, asked: Asked) -> None:
    if conn.muted or conn.closed:
        return
    resume, snapshot = asked.resume, asked.snapshot
    asked.resume, asked.snapshot = None, False
    if resume is not None:
        await replay(conn, resume.since, resume.epoch)
    if snapshot:
        send_snapshot(conn)


def _authenticate(request: web.Request, conn: Connection, token: str) -> bool:
    try:
        claims = request.app[JWT_KEY].verify(token)
    except AuthError as exc:
        if request.app[SETTINGS_KEY].ws_auth == "required":
            conn.close_soon(4001, "invalid token")
        else:
            warn(conn, f"authentication failed: {exc}")
        return False
    conn.authenticated = True
    conn.subject = claims.sub
    conn.token_exp = float(claims.exp)
    if conn.muted:  # live messages start now; a held resume replays up to here
        conn.live_from = conn.hub.seqs[conn.channel]
        conn.muted = False
    conn.send(Authenticated(sub=claims.sub, exp=claims.exp))
    return True


async def _guard_auth(conn: Connection, grace: float) -> None:
    """Required mode: no token within the grace period, or an expired one, closes 4001."""
    deadline = time.time() + grace
    while not conn.closed:
        if not conn.authenticated:
            if time.time() >= deadline:
                conn.close_soon(4001, "authentication required")
                return
            await asyncio.sleep(min(0.25, max(0.01, deadline - time.time())))
            continue
        exp = conn.token_exp or 0.0
        if time.time() >= exp:
            conn.close_soon(4001, "token expired")
            return
        await asyncio.sleep(min(1.0, max(0.01, exp - time.time())))


async def _apply(
    request: web.Request, conn: Connection, command: ClientCommand, asked: Asked
) -> None:
    if isinstance(command, Ping):
        conn.send(Pong())
    elif isinstance(command, Subscribe):
        conn.filters = command.filters
        if command.conflate is not None:
            conn.conflate = command.conflate
        conn.send(Subscribed(filters=command.raw))
    elif isinstance(command, Unsubscribe):
        conn.filters = None
        conn.send(Unsubscribed())
    elif isinstance(command, Resume):
        asked.resume = command
        await serve_asked(conn, asked)
    elif isinstance(command, SnapshotRequest):
        asked.snapshot = True
        await serve_asked(conn, asked)
    elif isinstance(command, Auth) and _authenticate(request, conn, command.token):
        await serve_asked(conn, asked)


async def _on_connect(request: web.Request, conn: Connection, asked: Asked) -> None:
    query = request.query
    settings = request.app[SETTINGS_KEY]
    if settings.ws_auth == "required":
        conn.muted = True
        conn.hub.spawn(_guard_auth(conn, settings.ws_auth_grace))
    token = query.get("token")
    if token:
        _authenticate(request, conn, token)
    if "since" in query:
        try:
            asked.resume = parse_position(query.get("since"), query.get("epoch"))
        except ProtocolError as exc:
            warn(conn, str(exc))
    asked.snapshot = query.get("snapshot") in ("1", "true")
    conn.conflate = query.get("conflate") in ("1", "true")
    await serve_asked(conn, asked)


_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def own_origins(request: web.Request) -> Collection[str]:
    """The origins this server's own pages are served from.

    `--public-origin` when set; otherwise the address and port the connection really
    reached (never the `Host` header, which a DNS-rebinding page controls), with the
    loopback names when that address is loopback.
    """
    configured = request.app[SETTINGS_KEY].public_origins
    if configured:
        return configured
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return ()
    host, port = sockname[0], sockname[1]
    address = ipaddress.ip_address(host.split("%")[0])
    names = [f"[{host}]" if address.version == 6 else host]
    if address.is_loopback:
        names.extend(_LOOPBACK_NAMES)
    return {f"http://{name}:{port}" for name in names}


def _same_origin(request: web.Request, origin: str | None) -> bool:
    """The dashboard this server serves connects from its own origin."""
    return bool(origin) and str(origin).rstrip("/").lower() in own_origins(request)


def _admit(request: web.Request, hub: Hub) -> str:
    settings = request.app[SETTINGS_KEY]
    origin = request.headers.get("Origin")
    if not _same_origin(request, origin) and not request.app[ORIGINS_KEY].allows_upgrade(origin):
        raise ApiError(403, "origin_not_allowed", f"Origin {origin!r} may not open WebSockets.")
    if hub.active >= settings.max_connections:
        raise ApiError(503, "too_many_connections", "The server is at its connection limit.")
    address = client_address(request, settings.trusted_proxies)
    if hub.count_from(address) >= settings.max_connections_per_ip:
        raise ApiError(429, "too_many_connections", "Too many connections from this address.")
    buckets = request.app[HANDSHAKE_KEY]
    if buckets is not None:
        allowed, _, wait = buckets.take("ws:" + address)
        if not allowed:
            raise ApiError(
                429,
                "too_many_handshakes",
                "Too many WebSocket connections opened from this address; slow down.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
    return address


@public
async def channel_socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    settings = request.app[SETTINGS_KEY]
    address = _admit(request, hub)
    ws = PatientSocketResponse(
        heartbeat=settings.effective_heartbeat,
        max_msg_size=settings.max_message_bytes + 1,  # aiohttp refuses a size equal to it
        compress=settings.ws_compression,
        timeout=2.0,
        autoping=False,  # protocol pings count against the inbound limit too
    )
    await ws.prepare(request)
    channel = request.match_info["channel"]
    if channel not in CHANNELS:
        await ws.close(code=4004, message=b"Invalid channel name")
        return ws
    conn = Connection(hub, channel, ws, request, address)
    hub.attach(conn)
    try:
        await _read(request, conn, ws)
    except Exception:  # never an HTTP 500 written into an upgraded stream
        log.exception("channel socket on %s from %s failed", channel, address)
        await conn.close(1011, "internal error")
    finally:
        hub.detach(conn)
    return ws


async def _read(request: web.Request, conn: Connection, ws: web.WebSocketResponse) -> None:
    settings = request.app[SETTINGS_KEY]
    stats = conn.hub.stats[conn.channel]
    asked = Asked()
    allowance = Allowance(settings.ws_inbound_rate, settings.ws_inbound_burst)
    await _on_connect(request, conn, asked)
    async for msg in ws:
        stats.received += 1
        if not allowance.take():
            stats.errors += 1
            log.warning("closing %s socket from %s: inbound flood", conn.channel, conn.address)
            await conn.close(1008, "too many messages")
            return
        if msg.type is WSMsgType.TEXT:
            try:
                command = parse_client_message(msg.data)
            except ProtocolError as exc:
                warn(conn, str(exc))
                continue
            await _apply(request, conn, command, asked)
        elif msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type is WSMsgType.BINARY:
            warn(conn, "binary frames are not supported; send JSON text")
        elif msg.type is WSMsgType.ERROR:
            stats.errors += 1
            return
