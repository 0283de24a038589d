"""How late the event loop runs, and how much of that the host, not the process, caused.

A timer due every PERIOD wakes late when something kept the loop from running: its own
code, a garbage collection, another thread holding the GIL, a blocking call, or the
kernel, which had the thread ready to run but no CPU to give it (a busy or oversubscribed
host). Linux counts that last part per thread, as run-queue wait in
/proc/thread-self/schedstat, so each tick can subtract it: `blocked` is what the process
did to its own loop, `lag` everything together.

A tick is short (10 ms) so that a stall of more than 10 ms always covers a deadline, and
so that the run-queue wait of one tick is mostly the wait that made it late. A hundred
ticks a second cost 3.6-3.8 ms of CPU a second on an idle loop (0.4% of a core). Time
a hypervisor takes from a virtual machine is not run-queue wait (the guest sees its
thread running), so it counts as blocked.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["PERIOD", "LoopLag", "RunQueueClock", "WaitClock"]

PERIOD = 0.01


class RunQueueClock:
    """Nanoseconds the thread that opened it has spent ready to run but not running.

    `read()` gives None where the kernel does not say (not Linux, or no schedstat).
    """

    def __init__(self) -> None:
        try:  # thread-self resolves now: the descriptor stays with this thread
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def read(self) -> int | None:
        if self._fd is None:
            return None
        try:
            return int(os.pread(self._fd, 128, 0).split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class WaitClock(Protocol):
    def read(self) -> int | None: ...

    def close(self) -> None: ...


class LoopLag:
    """The worst lateness of the loop since the last `take()`, with and without the run-
    queue wait of the same ticks."""

    def __init__(self, period: float = PERIOD, clock: Callable[[], WaitClock] = RunQueueClock):
        self.period = period
        self._clock = clock
        self.measurable = True  # False when the clock has nothing to say at the start
        self.worst_ms = 0.0
        self.worst_blocked_ms = 0.0

    async def watch(self) -> None:
        """Runs until cancelled, on the loop it measures (the clock belongs to its thread).

        perf_counter, not loop.time(): uvloop's clock moves in whole milliseconds. A tick
        whose wait cannot be read counts as blocked for all of its lateness.
        """
        clock = self._clock()
        try:
            waited = clock.read()
            self.measurable = waited is not None
            while True:
                started = time.perf_counter()
                await asyncio.sleep(self.period)
                late_ms = (time.perf_counter() - started - self.period) * 1000.0
                before, waited = waited, clock.read()
                wait_ms = 0.0
                if before is not None and waited is not None:
                    wait_ms = (waited - before) / 1e6
                self.worst_ms = max(self.worst_ms, late_ms)
                self.worst_blocked_ms = max(self.worst_blocked_ms, late_ms - wait_ms)
        finally:
            clock.close()

    def take(self) -> tuple[float, float | None]:
        """(worst lag, worst lag less its run-queue wait, None if unknown) in ms; the next
        window starts."""
        worst, blocked = round(self.worst_ms, 3), round(max(self.worst_blocked_ms, 0.0), 3)
        self.worst_ms = self.worst_blocked_ms = 0.0
        return worst, (blocked if self.measurable else None)
