"""Producers: batches on POST /api/v1/events, the `publish` scope and its own limit."""

from __future__ import annotations

import json
from typing import Any

from devskyy_ws import HUB_KEY

from .conftest import ClientFactory, auth, token_for
from .helpers import updates


def _update(task_id: str, progress: int) -> dict[str, Any]:
    return {"channel": "tasks",
            "message": {"type": "task_update", "task_id": task_id, "status": "running",
                        "progress": progress}}  # fmt: skip


def _agent(agent_id: str) -> dict[str, Any]:
    return {"channel": "agents",
            "message": {"type": "agent_status_update", "agent_id": agent_id, "status": "idle"}}  # fmt: skip


async def test_a_batch_is_published_in_order_in_one_write_per_socket(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    await ws.send_json({"type": "ping"})
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"
    before = hub.stats["tasks"].coalesced
    events = [_update("a", 1), _agent("x-1"), _update("a", 2), _update("b", 3)]
    resp = await client.post("/api/v1/events", json={"events": events}, headers=auth(client))
    assert resp.status == 202
    assert await resp.json() == {"accepted": 4, "delivered": [1, 0, 1, 1]}
    assert hub.stats["tasks"].coalesced - before == 3  # every frame held: one write
    got = await updates(ws, 3, wait=5)
    assert [(m["task_id"], m["progress"]) for m in got] == [("a", 1), ("a", 2), ("b", 3)]
    assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
    await ws.close()


async def test_a_batch_reaches_plain_filtered_and_compressed_sockets_alike(
    make_client: ClientFactory,
) -> None:
    """A plain socket takes a run of frames joined; a filtered one is asked per message
    and a compressed one is sent each frame: all get what they should, in order."""
    client = await make_client(ws_compression=True)
    plain = await client.ws_connect("/api/ws/tasks", compress=0)
    picky = await client.ws_connect("/api/ws/tasks", compress=0)
    await picky.send_json({"type": "subscribe", "filters": {"task_id": ["b"]}})
    assert (await picky.receive_json(timeout=5))["type"] == "subscribed"
    squeezed = await client.ws_connect("/api/ws/tasks", compress=15)
    assert squeezed.compress
    events = [_update(task, n) for n, task in enumerate("abab")]
    resp = await client.post("/api/v1/events", json={"events": events}, headers=auth(client))
    assert await resp.json() == {"accepted": 4, "delivered": [2, 3, 2, 3]}
    every = [(m["task_id"], m["progress"]) for m in await updates(plain, 4, wait=5)]
    assert every == [("a", 0), ("b", 1), ("a", 2), ("b", 3)]
    assert [(m["task_id"], m["progress"]) for m in await updates(squeezed, 4, wait=5)] == every
    assert [m["progress"] for m in await updates(picky, 2, wait=5)] == [1, 3]
    for ws in (plain, picky, squeezed):
        await ws.close()


async def test_a_bad_event_in_the_middle_publishes_nothing(make_client: ClientFactory) -> None:
    client = await make_client()
    hub = client.app[HUB_KEY]
    seqs = dict(hub.seqs)
    bad = {"channel": "tasks", "message": {"type": "task_update", "task_id": "c",
                                           "status": "exploded", "progress": 1}}  # fmt: skip
    events = [_update("a", 1), _update("b", 2), bad, _update("d", 4)]
    resp = await client.post("/api/v1/events", json={"events": events}, headers=auth(client))
    body = await resp.json()
    assert resp.status == 422 and body["error"] == "invalid_message"
    assert body["message"].startswith("Event 2: ") and body["details"]["index"] == 2
    assert hub.seqs == seqs and hub.stats["tasks"].published == 0


async def test_the_server_stamps_position_and_time_over_what_a_producer_sent(
    make_client: ClientFactory,
) -> None:
    """seq and epoch are the broker's, whatever a producer put there; a missing timestamp
    is the time of publishing."""
    client = await make_client()
    hub = client.app[HUB_KEY]
    ws = await client.ws_connect("/api/ws/tasks")
    event = _update("a", 1)
    event["message"] |= {"seq": "forged", "epoch": 7}
    resp = await client.post("/api/v1/events", json=event, headers=auth(client))
    assert resp.status == 202
    (got,) = await updates(ws, 1, wait=5)
    assert got["seq"] == hub.seqs["tasks"] and got["epoch"] == hub.epochs["tasks"]
    assert got["timestamp"].endswith("Z") and got["timestamp"][:4].isdigit()
    await ws.close()


async def test_batch_limits(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client)
    for events, code in [
        ([], "invalid_batch"),
        ({"channel": "tasks"}, "invalid_batch"),
        ([_update("a", 1)] * 1001, "invalid_batch"),
        ([_update("a", 1), "text"], "invalid_event"),
        ([_update("a", 1), {"channel": "nope", "message": {}}], "unknown_channel"),
    ]:
        resp = await client.post("/api/v1/events", json={"events": events}, headers=h)
        assert resp.status == 422, events
        assert (await resp.json())["error"] == code
    ok = await client.post("/api/v1/events", json={"events": [_update("a", 1)] * 1000}, headers=h)
    assert ok.status == 202 and (await ok.json())["accepted"] == 1000


async def test_a_publish_token_publishes_and_does_nothing_else(make_client: ClientFactory) -> None:
    client = await make_client()
    producer = auth(client, "publish")
    single = await client.post("/api/v1/events", json=_update("a", 1), headers=producer)
    assert single.status == 202
    batch = await client.post(
        "/api/v1/events", json={"events": [_update("a", 2)]}, headers=producer
    )
    assert batch.status == 202
    for method, path in [("GET", "/api/v1/tasks"), ("GET", "/api/v1/agents"),
                         ("POST", "/api/v1/tasks"), ("POST", "/api/v1/agents/commerce/stop"),
                         ("GET", "/api/v1/auth/me"), ("GET", "/api/v1/monitoring/metrics")]:  # fmt: skip
        resp = await client.request(method, path, headers=producer, json={})
        assert resp.status == 403, (method, path)
    reader = await client.post("/api/v1/events", json=_update("a", 3), headers=auth(client, "read"))
    assert reader.status == 403 and "'publish' or 'write'" in (await reader.json())["message"]
    assert (await client.post("/api/v1/events", json=_update("a", 4))).status == 401


async def test_producers_spend_their_own_bucket_per_event(make_client: ClientFactory) -> None:
    client = await make_client(publish_rate=0.001, publish_burst=5, rate_limit=0.001, rate_burst=1)
    producer = auth(client, "publish")
    hub = client.app[HUB_KEY]
    five = {"events": [_update("a", n) for n in range(5)]}
    assert (await client.post("/api/v1/events", json=five, headers=producer)).status == 202
    over = await client.post("/api/v1/events", json=_update("a", 9), headers=producer)
    assert over.status == 429 and int(over.headers["Retry-After"]) >= 1
    assert hub.stats["tasks"].published == 5  # the refused one was not published
    # another producer has its own bucket; the dashboards' REST limit (burst 1) never applied
    other = {"Authorization": "Bearer " + token_for(client, "publish", "worker-2")}
    for n in range(3):
        resp = await client.post("/api/v1/events", json=_update("b", n), headers=other)
        assert resp.status == 202


async def test_a_bad_token_on_the_publish_path_still_spends_the_rest_bucket(
    make_client: ClientFactory,
) -> None:
    client = await make_client(rate_limit=0.001, rate_burst=2)
    bad = {"Authorization": "Bearer not.a.token"}
    codes = [(await client.post("/api/v1/events", json=_update("a", 1), headers=bad)).status
             for _ in range(3)]  # fmt: skip
    assert codes == [401, 401, 429]


async def test_a_token_that_cannot_publish_spends_the_rest_bucket_on_the_publish_path(
    make_client: ClientFactory,
) -> None:
    client = await make_client(rate_limit=0.001, rate_burst=2)
    reader = auth(client, "read")
    codes = [(await client.post("/api/v1/events", json=_update("a", 1), headers=reader)).status
             for _ in range(3)]  # fmt: skip
    assert codes == [403, 403, 429]
