"""Command line: `serve` (the default) and `token`; the options are in options.py.

A bad value names the option and exits with code 2, never a traceback; a dependency
that is down at start-up is one log line and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from typing import Any

import attrs

from .options import build_parser, settings_from_args
from .settings import Settings

__all__ = ["build_parser", "main", "settings_from_args"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "token"):
        argv.insert(0, "serve")  # serve is the default, --help included: its flags matter
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "token":
        return _token(parser, args)
    return _serve(parser, args)


def _token(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .http.auth import JwtKeys

    settings = settings_from_args(parser, args, serve=False)
    if _would_invent_a_secret(settings) and not args.new_secret:
        parser.error(
            f"no server has run with --data-dir {settings.data_dir.resolve()} (no jwt-secret "
            "or database there): give the server's --data-dir, or --new-secret to make one"
        )
    try:
        keys = JwtKeys.from_settings(settings)
        print(keys.mint(args.sub, args.scope, args.ttl))
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    return 0


def _would_invent_a_secret(settings: Settings) -> bool:
    """`token` in a directory no server uses would sign with a new secret of its own,
    and the server would refuse that token: the classic first-run 401."""
    from .http.auth import SECRET_FILE

    if settings.jwt_secret is not None or settings.jwt_public_key is not None:
        return False
    if (settings.data_dir / SECRET_FILE).exists() or settings.database is not None:
        return False
    return not (settings.data_dir / "devskyy.sqlite3").exists()


def token_command(settings: Settings) -> str:
    """The exact command that mints a token this server accepts."""
    if settings.jwt_public_key is not None:
        return "(tokens come from your identity provider: --jwt-public-key is set)"
    command = f"{sys.executable} -m devskyy_ws token --data-dir {settings.data_dir.resolve()}"
    suffix = " (with the same --jwt-secret)" if settings.jwt_secret is not None else ""
    return f"{command} --sub you --scope write{suffix}"


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:

    from .app import create_app

    settings = settings_from_args(parser, args, serve=True)
    _raise_file_limit()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        loop = new_event_loop(settings.event_loop)
        app = create_app(settings)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:
        _run(app, settings, loop)
    except Exception as exc:  # a dependency that is down at start-up: say so, no traceback
        logging.getLogger("devskyy_ws").error("could not start: %s (%s)", exc, type(exc).__name__)
        return 1
    return 0


def _raise_file_limit() -> None:
    """Every socket is a file descriptor: take the hard limit, thousands of clients need it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


GC_THRESHOLDS = (10_000, 10, 10)


async def _freeze_startup_objects(_: Any) -> None:
    """Move everything start-up built out of the collector's reach.

    A full collection walks every live object; over the ~50,000 that imports and the
    app leave behind it took 8-10 ms on the benchmark machine, long enough to show as
    event-loop lag under load. They live for the whole process, so only objects made
    later are worth collecting. Done by the command only: an embedding host decides
    about its own process.

    Then the young generation is allowed 10,000 objects instead of 700: a request's
    objects are alive while it is in flight, so with 32 in flight the default thresholds
    promoted them and ran 2.5-6 ms older-generation collections several times a second
    under the REST benchmark's POSTs; with these, none over 2 ms while it ran.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """uvloop when asked for or, on auto, when installed: it served 7-20% more REST
    requests on the benchmark machine (docs/benchmarks.md).

    Raises:
        ValueError: uvloop asked for but not installed.
    """
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ValueError(
                    "--event-loop uvloop: uvloop is not installed (pip install 'devskyy-ws[speed]')"
                ) from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _run(app: Any, settings: Settings, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Bind, then start: a port in use is refused before start-up says ready.

    Raises:
        OSError: the address cannot be bound.
    """
    from .http.runner import bind, serve

    sock = bind(settings.host, settings.port, settings.reuse_port)
    loop = loop or asyncio.new_event_loop()
    kind = "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else shown  # noqa: S104 - shown, not bound

    def announce() -> None:
        print(
            f"devskyy_ws listening on http://{shown}:{port} ({kind})\n"
            f"  dashboard:      http://{local}:{port}/\n"
            f"  API reference:  http://{local}:{port}/api/docs\n"
            f"  a token:        {token_command(settings)}",
            file=sys.stderr,
            flush=True,
        )

    app.on_startup.append(_freeze_startup_objects)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(app, sock, settings.shutdown_grace, announce))
    finally:
        sock.close()
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def settings_dict(settings: Settings) -> dict[str, Any]:
    return attrs.asdict(settings)
