"""RFC 6455 §5.1: a server must close the connection on an unmasked client frame.

aiohttp's frame reader unmasks when a mask is present and accepts frames without one.
`MaskedSocketResponse` puts a small header scanner in front of that reader: it follows
frame boundaries (lengths only, payloads are not touched) and turns the first unmasked
frame into a protocol error, which aiohttp answers with close code 1002. The cost is a
few integer operations per inbound frame; it leans on aiohttp's `_post_start` and the
protocol's `_payload_parser`, checked by tests/test_abuse.py on every upgrade.
"""

from __future__ import annotations

from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

__all__ = ["MaskedFramesOnly", "MaskedSocketResponse"]

_EMPTY: tuple[bool, bytes] = (False, b"")


class MaskedFramesOnly:
    """Feeds aiohttp's WebSocket reader, refusing the stream at its first unmasked frame."""

    def __init__(self, inner: Any, queue: Any) -> None:
        self._inner = inner
        self._queue = queue
        self._head = b""  # an incomplete frame header carried to the next chunk
        self._skip = 0  # payload bytes of the current frame still to come
        self._failed = False

    def _unmasked_at(self, data: bytes) -> int:
        """Where in `data` the first unmasked frame starts, or -1 when there is none."""
        carried = len(self._head)
        buf = self._head + data if carried else data
        pos, end = self._skip, len(buf)
        while pos + 2 <= end:
            second = buf[pos + 1]
            if not second & 0x80:
                return max(0, pos - carried)
            length = second & 0x7F
            extra = 2 if length == 126 else 8 if length == 127 else 0
            if pos + 6 + extra > end:
                break
            if extra:
                length = int.from_bytes(buf[pos + 2 : pos + 2 + extra], "big")
            pos += 6 + extra + length
        if pos >= end:
            self._skip, self._head = pos - end, b""
        else:
            self._skip, self._head = 0, buf[pos:]
        return -1

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._failed:
            return _EMPTY
        data = bytes(data)
        bad = self._unmasked_at(data)
        if bad < 0:
            result: tuple[bool, bytes] = self._inner.feed_data(data)
            return result
        self._failed = True
        if bad:  # the frames before it are the client's and are answered
            self._inner.feed_data(data[:bad])
        self._queue.set_exception(
            WebSocketError(WSCloseCode.PROTOCOL_ERROR, "client frames must be masked")
        )
        return _EMPTY

    def feed_eof(self) -> None:
        self._inner.feed_eof()


class MaskedSocketResponse(web.WebSocketResponse):
    """A WebSocketResponse whose reader refuses unmasked client frames."""

    def _post_start(self, request: web.BaseRequest, protocol: Any, writer: Any) -> None:
        # Bytes that came with the handshake go through the scanner too, so it starts
        # on a frame boundary.
        handler = request.protocol
        tail, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        scanner = MaskedFramesOnly(handler._payload_parser, self._reader)
        handler._payload_parser = scanner
        if tail:
            scanner.feed_data(tail)
