"""The runner of `python -m devskyy_ws`, seen from the socket's side."""

from __future__ import annotations

import os
import resource
import selectors
import signal
import socket
import time
from pathlib import Path

import pytest

from devskyy_ws.http.runner import BACKLOG

from .server_process import ServerProcess

# Far above aiohttp's default backlog of 128, well below ours and the kernel's cap here.
CONNECTIONS = 600


def _somaxconn() -> int:
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except OSError:
        return 0


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_the_kernel_queues_a_reconnect_storm_while_the_server_is_busy(
    tmp_path: Path, choice: str
) -> None:
    """A stopped server still completes every handshake the listen queue can hold.

    The kernel finishes TCP handshakes on its own and parks them in the accept queue; past
    the queue's length it drops SYNs and clients wait a second or more to retry. With the
    process frozen, how many connects complete is exactly the queue length in force.
    """
    if choice == "uvloop":
        pytest.importorskip("uvloop")
    if _somaxconn() < CONNECTIONS + 1:
        pytest.skip("net.core.somaxconn is below the storm this test opens")
    assert BACKLOG > CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONNECTIONS + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CONNECTIONS + 100), hard))
    with ServerProcess(tmp_path / "data", "--event-loop", choice) as server:
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)
        socks: list[socket.socket] = []
        selector = selectors.DefaultSelector()
        try:
            for _ in range(CONNECTIONS):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", server.port))
                socks.append(sock)
                selector.register(sock, selectors.EVENT_WRITE)
            connected = 0
            deadline = time.monotonic() + 10  # dropped SYNs retry at 1, 3, 7 s: never all
            while connected < CONNECTIONS and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    selector.unregister(key.fileobj)
                    sock = key.fileobj  # type: ignore[assignment]
                    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                    connected += 1
            assert connected == CONNECTIONS
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
            selector.close()
            for sock in socks:
                sock.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert server.terminate() == 0
