"""A real `python -m devskyy_ws` process, for tests that need one.

Unless given a port, the server binds port 0 and the port it got is read from its
"listening on" line: no free port is looked up, released and bound again (a race with
anything else on the machine)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

LISTENING = re.compile(r"devskyy_ws listening on http://[^\s]+:(\d+) ")


class ServerProcess:
    """Start, wait for readiness, stop; the log is kept for assertions."""

    def __init__(
        self, data_dir: Path, *args: str, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or 0  # the bound port once started
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{port or 'any'}-{id(self)}.log"
        self._log: IO[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devskyy_ws",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            listening = LISTENING.findall(self.log())  # this process, not another on the port
            if not listening:
                time.sleep(0.05)
                continue
            self.port = int(listening[-1])
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def token(self, scope: str = "admin", sub: str = "tests", ttl: int | None = None) -> str:
        secret: list[str] = []
        if "--jwt-secret" in self.args:
            secret = ["--jwt-secret", self.args[self.args.index("--jwt-secret") + 1]]
        command = [sys.executable, "-m", "devskyy_ws", "token", "--sub", sub, "--scope", scope]
        command += ["--data-dir", str(self.data_dir), *secret]
        if ttl is not None:
            command += ["--ttl", str(ttl)]
        out = subprocess.run(command, check=True, capture_output=True, env=self.env)
        return out.stdout.decode().strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never leave a stuck server behind
            self.proc.wait(timeout=10)
            raise
        finally:
            self._close_log()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
