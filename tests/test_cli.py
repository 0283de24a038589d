"""The command line, for real: serve as a subprocess, mint a token, call the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

from devskyy_ws.cli import build_parser, settings_from_args

from .server_process import ServerProcess


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devskyy_ws", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_serve_mint_and_call_authenticated_endpoint(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server:
        token = server.token("write", sub="cli-user")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == "cli-user" and claims["scope"] == "write"
        assert claims["exp"] - claims["iat"] == 12 * 3600
        request = urllib.request.Request(
            f"{server.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.loads(resp.read())["sub"] == "cli-user"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{server.base}/api/v1/auth/me", timeout=5)
        assert info.value.code == 401
        info.value.close()
        started = time.monotonic()
        assert server.terminate() == 0
        assert time.monotonic() - started < 10


def test_token_prints_only_the_token(tmp_path: Path) -> None:
    out = _run(
        "token", "--sub", "me", "--scope", "admin", "--ttl", "60", "--data-dir", str(tmp_path),
        "--new-secret",
    )  # fmt: skip
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and lines[0].count(".") == 2
    claims = jwt.decode(lines[0], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    assert ((tmp_path / "jwt-secret").stat().st_mode & 0o777) == 0o600


def test_token_will_not_invent_a_secret_no_server_uses(tmp_path: Path) -> None:
    out = _run("token", "--sub", "me", "--data-dir", str(tmp_path / "elsewhere"))
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--new-secret" in lines[0] and "elsewhere" in lines[0]
    assert not (tmp_path / "elsewhere" / "jwt-secret").exists()


def test_configured_secret_wins(tmp_path: Path) -> None:
    out = _run(
        "token", "--sub", "me", "--data-dir", str(tmp_path), env={"DEVSKYY_JWT_SECRET": "s" * 40}
    )
    jwt.decode(out.stdout.strip(), "s" * 40, algorithms=["HS256"])
    assert not (tmp_path / "jwt-secret").exists()


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "abc"], {}, "--port"),
        (["--port", "70000"], {}, "--port"),
        (["--keepalive", "-1"], {}, "--keepalive"),
        (["--trusted-proxies", "10.0.0.0/99"], {}, "--trusted-proxies"),
        (["--log-level", "LOUD"], {}, "--log-level"),
        ([], {"DEVSKYY_PORT": "eighty"}, "DEVSKYY_PORT"),
        (["--ws-auth", "maybe"], {}, "--ws-auth"),
        (["--event-loop", "trio"], {}, "--event-loop"),
    ],
)
def test_bad_values_exit_2_naming_the_option(
    args: list[str], env: dict[str, str], named: str
) -> None:
    out = _run(*args, env=env)
    assert out.returncode == 2
    assert named in out.stderr
    assert "Traceback" not in out.stderr


def test_env_twins_and_flags_build_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSKYY_PORT", "9001")
    monkeypatch.setenv("DEVSKYY_CORS_ORIGINS", "https://a.example, https://*.b.example")
    parser = build_parser()
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--keepalive", "0.5"])
    settings = settings_from_args(parser, args, serve=True)
    assert settings.port == 9001 and settings.host == "0.0.0.0"
    assert settings.keepalive == 0.5
    assert settings.cors_origins == ("https://a.example", "https://*.b.example")


def test_event_loop_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from devskyy_ws.cli import new_event_loop

    uvloop = pytest.importorskip("uvloop")
    for choice, kind in (("auto", uvloop.Loop), ("uvloop", uvloop.Loop), ("asyncio", None)):
        loop = new_event_loop(choice)
        try:
            if kind is None:
                assert not isinstance(loop, uvloop.Loop)
            else:
                assert isinstance(loop, kind)
        finally:
            loop.close()
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    loop = new_event_loop("auto")
    assert not isinstance(loop, uvloop.Loop)
    loop.close()
    with pytest.raises(ValueError, match="uvloop is not installed"):
        new_event_loop("uvloop")


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_serves_on_either_event_loop(tmp_path: Path, choice: str) -> None:
    """Signals, threads and shutdown work the same on both loops."""
    if choice == "uvloop":
        pytest.importorskip("uvloop")
    with ServerProcess(tmp_path / "data", "--event-loop", choice) as server:
        assert f"({choice})" in server.log()
        token = server.token("write")
        request = urllib.request.Request(
            f"{server.base}/api/v1/tasks",
            data=json.dumps({"agentType": "support", "prompt": "hello"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 201
        assert server.terminate() == 0


@pytest.mark.parametrize("command", ["serve", "token"])
@pytest.mark.parametrize(
    ("secret_file", "flags", "named"),
    [
        ("", [], "jwt-secret"),  # an empty secret file
        ("short", [], "jwt-secret"),
        (None, ["--jwt-secret", "a"], "--jwt-secret"),
        (None, ["--jwt-secret", "x" * 31], "--jwt-secret"),
    ],
)
def test_short_hs256_secrets_refuse_to_start_in_one_line(
    tmp_path: Path, command: str, secret_file: str | None, flags: list[str], named: str
) -> None:
    if secret_file is not None:
        (tmp_path / "jwt-secret").write_text(secret_file)
    extra = ["--sub", "me"] if command == "token" else ["--port", "0"]
    out = _run(command, "--data-dir", str(tmp_path), *flags, *extra)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "32 bytes" in lines[0], out.stderr
    assert out.stdout == ""  # no token, no "ready"


def test_bad_flags_are_one_line(tmp_path: Path) -> None:
    out = _run("--port", "not-a-port", "--data-dir", str(tmp_path))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "--port" in out.stderr


def test_a_port_in_use_fails_before_saying_ready_and_shutdown_says_one_line(
    tmp_path: Path,
) -> None:
    with ServerProcess(tmp_path / "first") as first:
        out = _run("--port", str(first.port), "--data-dir", str(tmp_path / "second"))
        assert out.returncode == 1
        assert "Address already in use" in out.stderr and "could not start" in out.stderr
        assert "devskyy_ws ready" not in out.stderr and "listening" not in out.stderr
        assert first.terminate() == 0
        stopped = [line for line in first.log().splitlines() if "stopped" in line]
        assert len(stopped) == 1 and stopped[0].endswith("devskyy_ws stopped")


def test_start_up_names_the_dashboard_the_reference_and_a_working_token_command(
    tmp_path: Path,
) -> None:
    with ServerProcess(tmp_path / "data") as server:
        log = server.log()
        assert f"dashboard:      http://127.0.0.1:{server.port}/" in log
        assert f"API reference:  http://127.0.0.1:{server.port}/api/docs" in log
        line = next(x for x in log.splitlines() if "a token:" in x)
        command = line.split("a token:", 1)[1].split()
        assert command[0] == sys.executable and str((tmp_path / "data").resolve()) in command
        minted = subprocess.run(
            command, capture_output=True, text=True, timeout=30, check=True, cwd="/"
        ).stdout.strip()  # from any directory: the command names the data dir
        request = urllib.request.Request(
            f"{server.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {minted}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.loads(resp.read())["sub"] == "you"


def test_top_level_help_shows_the_serve_flags() -> None:
    out = _run("--help")
    assert out.returncode == 0
    assert "--port" in out.stdout and "--data-dir" in out.stdout and "token" in out.stdout
