"""The real client address and scheme, trusting X-Forwarded-* only from known proxies.

aiohttp ignores forwarding headers by design; anyone can send them, so they count only
when the direct peer is in `--trusted-proxies`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from ..settings import Network

__all__ = ["client_address", "client_scheme"]

_ADDR: web.RequestKey[str] = web.RequestKey("devskyy_client_address", str)


def _is_trusted(address: str | None, trusted: Sequence[Network]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: web.Request, trusted: Sequence[Network]) -> str:
    """The first untrusted hop from the right of X-Forwarded-For, or the peer itself."""
    cached: str | None = request.get(_ADDR)
    if cached is not None:
        return cached
    peer = request.remote or "unknown"
    address = peer
    if _is_trusted(peer, trusted):
        hops = [
            h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
        ]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            address = hop
            if not _is_trusted(hop, trusted):
                break
    request[_ADDR] = address
    return address


def client_scheme(request: web.Request, trusted: Sequence[Network]) -> str:
    if _is_trusted(request.remote, trusted):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return request.scheme
