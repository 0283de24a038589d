"""Tasks REST section end to end, with the tasks channel watching."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ClientFactory, auth
from .fakes.openai import FakeOpenAI
from .helpers import collect_until


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI().start()
    yield fake
    await fake.close()


def providers_file(tmp_path: Path, fake: FakeOpenAI, **extra: object) -> Path:
    lines = [
        "[[providers]]",
        'name = "fake"',
        'kind = "openai"',
        f'base_url = "{fake.base_url}"',
        'model = "fake-model"',
        'api_key_env = "DEVSKYY_TEST_FAKE_KEY"',
        "input_price_per_1k = 0.01",
        "output_price_per_1k = 0.02",
        "backoff_base = 0.001",
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    path = tmp_path / "providers.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_submit_returns_201_in_camel_case(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post(
        "/api/v1/tasks",
        json={
            "agentType": "commerce",
            "prompt": "Analyze pricing trends",
            "parameters": {},
            "useRoundTable": False,
        },
        headers=auth(client, "write"),
    )
    assert resp.status == 201
    task = await resp.json()
    assert re.fullmatch(r"task-[0-9a-f]{12}", task["taskId"])
    assert task["agentType"] == "commerce" and task["prompt"] == "Analyze pricing trends"
    assert task["status"] == "pending" and task["result"] is None and task["error"] is None
    assert task["createdAt"].endswith("Z") and task["metrics"]["startTime"] == task["createdAt"]


async def test_submit_validation(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    cases = [
        ({"agentType": "wizard", "prompt": "x"}, 422, "unknown_agent_type"),
        ({"agentType": "commerce", "prompt": ""}, 422, "empty_prompt"),
        ({"agentType": "commerce", "prompt": "   "}, 422, "empty_prompt"),
        ({"agentType": "commerce"}, 422, "invalid_field"),
        ({"agentType": "commerce", "prompt": "x", "parameters": [1]}, 422, "invalid_field"),
        ({"agentType": "commerce", "prompt": "x", "useRoundTable": "yes"}, 422, "invalid_field"),
        ({"agentType": "commerce", "prompt": "x" * (32 * 1024 + 1)}, 413, "text_too_large"),
    ]
    for body, status, code in cases:
        resp = await client.post("/api/v1/tasks", json=body, headers=h)
        assert resp.status == status, body
        assert (await resp.json())["error"] == code
    ok = await client.post(
        "/api/v1/tasks", json={"agentType": "commerce", "prompt": "x" * (32 * 1024)}, headers=h
    )
    assert ok.status == 201


async def test_list_filters_limits_and_bad_values(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    ids = []
    for i, agent in enumerate(["commerce", "support", "commerce", "analytics", "commerce"]):
        resp = await client.post(
            "/api/v1/tasks", json={"agentType": agent, "prompt": f"job {i}"}, headers=h
        )
        ids.append((await resp.json())["taskId"])
    done: set[str] = set()

    def five_done(m: dict[str, Any]) -> bool:
        if m["status"] == "completed":
            done.add(m["task_id"])
        return len(done) == 5

    await collect_until(ws, five_done)
    everything = await (await client.get("/api/v1/tasks", headers=h)).json()
    assert [t["taskId"] for t in everything] == list(reversed(ids))  # newest first
    commerce = await (
        await client.get("/api/v1/tasks?agent_type=commerce&status=completed", headers=h)
    ).json()
    assert {t["taskId"] for t in commerce} == {ids[0], ids[2], ids[4]}
    assert len(await (await client.get("/api/v1/tasks?limit=2", headers=h)).json()) == 2
    pages = [
        [t["taskId"] for t in await (await client.get(f"/api/v1/tasks?limit=2&offset={o}",
                                                      headers=h)).json()]
        for o in (0, 2, 4, 6)
    ]  # fmt: skip
    assert pages == [list(reversed(ids))[o : o + 2] for o in (0, 2, 4, 6)]  # pages, no overlap
    paged = await (
        await client.get("/api/v1/tasks?agent_type=commerce&limit=1&offset=1", headers=h)
    ).json()
    assert [t["taskId"] for t in paged] == [ids[2]]
    assert await (await client.get("/api/v1/tasks?status=failed", headers=h)).json() == []
    found = await (await client.get("/api/v1/tasks?q=JOB%203", headers=h)).json()
    assert [t["taskId"] for t in found] == [ids[3]]  # search, ignoring case
    mine = await (await client.get("/api/v1/tasks?q=job&agent_type=commerce&limit=2&offset=1",
                                   headers=h)).json()  # fmt: skip
    assert [t["taskId"] for t in mine] == [ids[2], ids[0]]  # with filters and pages
    assert await (await client.get("/api/v1/tasks?q=%25%25", headers=h)).json() == []
    blank = await (await client.get("/api/v1/tasks?q=%20", headers=h)).json()
    assert len(blank) == 5  # a blank search is no search
    for query, name in [
        ("q=" + "x" * 201, "q"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("status=done", "status"),
        ("agent_type=wizard", "agent_type"),
    ]:
        resp = await client.get(f"/api/v1/tasks?{query}", headers=h)
        assert resp.status == 400, query
        body = await resp.json()
        assert body["error"] == "invalid_query" and f"'{name}'" in body["message"]
    missing = await client.get("/api/v1/tasks/task-000000000000", headers=h)
    assert missing.status == 404 and (await missing.json())["error"] == "task_not_found"


async def test_cancel_running_task_really_stops_it(
    make_client: ClientFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.gate = asyncio.Event()  # the provider call blocks until the gate opens
    client = await make_client(
        providers_file=providers_file(tmp_path, fake_openai), max_concurrent_tasks=1
    )
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    first = (
        await (
            await client.post(
                "/api/v1/tasks", json={"agentType": "support", "prompt": "slow"}, headers=h
            )
        ).json()
    )["taskId"]
    await collect_until(ws, lambda m: m["task_id"] == first and m["status"] == "running")
    await asyncio.wait_for(fake_openai.arrived.wait(), 10)  # the provider has the request
    resp = await client.post(f"/api/v1/tasks/{first}/cancel", headers=h)
    assert resp.status == 200
    assert (await resp.json())["status"] == "cancelled"
    fake_openai.gate.set()
    second = (
        await (
            await client.post(
                "/api/v1/tasks", json={"agentType": "support", "prompt": "next"}, headers=h
            )
        ).json()
    )["taskId"]
    seen = await collect_until(ws, lambda m: m["task_id"] == second and m["status"] == "completed")
    assert not [m for m in seen if m["task_id"] == first and m["status"] == "completed"]
    again = await (await client.get(f"/api/v1/tasks/{first}", headers=h)).json()
    assert again["status"] == "cancelled"
    finished = await client.post(f"/api/v1/tasks/{first}/cancel", headers=h)
    assert finished.status == 409 and (await finished.json())["error"] == "task_finished"


async def test_http_provider_retries_429_then_succeeds_and_prices_usage(
    make_client: ClientFactory,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_FAKE_KEY", "sk-local")
    fake_openai.script.extend([("status", 429), ("status", 503)])
    client = await make_client(providers_file=providers_file(tmp_path, fake_openai))
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    task_id = (
        await (
            await client.post(
                "/api/v1/tasks",
                json={"agentType": "marketing", "prompt": "Write a slogan"},
                headers=h,
            )
        ).json()
    )["taskId"]
    await collect_until(
        ws, lambda m: m["task_id"] == task_id and m["status"] in ("completed", "failed")
    )
    task = await (await client.get(f"/api/v1/tasks/{task_id}", headers=h)).json()
    assert task["status"] == "completed" and task["result"].startswith("fake answer")
    assert len(fake_openai.requests) == 3
    assert fake_openai.requests[0]["auth"] == "Bearer sk-local"
    sent = fake_openai.requests[-1]["body"]
    assert sent["model"] == "fake-model" and sent["messages"][0]["role"] == "system"
    assert task["metrics"]["tokensUsed"] == 150
    assert task["metrics"]["costUsd"] == pytest.approx(100 / 1000 * 0.01 + 50 / 1000 * 0.02)


@pytest.mark.parametrize(
    ("script", "extra", "fragment"),
    [
        ([("sleep", 5)] * 2, {"timeout": 0.2, "max_retries": 1}, "timed out"),
        ([("malformed", '{"choices": []}')], {}, "malformed response"),
        ([("malformed", "not json at all")], {}, "malformed response"),
        ([("status", 500)] * 4, {"max_retries": 3}, "HTTP 500"),
        ([("status", 401)], {}, "HTTP 401"),
    ],
)
async def test_http_provider_failures_fail_the_task_clearly(
    make_client: ClientFactory,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    script: list[tuple[str, object]],
    extra: dict[str, object],
    fragment: str,
) -> None:
    fake_openai.script.extend(script)
    client = await make_client(providers_file=providers_file(tmp_path, fake_openai, **extra))
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    task_id = (
        await (
            await client.post(
                "/api/v1/tasks", json={"agentType": "support", "prompt": "Help"}, headers=h
            )
        ).json()
    )["taskId"]
    updates = await collect_until(
        ws, lambda m: m["task_id"] == task_id and m["status"] in ("completed", "failed")
    )
    assert updates[-1]["status"] == "failed" and fragment in updates[-1]["data"]["error"]
    task = await (await client.get(f"/api/v1/tasks/{task_id}", headers=h)).json()
    assert task["status"] == "failed" and fragment in task["error"]


async def test_huge_integers_in_parameters_are_refused_and_the_list_stays_whole(
    make_client: ClientFactory,
) -> None:
    """Found by schemathesis: a 70-bit integer in parameters broke the task list. Such
    integers are now refused where the body is read; the largest safe one round-trips."""
    client = await make_client()
    h = auth(client, "write")
    body = {"agentType": "support", "prompt": "big", "parameters": {"n": 2**70}}
    refused = await client.post("/api/v1/tasks", json=body, headers=h)
    assert refused.status == 422
    assert (await refused.json())["details"] == {"field": "parameters.n"}
    body["parameters"] = {"n": 2**53 - 1}
    assert (await client.post("/api/v1/tasks", json=body, headers=h)).status == 201
    listed = await client.get("/api/v1/tasks", headers=h)
    assert listed.status == 200
    assert (await listed.json())[0]["parameters"] == {"n": 2**53 - 1}


async def test_a_long_queue_waits_in_the_store_not_in_memory(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past IN_MEMORY_QUEUE, queued tasks are ids and rows: all still run, in order,
    and a cancel of one that waits in the store holds."""
    from devskyy_ws import SERVICES_KEY
    from devskyy_ws.services import tasks as task_module

    monkeypatch.setattr(task_module, "IN_MEMORY_QUEUE", 2)
    client = await make_client(max_concurrent_tasks=1, task_step_delay=0.05)
    service = client.app[SERVICES_KEY].tasks
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    ids = []
    for i in range(7):
        resp = await client.post(
            "/api/v1/tasks", json={"agentType": "support", "prompt": f"queued {i}"}, headers=h
        )
        assert resp.status == 201
        ids.append((await resp.json())["taskId"])
    assert len(service.active) <= 3 and service.parked >= 4
    pending = service.parked + sum(1 for t in service.active.values() if t.status == "pending")
    text = await (await client.get("/metrics")).text()
    assert f'devskyy_tasks_active{{status="pending"}} {pending}.0' in text  # parked ones too
    cancelled = await client.post(f"/api/v1/tasks/{ids[-2]}/cancel", headers=h)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    finished: list[str] = []

    def six_finished(m: dict[str, Any]) -> bool:
        if m["status"] == "completed":
            finished.append(m["task_id"])
        return len(finished) == 6

    updates = await collect_until(ws, six_finished, wait=20.0)
    assert finished == [i for i in ids if i != ids[-2]]  # every other one ran, in order
    assert {m["status"] for m in updates if m["task_id"] == ids[-2]} <= {"pending", "cancelled"}
    stored = await (await client.get(f"/api/v1/tasks/{ids[-2]}", headers=h)).json()
    assert stored["status"] == "cancelled"
    assert service.parked == 0 and not service.active


