"""`/api/ws/publish` and `devskyy_ws.client.Publisher` against a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType

from devskyy_ws import HUB_KEY
from devskyy_ws.client import Publisher, PublishRefused
from devskyy_ws.contract.messages import TaskUpdate

from .conftest import ClientFactory, token_for
from .helpers import updates
from .tcp_proxy import TcpProxy


def _event(n: int, **extra: Any) -> dict[str, Any]:
    return {"channel": "tasks", **extra,
            "message": {"type": "task_update", "task_id": f"t{n}", "status": "running",
                        "progress": n % 100}}  # fmt: skip


def _numbers(updates: list[dict[str, Any]]) -> list[int]:
    return [int(m["task_id"][1:]) for m in updates]


async def test_acks_and_nacks_in_order(make_client: ClientFactory) -> None:
    client = await make_client()
    token = token_for(client, "publish")
    async with client.session.ws_connect(
        client.make_url("/api/ws/publish"), headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        await ws.send_json(_event(1, id="a"))
        await ws.send_json({"id": 7, "events": [_event(2), _event(3)]})
        await ws.send_json(_event(4, id="bad") | {"channel": "nope"})
        await ws.send_str("{not json")
        await ws.send_json({"id": "b", "events": [_event(5), {"channel": "tasks"}]})
        answers = [json.loads((await ws.receive(timeout=5)).data) for _ in range(5)]
    assert answers[0] == {"type": "ack", "id": "a", "seq": [1]}
    assert answers[1] == {"type": "ack", "id": 7, "seq": [2, 3]}
    assert answers[2]["type"] == "nack" and answers[2]["id"] == "bad"
    assert answers[2]["error"] == "unknown_channel"
    assert answers[3]["type"] == "nack" and answers[3]["error"] == "invalid_json"
    assert answers[4]["type"] == "nack" and answers[4]["details"]["index"] == 1
    assert client.app[HUB_KEY].seqs["tasks"] == 3  # nothing of a refused batch went out


@pytest.mark.parametrize("scope", [None, "read", "bad"])
async def test_no_publish_token_closes_4001(make_client: ClientFactory, scope: str | None) -> None:
    client = await make_client()
    query = (
        "" if scope is None else f"?token={token_for(client, scope) if scope != 'bad' else 'x.y.z'}"
    )
    ws = await client.ws_connect(f"/api/ws/publish{query}")
    await ws.send_json(_event(1))
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == 4001
    assert client.app[HUB_KEY].seqs["tasks"] == 0


async def test_a_token_in_the_query_string_works(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect(f"/api/ws/publish?token={token_for(client, 'publish')}")
    await ws.send_json(_event(1, id=1))
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "ack"
    await ws.close()


async def test_pipelined_publishing_of_100000_events(make_client: ClientFactory) -> None:
    """Acks come back in order, and each subscriber receives every event exactly once."""
    # the fan-out, not the publish limit, sets the pace; the readers share this process,
    # so they may lag by more than the default send buffer while it publishes
    client = await make_client(publish_rate=0, send_buffer_bytes=64 * 1024 * 1024)
    readers = [await client.ws_connect("/api/ws/tasks") for _ in range(2)]
    for ws in readers:
        await ws.send_json({"type": "ping"})
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"
    count = 100_000
    reading = [asyncio.create_task(updates(ws, count)) for ws in readers]
    base = str(client.make_url("")).rstrip("/")
    async with Publisher(base, token_for(client, "publish"), max_in_flight=2000) as publisher:
        futures = [
            await publisher.publish_nowait("tasks", _event(n)["message"]) for n in range(count)
        ]
        seqs = await asyncio.gather(*futures)
    assert seqs == list(range(1, count + 1))
    for ws, task in zip(readers, reading, strict=True):
        got = await task
        assert _numbers(got) == list(range(count))
        assert [m["seq"] for m in got] == seqs
        await ws.close()


async def test_the_publisher_resends_what_a_dropped_connection_lost(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    reader = await client.ws_connect("/api/ws/tasks")
    await reader.send_json({"type": "ping"})
    assert json.loads((await reader.receive(timeout=5)).data)["type"] == "pong"
    assert client.port is not None
    proxy = await TcpProxy(client.port).start()
    publisher = Publisher(f"http://127.0.0.1:{proxy.port}", token_for(client, "publish"),
                          base_delay=0.01, max_delay=0.05)  # fmt: skip
    async with publisher:
        first = [await publisher.publish_nowait("tasks", _event(n)["message"]) for n in range(50)]
        await asyncio.gather(*first)
        await proxy.cut()  # the next events go nowhere until the proxy is back
        rest = [
            await publisher.publish_nowait("tasks", _event(n)["message"]) for n in range(50, 100)
        ]
        await proxy.restore()
        await asyncio.wait_for(asyncio.gather(*rest), 20)
        assert publisher.reconnects >= 1
    got = await updates(reader, 100)
    assert sorted(set(_numbers(got))) == list(range(100))  # each at least once
    assert _numbers(got)[:50] == list(range(50))
    await reader.close()
    await proxy.cut()


async def test_publish_waits_for_the_ack_and_a_nack_raises(make_client: ClientFactory) -> None:
    client = await make_client()
    base = str(client.make_url("")).rstrip("/")
    async with Publisher(base, token_for(client, "publish")) as publisher:
        seq = await publisher.publish(
            "tasks", TaskUpdate(task_id="t", status="running", progress=1)
        )
        assert seq == 1
        with pytest.raises(PublishRefused) as refused:
            await publisher.publish("tasks", {"type": "agent_status_update"})
        assert refused.value.code == "invalid_message"


async def test_a_producer_over_its_rate_is_slowed_not_refused(make_client: ClientFactory) -> None:
    client = await make_client(publish_rate=2000, publish_burst=100)
    base = str(client.make_url("")).rstrip("/")
    async with Publisher(base, token_for(client, "publish")) as publisher:
        futures = [
            await publisher.publish_nowait("tasks", _event(n)["message"]) for n in range(300)
        ]
        assert await asyncio.gather(*futures) == list(range(1, 301))
    token = token_for(client, "publish")
    async with client.session.ws_connect(
        client.make_url("/api/ws/publish"), headers={"Authorization": f"Bearer {token}"}
    ) as ws:  # a batch larger than the whole burst can never pass
        await ws.send_json({"id": 1, "events": [_event(n) for n in range(101)]})
        answer = json.loads((await ws.receive(timeout=5)).data)
    assert answer["type"] == "nack" and answer["error"] == "batch_too_large"
