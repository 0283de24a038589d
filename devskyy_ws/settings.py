"""All server settings in one frozen attrs class.

The CLI builds it from flags and environment variables; an embedding host builds it in
code. Nothing reads the environment after this point, so two apps in one process can
run with different settings.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

import attrs

__all__ = ["DEFAULT_CORS_ORIGINS", "Settings", "normalize_origins", "parse_networks"]

DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "http://localhost:3000",
    "https://devskyy-dashboard.vercel.app",
    "https://*.vercel.app",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str | list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """Parse a comma-separated CIDR list (plain addresses are /32 or /128).

    Raises:
        ValueError: an entry is not an address or network.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def normalize_origins(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`scheme://host[:port]`, lower-cased, without a trailing slash.

    Raises:
        ValueError: an entry is not of that form.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (i.strip().rstrip("/").lower() for i in items):
        if not item:
            continue
        scheme, sep, rest = item.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise ValueError(f"public origin must look like https://host[:port], not {item!r}")
        out.append(item)
    return tuple(out)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value!r}")


def _port(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {value!r}")


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the server can be told. Defaults give a working offline server."""

    host: str = "127.0.0.1"
    port: int = attrs.field(default=8000, validator=_port)
    data_dir: Path = attrs.field(default=Path("devskyy-data"), converter=Path)
    log_level: str = "INFO"
    environment: str = "production"  # reported by /health, e.g. staging
    reuse_port: bool = False
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"  # for `python -m devskyy_ws`

    # Authentication (REST always; WebSockets per ws_auth).
    jwt_secret: str | None = None
    jwt_public_key: Path | None = None
    jwt_private_key: Path | None = None
    jwt_algorithm: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    ws_auth: Literal["off", "optional", "required"] = "off"
    ws_auth_grace: float = attrs.field(default=5.0, validator=_positive)
    # Upgrades per second per address. An office behind one NAT address (hundreds of
    # dashboards, five channels each) reconnects at once after a deploy: the burst holds
    # 400 dashboards' sockets, the rate refills it in ten seconds.
    handshake_rate: float = attrs.field(default=200.0, validator=_non_negative)
    handshake_burst: int = attrs.field(default=2_000, validator=_positive)
    metrics_require_token: bool = False

    # HTTP edge.
    cors_origins: tuple[str, ...] = attrs.field(default=DEFAULT_CORS_ORIGINS, converter=tuple)
    public_origins: tuple[str, ...] = attrs.field(default=(), converter=normalize_origins)
    trusted_proxies: tuple[Network, ...] = attrs.field(default=(), converter=parse_networks)
    max_body_bytes: int = attrs.field(default=1024 * 1024, validator=_positive)
    rate_limit: float = attrs.field(default=20.0, validator=_non_negative)
    rate_burst: int = attrs.field(default=60, validator=_positive)
    # Producers' events per second per token subject (POST /api/v1/events), apart from the
    # dashboards' REST limit: a busy worker publishes thousands a second.
    publish_rate: float = attrs.field(default=5000.0, validator=_non_negative)
    publish_burst: int = attrs.field(default=10_000, validator=_positive)

    # WebSockets.
    keepalive: float = attrs.field(default=25.0, validator=_positive)
    heartbeat: float | None = None
    # Room for a deploy's reconnect storm: 10,000 dashboards coming back while 10,000 stay
    # (a rolling restart of two instances). An idle socket costs ~24 KB, so ~480 MB full.
    max_connections: int = attrs.field(default=20_000, validator=_positive)
    max_connections_per_ip: int = attrs.field(default=5_000, validator=_positive)
    max_message_bytes: int = attrs.field(default=65_536, validator=_positive)
    send_buffer_bytes: int = attrs.field(default=1024 * 1024, validator=_positive)
    ws_compression: bool = False
    ws_inbound_rate: float = attrs.field(default=50.0, validator=_non_negative)
    ws_inbound_burst: int = attrs.field(default=200, validator=_positive)
    history_size: int = attrs.field(default=1_000, validator=_non_negative)
    history_ttl: float = attrs.field(default=300.0, validator=_positive)
    history_bytes: int = attrs.field(default=4 * 1024 * 1024, validator=_positive)

    # Work.
    metrics_interval: float = attrs.field(default=5.0, validator=_positive)
    max_concurrent_tasks: int = attrs.field(default=8, validator=_positive)
    shutdown_grace: float = attrs.field(default=5.0, validator=_non_negative)
    agents_file: Path | None = None
    providers_file: Path | None = None
    task_step_delay: float = attrs.field(default=0.05, validator=_non_negative)
    asset_retention: float = attrs.field(default=30 * 24 * 3600.0, validator=_non_negative)
    asset_max_bytes: int = attrs.field(default=1024**3, validator=_non_negative)

    # Scale-out back ends.
    broker: str = "memory://"
    database: str | None = None
    instance_id: str | None = None
    task_lease: float = attrs.field(default=15.0, validator=_positive)

    @property
    def effective_instance_id(self) -> str:
        """Stable across restarts, so an instance recovers its own work and no one else's."""
        import socket

        return self.instance_id or f"{socket.gethostname()}:{self.port}"

    @property
    def effective_heartbeat(self) -> float:
        """Protocol pings find dead peers; by default as often as keepalives."""
        return self.heartbeat if self.heartbeat is not None else self.keepalive

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'devskyy.sqlite3'}"