async def test_a_cancel_refused_by_a_down_store_leaves_the_task_queued(
    make_client: ClientFactory,
) -> None:
    """The database goes away (its thread stops) while a task waits: the cancel is
    answered 503 and changes nothing; once the database is back, the task runs."""
    from devskyy_ws import SERVICES_KEY, STORE_KEY
    from devskyy_ws.store.sqlite import SqliteStore

    client = await make_client(max_concurrent_tasks=1, task_step_delay=0.2)
    store = client.app[STORE_KEY]
    assert isinstance(store, SqliteStore)
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    first, queued = [
        (
            await (
                await client.post(
                    "/api/v1/tasks", json={"agentType": "support", "prompt": p}, headers=h
                )
            ).json()
        )["taskId"]
        for p in ("runs first", "waits")
    ]
    await collect_until(ws, lambda m: m["task_id"] == first and m["status"] == "running")
    await store.close()  # a real outage: every call now fails
    refused = await client.post(f"/api/v1/tasks/{queued}/cancel", headers=h)
    assert refused.status == 503 and (await refused.json())["error"]
    await store.open()
    await collect_until(
        ws, lambda m: m["task_id"] == queued and m["status"] == "completed", wait=20.0
    )
    stored = await (await client.get(f"/api/v1/tasks/{queued}", headers=h)).json()
    assert stored["status"] == "completed"
    assert client.app[SERVICES_KEY].tasks.parked == 0


