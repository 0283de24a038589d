"""With --broker redis://, the REST and publish buckets are one per subject across all
instances; with Redis unreachable, each instance falls back to its own and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from devskyy_ws import HUB_KEY, JWT_KEY, Settings, create_app

from .system import redis_url

__all__ = ["redis_url"]

EVENT = {"channel": "tasks",
         "message": {"type": "task_update", "task_id": "t", "status": "running", "progress": 1}}  # fmt: skip


async def _instances(settings: Settings, url: str, aiohttp_client: Any, tmp: Path) -> list[Any]:
    return [
        await aiohttp_client(create_app(attrs.evolve(settings, broker=url, data_dir=tmp / f"d{i}")))
        for i in range(2)
    ]


def _bearer(client: Any, scope: str, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.app[JWT_KEY].mint(sub, scope)}"}


async def test_two_instances_share_one_publish_bucket(
    settings: Settings, redis_url: str, aiohttp_client: Any, tmp_path: Path
) -> None:
    limited = attrs.evolve(settings, publish_rate=0.001, publish_burst=5)
    a, b = await _instances(limited, redis_url, aiohttp_client, tmp_path)
    producer = _bearer(a, "publish", "worker")  # both instances share the secret
    codes = [
        (await a.post("/api/v1/events", json=EVENT, headers=producer)).status for _ in range(3)
    ]
    codes += [
        (await b.post("/api/v1/events", json=EVENT, headers=producer)).status for _ in range(3)
    ]
    assert codes == [202] * 5 + [429]  # five in all, not five per instance
    other = _bearer(b, "publish", "worker-2")  # another subject, another bucket
    assert (await b.post("/api/v1/events", json=EVENT, headers=other)).status == 202
    health = await (await a.get("/health")).json()
    assert health["rate_limits"] == "shared"


async def test_two_instances_share_one_rest_bucket(
    settings: Settings, redis_url: str, aiohttp_client: Any, tmp_path: Path
) -> None:
    limited = attrs.evolve(settings, rate_limit=0.001, rate_burst=3)
    a, b = await _instances(limited, redis_url, aiohttp_client, tmp_path)
    reader = _bearer(a, "read", "dashboard")
    codes = [(await c.get("/api/v1/agents", headers=reader)).status for c in (a, b, a, b)]
    assert codes == [200, 200, 200, 429]


async def test_without_redis_the_buckets_are_local_and_health_says_so(
    settings: Settings, redis_url: str, aiohttp_client: Any, tmp_path: Path
) -> None:
    limited = attrs.evolve(settings, publish_rate=0.001, publish_burst=2)
    (a,) = [await aiohttp_client(create_app(attrs.evolve(limited, broker=redis_url)))]
    broker = a.app[HUB_KEY].broker
    broker._take = _failing  # Redis stops answering the bucket script
    producer = _bearer(a, "publish", "worker")
    codes = [
        (await a.post("/api/v1/events", json=EVENT, headers=producer)).status for _ in range(3)
    ]
    assert codes == [202, 202, 429]  # the local bucket still limits
    assert (await (await a.get("/health")).json())["rate_limits"] == "local"


async def _failing(*_: Any, **__: Any) -> Any:
    raise ConnectionError("Redis is gone")
