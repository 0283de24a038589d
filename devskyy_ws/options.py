"""The command line's options: every setting's flag, its environment twin, and how a
value is checked. Flags win over environment variables, which win over defaults; a bad
value names the option and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .settings import Settings, parse_networks

__all__ = ["COMMON_OPTIONS", "SERVE_OPTIONS", "build_parser", "settings_from_args"]

DESCRIPTION = (
    "Run the devskyy_ws server (serve, the default) or print a signed token (token). "
    "Every flag has an environment-variable twin."
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _number(kind: Callable[[str], Any], low: float | None = None) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from exc
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text!r}")
        return value

    return parse


def _port(text: str) -> int:
    value = _number(int, 0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text!r}")
    return int(value)


def _networks(text: str) -> str:
    try:
        parse_networks(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a CIDR list: {exc}") from exc
    return text


def _level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


# (flag, env var, settings field, type, help)
SERVE_OPTIONS: list[tuple[str, str, str, Callable[[str], Any], str]] = [
    ("--host", "DEVSKYY_HOST", "host", str, "address to listen on (127.0.0.1)"),
    ("--port", "DEVSKYY_PORT", "port", _port, "port to listen on (8000)"),
    ("--reuse-port", "DEVSKYY_REUSE_PORT", "reuse_port", _bool, "SO_REUSEPORT for several workers"),
    (
        "--event-loop",
        "DEVSKYY_EVENT_LOOP",
        "event_loop",
        _choice("auto", "asyncio", "uvloop"),
        "auto (uvloop when installed, see docs/benchmarks.md), asyncio or uvloop",
    ),
    ("--cors-origins", "DEVSKYY_CORS_ORIGINS", "cors_origins", str, "comma-separated origins"),
    (
        "--public-origin",
        "DEVSKYY_PUBLIC_ORIGIN",
        "public_origins",
        str,
        "origin(s) browsers load this server's pages from, e.g. https://ops.example.com"
        " (default: the address and port a connection reaches)",
    ),
    ("--trusted-proxies", "DEVSKYY_TRUSTED_PROXIES", "trusted_proxies", _networks, "CIDR list"),
    ("--log-level", "DEVSKYY_LOG_LEVEL", "log_level", _level, "DEBUG, INFO, WARNING, ERROR"),
    ("--environment", "DEVSKYY_ENVIRONMENT", "environment", str, "named by /health (production)"),
    ("--keepalive", "DEVSKYY_KEEPALIVE", "keepalive", _number(float, 0.001), "seconds (25)"),
    ("--heartbeat", "DEVSKYY_HEARTBEAT", "heartbeat", _number(float, 0.001), "ping seconds"),
    (
        "--metrics-interval",
        "DEVSKYY_METRICS_INTERVAL",
        "metrics_interval",
        _number(float, 0.001),
        "seconds between metrics_update messages (5)",
    ),
    (
        "--max-connections",
        "DEVSKYY_MAX_CONNECTIONS",
        "max_connections",
        _number(int, 1),
        "live sockets over all channels (20000)",
    ),
    (
        "--max-connections-per-ip",
        "DEVSKYY_MAX_CONNECTIONS_PER_IP",
        "max_connections_per_ip",
        _number(int, 1),
        "live sockets per client address (5000)",
    ),
    (
        "--send-buffer",
        "DEVSKYY_SEND_BUFFER",
        "send_buffer_bytes",
        _number(int, 1024),
        "bytes a client may lag before 4008 (1 MiB)",
    ),
    (
        "--ws-compression",
        "DEVSKYY_WS_COMPRESSION",
        "ws_compression",
        _bool,
        "accept permessage-deflate (off; see docs/benchmarks.md)",
    ),
    ("--ws-auth", "DEVSKYY_WS_AUTH", "ws_auth", str, "off, optional or required"),
    (
        "--ws-inbound-rate",
        "DEVSKYY_WS_INBOUND_RATE",
        "ws_inbound_rate",
        _number(float, 0),
        "messages per second a client may send on one socket, 0 = off (50)",
    ),
    (
        "--ws-inbound-burst",
        "DEVSKYY_WS_INBOUND_BURST",
        "ws_inbound_burst",
        _number(int, 1),
        "messages a client may send at once before the rate applies (200)",
    ),
    (
        "--ws-auth-grace",
        "DEVSKYY_WS_AUTH_GRACE",
        "ws_auth_grace",
        _number(float, 0.01),
        "seconds an unauthenticated socket may stay in required mode (5)",
    ),
    (
        "--handshake-rate",
        "DEVSKYY_HANDSHAKE_RATE",
        "handshake_rate",
        _number(float, 0),
        "WebSocket upgrades per second per address, 0 = off (200)",
    ),
    (
        "--handshake-burst",
        "DEVSKYY_HANDSHAKE_BURST",
        "handshake_burst",
        _number(int, 1),
        "WebSocket upgrade burst per address (2000)",
    ),
    (
        "--history-size",
        "DEVSKYY_HISTORY_SIZE",
        "history_size",
        _number(int, 0),
        "messages kept per channel for resume (1000)",
    ),
    (
        "--history-bytes",
        "DEVSKYY_HISTORY_BYTES",
        "history_bytes",
        _number(int, 1),
        "frame bytes kept per channel for resume (4 MiB)",
    ),
    (
        "--history-ttl",
        "DEVSKYY_HISTORY_TTL",
        "history_ttl",
        _number(float, 0.001),
        "seconds kept per channel for resume (300)",
    ),
    (
        "--max-concurrent-tasks",
        "DEVSKYY_MAX_CONCURRENT_TASKS",
        "max_concurrent_tasks",
        _number(int, 1),
        "tasks run at once (8)",
    ),
    (
        "--shutdown-grace",
        "DEVSKYY_SHUTDOWN_GRACE",
        "shutdown_grace",
        _number(float, 0),
        "seconds running work may finish on shutdown (5)",
    ),
    ("--max-body", "DEVSKYY_MAX_BODY", "max_body_bytes", _number(int, 1), "bytes (1 MiB)"),
    (
        "--rate-limit",
        "DEVSKYY_RATE_LIMIT",
        "rate_limit",
        _number(float, 0),
        "REST requests per second per client, 0 = off (20)",
    ),
    ("--rate-burst", "DEVSKYY_RATE_BURST", "rate_burst", _number(int, 1), "REST burst (60)"),
    (
        "--publish-rate",
        "DEVSKYY_PUBLISH_RATE",
        "publish_rate",
        _number(float, 0),
        "published events per second per producer, 0 = off (5000)",
    ),
    (
        "--publish-burst",
        "DEVSKYY_PUBLISH_BURST",
        "publish_burst",
        _number(int, 1),
        "published events a producer may send at once (10000)",
    ),
    (
        "--asset-retention",
        "DEVSKYY_ASSET_RETENTION",
        "asset_retention",
        _number(float, 0),
        "seconds a local 3D asset is kept, 0 = for ever (30 days)",
    ),
    (
        "--asset-max-bytes",
        "DEVSKYY_ASSET_MAX_BYTES",
        "asset_max_bytes",
        _number(int, 0),
        "bytes of local 3D assets kept, oldest removed first, 0 = no bound (1 GiB)",
    ),
    ("--agents-file", "DEVSKYY_AGENTS_FILE", "agents_file", _existing_file, "TOML roster"),
    (
        "--providers-file",
        "DEVSKYY_PROVIDERS_FILE",
        "providers_file",
        _existing_file,
        "TOML LLM providers",
    ),
    (
        "--metrics-require-token",
        "DEVSKYY_METRICS_REQUIRE_TOKEN",
        "metrics_require_token",
        _bool,
        "require a token on /metrics",
    ),
    ("--broker", "DEVSKYY_BROKER", "broker", str, "memory:// or redis://host:port/db"),
    ("--database", "DEVSKYY_DATABASE", "database", str, "sqlite:///path or postgresql://..."),
    (
        "--instance-id",
        "DEVSKYY_INSTANCE_ID",
        "instance_id",
        str,
        "stable name of this instance (host:port)",
    ),
    (
        "--task-lease",
        "DEVSKYY_TASK_LEASE",
        "task_lease",
        _number(float, 0.1),
        "seconds before another instance fails a dead instance's running tasks (15)",
    ),
]

COMMON_OPTIONS: list[tuple[str, str, str, Callable[[str], Any], str]] = [
    ("--data-dir", "DEVSKYY_DATA_DIR", "data_dir", str, "data directory (./devskyy-data)"),
    ("--jwt-secret", "DEVSKYY_JWT_SECRET", "jwt_secret", str, "HS256 secret"),
    (
        "--jwt-public-key",
        "DEVSKYY_JWT_PUBLIC_KEY",
        "jwt_public_key",
        _existing_file,
        "PEM key: RS256/ES256 tokens from an identity provider",
    ),
    (
        "--jwt-private-key",
        "DEVSKYY_JWT_PRIVATE_KEY",
        "jwt_private_key",
        _existing_file,
        "PEM key for minting RS256/ES256 tokens",
    ),
    ("--jwt-algorithm", "DEVSKYY_JWT_ALGORITHM", "jwt_algorithm", str, "override the algorithm"),
    ("--jwt-audience", "DEVSKYY_JWT_AUDIENCE", "jwt_audience", str, "required aud claim"),
    ("--jwt-issuer", "DEVSKYY_JWT_ISSUER", "jwt_issuer", str, "required iss claim"),
]


def _add(
    parser: argparse.ArgumentParser, options: Sequence[tuple[str, str, str, Any, str]]
) -> None:
    for flag, env, field, kind, help_text in options:
        parser.add_argument(flag, dest=field, type=kind, default=None, help=f"{help_text} [{env}]")


class OneLineErrors(argparse.ArgumentParser):
    """A bad option or setting is one line on stderr and exit code 2, not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="python -m devskyy_ws", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser(
        "serve",
        help="run the server (the default)",
        description=DESCRIPTION + " This is serve; `token --help` shows the other command.",
    )
    _add(serve, SERVE_OPTIONS + COMMON_OPTIONS)
    token = sub.add_parser("token", help="print a signed JWT and nothing else")
    _add(token, COMMON_OPTIONS)
    token.add_argument("--sub", required=True, help="the token's subject")
    token.add_argument(
        "--new-secret",
        action="store_true",
        help="make a new secret in a data dir no server has used (its tokens fit no server yet)",
    )
    token.add_argument(
        "--scope",
        default="read",
        help="read, write, admin or publish (a producer: it publishes, nothing else)",
    )
    token.add_argument("--ttl", type=_number(int, 1), default=12 * 3600, help="seconds (43200)")
    return parser


def _env_value(parser: argparse.ArgumentParser, flag: str, env: str, kind: Any) -> Any:
    raw = os.environ.get(env)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"argument {flag} (from {env}): {exc}")


def settings_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, serve: bool
) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    values: dict[str, Any] = {}
    options = (SERVE_OPTIONS if serve else []) + COMMON_OPTIONS
    for flag, env, field, kind, _ in options:
        value = getattr(args, field, None)
        if value is None:
            value = _env_value(parser, flag, env, kind)
        if value is None:
            continue
        if field == "cors_origins":
            value = tuple(o.strip() for o in value.split(",") if o.strip())
        values[field] = value
    if values.get("ws_auth") not in (None, "off", "optional", "required"):
        parser.error("argument --ws-auth: must be off, optional or required")
    try:
        return Settings(**values)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
