"""The Python client: filters, ping, iteration, reconnect and resume across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from devskyy_ws.client import ChannelClient, ChannelClosed, backoff
from devskyy_ws.contract.messages import ResyncRequired, Snapshot, TaskUpdate

from .conftest import ClientFactory, auth
from .server_process import ServerProcess


def test_backoff_is_jittered_and_capped() -> None:
    delays = [backoff(attempt, 1.0, 30.0) for attempt in range(12) for _ in range(20)]
    assert max(delays) <= 30.0 and min(delays) >= 0.0
    assert len({round(d, 6) for d in delays}) > 100  # jitter, not a fixed schedule


async def test_messages_arrive_as_attrs_objects_with_filters(make_client: ClientFactory) -> None:
    client = await make_client()
    base = str(client.make_url("")).rstrip("/")
    async with ChannelClient(base, "tasks", filters={"agent_type": "support"}) as channel:
        assert await channel.ping() < 1.0
        subscribed = await channel.next(timeout=5)
        assert isinstance(subscribed, dict) or subscribed.type == "subscribed"
        h = auth(client, "write")
        await client.post(
            "/api/v1/tasks", json={"agentType": "commerce", "prompt": "skip me"}, headers=h
        )
        await client.post(
            "/api/v1/tasks", json={"agentType": "support", "prompt": "keep me"}, headers=h
        )
        message = await channel.next(timeout=5)
        while getattr(message, "type", "") in ("pong", "subscribed"):
            message = await channel.next(timeout=5)
        assert isinstance(message, TaskUpdate)
        assert message.data["agent_type"] == "support"


async def test_invalid_channel_raises_instead_of_retrying(make_client: ClientFactory) -> None:
    client = await make_client()
    channel = ChannelClient(str(client.make_url("")).rstrip("/"), "nope", base_delay=0.01)
    await channel.connect()
    with pytest.raises(ChannelClosed) as info:
        await channel.next(timeout=5)
    assert info.value.code == 4004
    await channel.close()


async def test_reconnect_and_resume_across_a_server_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write")
    headers = {"Authorization": f"Bearer {token}"}
    channel = ChannelClient(server.base, "tasks", base_delay=0.05, max_delay=0.5)
    await channel.connect()
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(
                f"{server.base}/api/v1/tasks",
                json={"agentType": "support", "prompt": "before"},
                headers=headers,
            )
            first = await channel.next(timeout=10)
            assert isinstance(first, TaskUpdate)
            epoch_before = channel.epoch
            assert server.terminate() == 0
            restarted = ServerProcess(tmp_path / "data", port=server.port)
            await asyncio.to_thread(restarted.start)
            try:
                # The restart changed the epoch: the client is told, and takes a snapshot.
                seen: list[object] = []
                while not any(isinstance(m, Snapshot) for m in seen):
                    seen.append(await channel.next(timeout=15))
                assert any(isinstance(m, ResyncRequired) for m in seen)
                assert channel.reconnects >= 1 and channel.epoch != epoch_before
                await http.post(
                    f"{restarted.base}/api/v1/tasks",
                    json={"agentType": "support", "prompt": "after"},
                    headers=headers,
                )
                after = await channel.next(timeout=10)
                while not isinstance(after, TaskUpdate):
                    after = await channel.next(timeout=10)
                assert after.data["agent_type"] == "support"
            finally:
                assert restarted.terminate() == 0
    finally:
        await channel.close()


def test_importing_the_client_loads_no_server_module() -> None:
    """A producer's or dashboard's process imports the client alone: the contract
    (messages, records, their converter), never the app, hub, store or services."""
    import subprocess
    import sys

    probe = (
        "import sys, devskyy_ws.client; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('devskyy_ws'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(done.stdout.split())
    assert "devskyy_ws.client" in loaded
    contract = {"devskyy_ws", "devskyy_ws.client", "devskyy_ws.version", "devskyy_ws.retry",
                "devskyy_ws.publisher"}  # fmt: skip
    contract |= {f"devskyy_ws.contract{m}" for m in ("", ".messages", ".records", ".requests",
                                                        ".serde", ".jsoncheck")}  # fmt: skip
    assert loaded <= contract, loaded - contract
    assert "aiohttp.web" not in done.stdout