async def test_cancels_racing_the_runner_always_tell_the_truth(make_client: ClientFactory) -> None:
    """Submit and cancel at once, many times, while workers start tasks: every answer
    is 200 `cancelled` or 409, and the store ends up agreeing with every answer."""
    from devskyy_ws import SERVICES_KEY

    client = await make_client(max_concurrent_tasks=8, task_step_delay=0.0)
    h = auth(client, "write")

    async def submit_and_cancel(i: int) -> tuple[str, int, dict[str, Any]]:
        resp = await client.post(
            "/api/v1/tasks", json={"agentType": "commerce", "prompt": f"race {i}"}, headers=h
        )
        task_id = (await resp.json())["taskId"]
        for _ in range(i % 3):  # vary where in the task's life the cancel lands
            await asyncio.sleep(0)
        cancel = await client.post(f"/api/v1/tasks/{task_id}/cancel", headers=h)
        return task_id, cancel.status, await cancel.json()

    results = await asyncio.gather(*(submit_and_cancel(i) for i in range(60)))
    service = client.app[SERVICES_KEY].tasks
    for _ in range(1000):  # bounded: until the runner has nothing left
        if not service.active and not service._jobs:
            break
        await asyncio.sleep(0.01)
    for task_id, status, body in results:
        stored = await (await client.get(f"/api/v1/tasks/{task_id}", headers=h)).json()
        if status == 200:
            assert body["status"] == "cancelled" and stored["status"] == "cancelled", body
        else:
            assert status == 409 and body["error"] == "task_finished", body
            assert stored["status"] in ("completed", "failed"), stored
    agent = await (await client.get("/api/v1/agents/commerce", headers=h)).json()
    assert agent["status"] == "idle"


