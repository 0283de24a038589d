"""The read process: hot reads answered by a child process, beside the writer thread."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import attrs
import psutil
import pytest

from devskyy_ws import STORE_KEY, serde
from devskyy_ws.records import TaskRecord
from devskyy_ws.services.tasks import task_row
from devskyy_ws.store.base import Row
from devskyy_ws.store.reader import ReadProcess
from devskyy_ws.store.sqlite import SqliteStore

from .conftest import ClientFactory, auth


def _row(n: int) -> Row:
    task = TaskRecord(task_id=f"task-{n:012x}", agent_type="support", prompt=f"read {n}")
    return task_row(task)


async def test_reads_run_in_a_child_process_and_see_every_acknowledged_write(
    sqlite_store: SqliteStore,
) -> None:
    reader = sqlite_store.reader
    assert reader is not None and reader.alive and reader.pid is not None
    assert reader.pid != os.getpid()
    assert psutil.Process(reader.pid).ppid() == os.getpid()
    reads, writes = reader.calls, sqlite_store.thread.calls
    rows = [_row(n) for n in range(40)]
    for n, row in enumerate(rows):
        assert await sqlite_store.add(row)
        # answered after the commit, so a read sent now, from the other process, sees it
        text = await sqlite_store.get_text("task", f"task-{n:012x}")
        assert text is not None and f'"prompt":"read {n}"' in text
        page = await sqlite_store.list_texts("task", limit=3)
        assert page[0][0] == f"task-{n:012x}"
    assert reader.calls - reads == 80
    assert sqlite_store.thread.calls - writes == 40  # the writes only: no read ran on the thread
    assert await sqlite_store.get_text("task", "task-nope") is None
    assert await sqlite_store.get("task", "task-000000000007") == rows[7].doc


async def test_a_read_never_overtakes_a_write_made_before_it(sqlite_store: SqliteStore) -> None:
    """The write waits in the thread's queue; the read made after it must see it (the
    thread answers in order), not the row the read process would still show."""
    row = _row(1)
    assert await sqlite_store.add(row)
    entered, release = threading.Event(), threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        entered.set()
        release.wait(10)

    assert sqlite_store.reader is not None
    reads = sqlite_store.reader.calls
    held = asyncio.create_task(sqlite_store.thread.call(hold))
    assert await asyncio.to_thread(entered.wait, 10)
    done = attrs.evolve(row, status="completed", doc={**row.doc, "status": "completed"})
    write = asyncio.create_task(sqlite_store.put(done))
    await asyncio.sleep(0)  # the write is queued behind the held call
    read = asyncio.create_task(sqlite_store.get_text("task", row.id))
    await asyncio.sleep(0)  # and the read is made
    release.set()
    await held
    await write
    text = await read
    assert text is not None and '"status":"completed"' in text
    assert sqlite_store.reader.calls == reads  # it was queued behind the write instead
    # with nothing queued, reads go to the read process again, and see the same
    assert await sqlite_store.get_text("task", row.id) == text
    assert sqlite_store.reader.calls == reads + 1


async def test_a_page_larger_than_a_socket_read_arrives_whole(sqlite_store: SqliteStore) -> None:
    """100 tasks with 30 KB prompts: a 3 MB answer crosses the socket in many reads."""
    rows = []
    for n in range(100):
        task = TaskRecord(
            task_id=f"task-{n:012x}", agent_type="support", prompt=f"{n}:" + "x" * 30_000
        )
        rows.append(task_row(task))
    await sqlite_store.put_many(rows)
    assert sqlite_store.reader is not None
    calls = sqlite_store.reader.calls
    page = await asyncio.gather(*(sqlite_store.list_texts("task", limit=100) for _ in range(3)))
    assert page[0] == page[1] == page[2]
    assert len(page[0]) == 100 and sum(len(text) for _, text in page[0]) > 3_000_000
    assert {text for _, text in page[0]} == {serde.dumps(row.doc) for row in rows}
    assert sqlite_store.reader.calls == calls + 3  # all three from the read process


async def test_the_read_process_refuses_writes_and_reports_errors_as_sqlite_does(
    sqlite_store: SqliteStore,
) -> None:
    assert sqlite_store.reader is not None
    assert await sqlite_store.add(_row(1))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await sqlite_store.reader.query("DELETE FROM records", ())
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await sqlite_store.reader.query("SELECT * FROM nowhere", ())
    assert await sqlite_store.get_text("task", "task-000000000001") is not None
    assert sqlite_store.reader.alive  # a failed query leaves the process serving


async def test_reads_in_flight_when_the_read_process_dies_are_answered(
    sqlite_store: SqliteStore,
) -> None:
    """Killed mid-use: every read still gets its right answer (from the sqlite_store thread
    meanwhile), and a new read process takes over."""
    reader = sqlite_store.reader
    assert reader is not None and reader.pid is not None
    for n in range(20):
        assert await sqlite_store.add(_row(n))
    old = reader.pid
    reads = [
        asyncio.create_task(sqlite_store.get_text("task", f"task-{n % 20:012x}"))
        for n in range(200)
    ]
    await asyncio.sleep(0)  # they are sent
    os.kill(old, signal.SIGKILL)
    texts = await asyncio.gather(*reads)
    assert all(t is not None and f'"prompt":"read {n % 20}"' in t for n, t in enumerate(texts))
    # a read after the death noticed it and started a new process
    assert await sqlite_store.get_text("task", "task-000000000003") is not None
    assert sqlite_store._reviving is not None
    await sqlite_store._reviving
    assert reader.alive and reader.pid not in (None, old)
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE
    before = reader.calls
    assert await sqlite_store.list_texts("task", limit=5)
    assert reader.calls == before + 1


async def test_a_read_process_that_cannot_start_leaves_reads_on_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    store = SqliteStore(tmp_path / "n.sqlite3")
    await store.open()
    try:
        assert store.reader is not None and not store.reader.alive
        assert "the read process did not start" in caplog.text
        assert await store.add(_row(9))
        calls = store.thread.calls
        assert await store.get_text("task", "task-000000000009") is not None
        assert store.thread.calls == calls + 1
        assert store._reviving is not None  # it will try again, after a wait
    finally:
        await store.close()
    assert store._reviving is None


async def test_closing_while_a_new_read_process_starts_waits_and_reaps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    assert store.reader is not None and store.reader.pid is not None
    entered, release = threading.Event(), threading.Event()
    spawned: list[subprocess.Popen[bytes]] = []
    real_spawn = ReadProcess._spawn

    def slow_spawn(reader: ReadProcess, fd: int) -> subprocess.Popen[bytes]:
        entered.set()
        release.wait(10)
        spawned.append(real_spawn(reader, fd))
        return spawned[-1]

    monkeypatch.setattr(ReadProcess, "_spawn", slow_spawn)
    store._revive_wait = 0.0
    os.kill(store.reader.pid, signal.SIGKILL)
    assert await store.get_text("task", "task-nope") is None  # notices, starts another
    assert await asyncio.to_thread(entered.wait, 10)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)  # close() has begun: it must wait for the spawn, not cancel it
    release.set()
    await closing
    assert len(spawned) == 1 and spawned[0].returncode == 0  # started, then ended and reaped


async def test_closing_the_store_ends_the_read_process(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.sqlite3")
    await store.open()
    assert store.reader is not None and store.reader._process is not None
    process = store.reader._process
    await store.close()
    assert process.returncode == 0  # it ended on its own when its socket closed
    assert not store.reader.alive


async def test_without_a_read_process_reads_run_on_the_store_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.sqlite3", read_process=False)
    await store.open()
    try:
        assert store.reader is None
        assert await store.add(_row(5))
        calls = store.thread.calls
        assert await store.get_text("task", "task-000000000005") is not None
        assert [i for i, _ in await store.list_texts("task", limit=5)] == ["task-000000000005"]
        assert store.thread.calls == calls + 2
        assert psutil.Process().children() == []
    finally:
        await store.close()


async def test_rest_reads_go_through_the_read_process(make_client: ClientFactory) -> None:
    """Stored tasks (none running, so nothing waits on the store thread) are read over
    REST by the other process; and a task answered 201 is there at once for GET."""
    client = await make_client()
    store = client.app[STORE_KEY]
    assert isinstance(store, SqliteStore) and store.reader is not None
    h = auth(client, "write")
    rows = [_row(n) for n in range(5)]
    for row in rows:
        assert await store.add(row)
    before = store.reader.calls
    listed = await (await client.get("/api/v1/tasks?limit=100", headers=h)).json()
    assert [t["taskId"] for t in listed] == [r.id for r in reversed(rows)]
    one = await (await client.get(f"/api/v1/tasks/{rows[2].id}", headers=h)).json()
    assert one == rows[2].doc
    missing = await client.get("/api/v1/tasks/task-ffffffffffff", headers=h)
    assert missing.status == 404
    assert store.reader.calls == before + 3
    for n in range(10):
        resp = await client.post(
            "/api/v1/tasks", json={"agentType": "support", "prompt": f"rest {n}"}, headers=h
        )
        assert resp.status == 201
        task_id = (await resp.json())["taskId"]
        got = await client.get(f"/api/v1/tasks/{task_id}", headers=h)
        assert got.status == 200 and (await got.json())["taskId"] == task_id


def _cgroup(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "self").write_text(membership)
    return root, tmp_path / "self"


@pytest.mark.parametrize(
    ("membership", "files", "quota"),
    [
        (
            "0::/system.slice/devskyy.service\n",
            {"system.slice/devskyy.service/cpu.max": "150000 100000\n"},
            1.5,
        ),
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),
        (
            "3:cpu,cpuacct:/docker/abc\n2:memory:/docker/abc\n",
            {
                "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n",
                "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
            },
            2.0,
        ),
        (
            "1:cpu:/\n0::/\n",
            {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
            None,
        ),
        ("", {}, None),
    ],
)
def test_cpu_quota_from_cgroup_v2_or_v1(
    tmp_path: Path, membership: str, files: dict[str, str], quota: float | None
) -> None:
    from devskyy_ws.store.reader import cpu_quota, usable_cpus

    root, self_file = _cgroup(tmp_path, membership, files)
    assert cpu_quota(root, self_file) == quota
    cpus = usable_cpus(root, self_file)
    assert cpus == (
        len(os.sched_getaffinity(0)) if quota is None else min(quota, len(os.sched_getaffinity(0)))
    )


def test_auto_runs_the_read_process_only_with_two_cpus_to_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from devskyy_ws.store import reader

    for cpus, auto in ((1, False), (1.5, False), (2, True), (8, True)):
        monkeypatch.setattr(reader, "usable_cpus", lambda cpus=cpus: cpus)
        assert reader.read_process_pays("auto") is auto
        assert reader.read_process_pays("on") is True
        assert reader.read_process_pays("off") is False
