"""A WebSocket peer is dead when it neither answers a ping nor takes our data.

aiohttp closes a socket whose pong is later than heartbeat/2. A dashboard on a slow link
reads its backlog in order, so the ping waits behind that backlog and the pong comes late
while the peer is reading all along: it was closed as dead before conflation or 4008
could apply. Before closing, `PatientSocketResponse` asks the kernel how many bytes the
peer has acknowledged (`TCP_INFO`, Linux): if that moved since the ping, the peer gets
another pong window. A peer that takes nothing is closed as before, a backlog past the
send buffer still gets 4008, and where `TCP_INFO` is missing nothing changes. It leans on
aiohttp's `_send_heartbeat` / `_pong_not_received`, checked by tests/test_liveness.py.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from .masking import MaskedSocketResponse

__all__ = ["PatientSocketResponse", "peer_bytes_acked"]

_TCP_INFO: int | None = getattr(socket, "TCP_INFO", None)  # Linux's
_BYTES_ACKED = slice(120, 128)  # struct tcp_info: __u64 tcpi_bytes_acked (Linux >= 4.1)


def peer_bytes_acked(transport: Any) -> int | None:
    """Bytes of ours the peer has acknowledged so far, or None where the kernel won't say."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if _TCP_INFO is None or sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except (OSError, AttributeError):  # not TCP (a Unix socket), or a closed one
        return None
    if len(info) < _BYTES_ACKED.stop:
        return None
    return int.from_bytes(info[_BYTES_ACKED], sys.byteorder)


class PatientSocketResponse(MaskedSocketResponse):
    """The server's WebSocket response: masked client frames only, and patient with a
    peer that is still taking its backlog when the pong is due."""

    _acked_at_ping: int | None = None

    def _send_heartbeat(self) -> None:
        self._acked_at_ping = self._peer_acked()
        super()._send_heartbeat()

    def _pong_not_received(self) -> None:
        acked, before = self._peer_acked(), self._acked_at_ping
        loop = self._loop
        if acked is not None and before is not None and acked > before and loop is not None:
            self._acked_at_ping = acked
            self._pong_response_cb = loop.call_later(self._pong_heartbeat, self._pong_not_received)
            return
        super()._pong_not_received()

    def _peer_acked(self) -> int | None:
        request = self._req
        return peer_bytes_acked(request.transport if request is not None else None)
