"""Reads in a process of their own: the task list and single reads off the server's GIL.

The store thread's reads and the event loop share one GIL. Under load the loop holds it
for whole waves of requests, so the thread gets it back only when the loop goes idle:
the two take turns, and the process stays on one core (docs/benchmarks.md). A child
process with its own connection answers reads on the other core while the loop goes on,
and WAL lets it read beside the writer. Writes stay on the store thread, which is what
makes a 201 durable; a read sent after a write was answered starts a read transaction
of its own, so it sees that write (and while a write is still unanswered, the store
sends reads to the thread, behind it: sqlite.py).

The child is this file run by path, stdlib only (`-I -S`: no site, no environment), so
it starts in milliseconds and cannot pick up anything from the host. It ends when its
socket closes, which is also what happens when the server dies. Frames are a 4-byte
length and a `marshal` payload: both ends are the same interpreter, and the payloads are
tuples of str, float and None.

It pays only with a second CPU to run on: pinned to one core, the socket round trip
made the list 0.68-0.87x and a single read 0.68-0.73x as fast as reading on the store
thread (docs/benchmarks.md). So by default ("auto") it runs only when the process may
use two CPUs or more, by its affinity and its cgroup's CPU quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import marshal
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

__all__ = ["ReadProcess", "ReaderGone", "cpu_quota", "query", "read_process_pays", "usable_cpus"]

_HEAD = struct.Struct("!I")
_RECV = 1 << 16


_CGROUPS = Path("/sys/fs/cgroup")
_MEMBERSHIP = Path("/proc/self/cgroup")


def usable_cpus(cgroups: Path = _CGROUPS, membership: Path = _MEMBERSHIP) -> float:
    """CPUs this process may use: its affinity, or less under a cgroup CPU quota (what
    `docker run --cpus` and systemd's `CPUQuota=` set)."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on this platform (macOS)
        cpus = os.cpu_count() or 1
    quota = cpu_quota(cgroups, membership)
    return cpus if quota is None else min(cpus, quota)


def cpu_quota(cgroups: Path = _CGROUPS, membership: Path = _MEMBERSHIP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (v2 `cpu.max`, else v1 CFS), or
    None when there is none or it cannot be read."""
    try:
        lines = membership.read_text().splitlines()
        paths = dict(line.split(":", 2)[1:] for line in lines if line.count(":") >= 2)
    except (OSError, ValueError):
        paths = {}
    v2 = cgroups / paths.get("", "/").lstrip("/") / "cpu.max"
    v1 = next((cgroups / k / v.lstrip("/") for k, v in paths.items() if "cpu" in k.split(",")),
              cgroups / "cpu")  # fmt: skip
    try:
        limit, period = v2.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            limit = (v1 / "cpu.cfs_quota_us").read_text().strip()
            period = (v1 / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if limit in ("max", "-1"):
        return None
    try:
        return int(limit) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


def read_process_pays(choice: str) -> bool:
    """Whether to run a read process for the `--sqlite-read-process` choice."""
    if choice == "auto":
        return usable_cpus() >= 2
    return choice == "on"


class ReaderGone(sqlite3.OperationalError):
    """The read process is not there (not started, stopped, or died); read elsewhere."""


def query(db: sqlite3.Connection, sql: str, params: Sequence[Any], first: bool) -> Any:
    """One read: every row as a tuple, or with `first` the first column of the first row
    (None when there is none). The child and the store thread both read through this."""
    cursor = db.execute(sql, params)
    if not first:
        return cursor.fetchall()
    row = cursor.fetchone()
    cursor.close()  # ends the read transaction now, not when the cursor is collected
    return None if row is None else row[0]


def _frames(buffer: bytearray) -> tuple[list[Any], int]:
    """The complete frames at the start of `buffer`, decoded, and the bytes they took."""
    decoded, pos, end = [], 0, len(buffer)
    while end - pos >= 4:
        (size,) = _HEAD.unpack_from(buffer, pos)
        if end - pos - 4 < size:
            break
        # a socketpair between this process and its own child: no one else writes here
        decoded.append(marshal.loads(buffer[pos + 4 : pos + 4 + size]))  # noqa: S302
        pos += 4 + size
    return decoded, pos


def _frame(payload: Any) -> bytes:
    data = marshal.dumps(payload)
    return _HEAD.pack(len(data)) + data


class _Answers(asyncio.Protocol):
    """The parent's end of the socket: answers matched to waiting calls by number."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        answers, used = _frames(self._buffer)
        del self._buffer[:used]
        for number, ok, value in answers:
            future = self.waiting.pop(number, None)
            if future is None or future.done():  # its caller was cancelled
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_error(*value))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(ReaderGone("the read process went away"))


def _error(kind: str, message: str) -> Exception:
    """The child's exception as the same sqlite3 class, so callers handle both alike."""
    cls = getattr(sqlite3, kind, None)
    if isinstance(cls, type) and issubclass(cls, sqlite3.Error):
        return cls(message)
    return sqlite3.DatabaseError(f"{kind}: {message}")


class ReadProcess:
    """A child process that answers read-only queries on its own connection.

    Args:
        path: the SQLite file; it must exist (the writer creates and migrates it first).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0  # answered or failed, for tests and benchmarks
        self._answers: _Answers | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._next = 0

    @property
    def alive(self) -> bool:
        return self._answers is not None and self._answers.transport is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Spawn the child (fork and exec off the loop's thread) and connect to it; a
        child from an earlier start is stopped first."""
        await self.stop()
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            try:
                self._process = await loop.run_in_executor(None, self._spawn, theirs.fileno())
            finally:
                theirs.close()
            _, self._answers = await loop.create_connection(_Answers, sock=ours)
        except BaseException:
            ours.close()
            await self.stop()
            raise

    def _spawn(self, fd: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - this interpreter, this file, our own path
            [sys.executable, "-I", "-S", __file__, str(fd), str(self.path)],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
        )

    async def query(self, sql: str, params: Sequence[Any], *, first: bool = False) -> Any:
        """`query(db, sql, params, first)` in the child.

        Raises:
            ReaderGone: there is no child to ask, or it died before answering.
            sqlite3.Error: the query failed there.
        """
        answers = self._answers
        if answers is None or answers.transport is None:
            raise ReaderGone("the read process is not running")
        self._next += 1
        number = self._next
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        answers.waiting[number] = future
        answers.transport.write(_frame((number, sql, tuple(params), first)))
        try:
            return await future
        finally:
            self.calls += 1
            answers.waiting.pop(number, None)

    async def stop(self) -> None:
        """Close the socket (the child ends at its EOF); kill it if it is still there
        after 5 s."""
        if self._answers is not None and self._answers.transport is not None:
            self._answers.transport.close()
        self._answers = None
        process, self._process = self._process, None
        if process is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, process.wait, 5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.get_running_loop().run_in_executor(None, process.wait)


# -- the child -----------------------------------------------------------------------
def serve(fd: int, path: str) -> None:
    """Answer frames until the socket closes; every frame read in one go is answered
    in one write."""
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the server
    # drains on them, and keeps reading here while it does; its closing socket ends this.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA query_only=ON")  # a write sent here by mistake fails, not lands
    db.execute("PRAGMA busy_timeout=5000")
    buffer = bytearray()
    with contextlib.suppress(OSError), contextlib.closing(db), sock:
        while chunk := sock.recv(_RECV):
            buffer += chunk
            calls, used = _frames(buffer)
            del buffer[:used]
            out = []
            for number, sql, params, first in calls:
                try:
                    out.append(_frame((number, True, query(db, sql, params, first))))
                except Exception as exc:
                    out.append(_frame((number, False, (type(exc).__name__, str(exc)))))
            if out:
                sock.sendall(b"".join(out))


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
