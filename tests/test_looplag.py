"""The loop-lag probe: lateness, and lateness less the time the kernel gave no CPU."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable

import pytest

from devskyy_ws.services.looplag import LoopLag, RunQueueClock

linux_only = pytest.mark.skipif(
    not os.path.exists("/proc/thread-self/schedstat"), reason="needs Linux schedstat"
)


class FakeClock:
    """Run-queue wait the test decides, in nanoseconds."""

    def __init__(self, ns: int | None = 0) -> None:
        self.ns = ns

    def read(self) -> int | None:
        return self.ns

    def close(self) -> None:
        pass


async def _stall(lag: LoopLag, seconds: float, then: Callable[[], None] | None = None) -> None:
    """Block the loop the probe runs on, then let its late tick be counted."""
    await asyncio.sleep(0)  # the probe is now inside a tick
    lag.take()
    time.sleep(seconds)  # noqa: ASYNC251  # the point: the loop cannot run
    if then is not None:
        then()
    for _ in range(1000):  # the overdue timer runs within a few loop turns
        if lag.worst_ms > 0:
            return
        await asyncio.sleep(0)
    raise AssertionError("the probe never woke")


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@linux_only
async def test_a_blocking_call_is_lag_and_blocked(running: list[asyncio.Task[None]]) -> None:
    lag = LoopLag()
    running.append(asyncio.create_task(lag.watch()))
    await _stall(lag, 0.06)
    worst, blocked = lag.take()
    assert worst >= 45.0
    assert blocked is not None and blocked >= 45.0  # asleep, not waiting for a CPU
    assert lag.take() == (0.0, 0.0)  # each take starts a new window


async def test_waiting_for_a_cpu_is_lag_but_not_blocked(
    running: list[asyncio.Task[None]],
) -> None:
    clock = FakeClock()
    lag = LoopLag(clock=lambda: clock)
    running.append(asyncio.create_task(lag.watch()))

    def the_kernel_kept_us_waiting() -> None:
        assert clock.ns is not None
        clock.ns += 60_000_000

    await _stall(lag, 0.06, then=the_kernel_kept_us_waiting)
    worst, blocked = lag.take()
    assert worst >= 45.0
    assert blocked is not None and blocked < 15.0


async def test_without_a_clock_blocked_is_unknown(running: list[asyncio.Task[None]]) -> None:
    lag = LoopLag(clock=lambda: FakeClock(None))
    running.append(asyncio.create_task(lag.watch()))
    await _stall(lag, 0.03)
    worst, blocked = lag.take()
    assert worst >= 15.0
    assert blocked is None


@linux_only
def test_the_run_queue_clock_counts_time_without_a_cpu() -> None:
    """This thread and a spinning process share one CPU: the kernel makes this thread
    wait for it, and the clock shows the wait."""
    cpu = min(os.sched_getaffinity(0))
    allowed = os.sched_getaffinity(0)
    spin = (
        "import os, sys, time\n"
        f"os.sched_setaffinity(0, {{{cpu}}})\n"
        "print('ready', flush=True)\n"
        "end = time.monotonic() + 5\n"
        "while time.monotonic() < end: pass\n"
    )
    clock = RunQueueClock()
    with subprocess.Popen(
        [sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True
    ) as spinner:
        try:
            assert spinner.stdout is not None and spinner.stdout.readline() == "ready\n"
            os.sched_setaffinity(0, {cpu})
            before = clock.read()
            end = time.monotonic() + 0.4
            while time.monotonic() < end:
                pass  # keep wanting the CPU the spinner holds
            after = clock.read()
        finally:
            os.sched_setaffinity(0, allowed)
            spinner.kill()
            clock.close()
    assert before is not None and after is not None
    assert (after - before) / 1e6 > 50.0  # about half of 400 ms when they take turns