async def test_no_sql_runs_on_the_event_loops_thread(make_client: ClientFactory) -> None:
    """Database calls never block the loop: every statement the store's connection
    runs, through REST, the runner, learning and stats, runs on the store's one thread."""
    import threading

    from devskyy_ws import STORE_KEY
    from devskyy_ws.store.sqlite import SqliteStore

    client = await make_client()
    store = client.app[STORE_KEY]
    assert isinstance(store, SqliteStore)
    threads: set[int] = set()

    def trace(_: str) -> None:
        threads.add(threading.get_ident())

    await store._run(lambda db: db.set_trace_callback(trace))
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/tasks")
    ids = [
        (
            await (
                await client.post(
                    "/api/v1/tasks", json={"agentType": "support", "prompt": f"p{i}"}, headers=h
                )
            ).json()
        )["taskId"]
        for i in range(5)
    ]
    await collect_until(ws, lambda m: m["task_id"] == ids[-1] and m["status"] == "completed")
    assert (await client.get("/api/v1/tasks?agent_type=support", headers=h)).status == 200
    assert (await client.get(f"/api/v1/tasks/{ids[0]}", headers=h)).status == 200
    assert (await client.get("/api/v1/agents/support/stats", headers=h)).status == 200
    assert (await client.post("/api/v1/agents/support/learn", headers=h)).status == 202
    loop_thread = threading.get_ident()
    assert threads, "the trace saw no statement"
    assert loop_thread not in threads
    assert len(threads) == 1
