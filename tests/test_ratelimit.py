"""REST rate limiting per token subject, per address when anonymous; health exempt."""

from __future__ import annotations

from devskyy_ws.http.ratelimit import TokenBuckets

from .conftest import ClientFactory, auth, token_for


def test_bucket_refills_at_the_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("k", now=0.0)[0] for _ in range(4)] == [True, True, True, False]
    allowed, _, wait = buckets.take("k", now=0.0)
    assert not allowed and wait == 0.5
    assert buckets.take("k", now=0.5)[0] is True
    assert buckets.take("other", now=0.5)[0] is True


def test_bucket_table_is_bounded() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=100)
    for i in range(1000):
        buckets.take(f"k{i}", now=0.0)
    assert len(buckets._buckets) == 100


async def test_429_with_retry_after_and_headers(make_client: ClientFactory) -> None:
    client = await make_client(rate_limit=0.5, rate_burst=3)
    h = auth(client, "read")
    statuses = []
    for _ in range(4):
        resp = await client.get("/api/v1/agents", headers=h)
        statuses.append(resp.status)
        assert resp.headers["X-RateLimit-Limit"] == "3"
    assert statuses == [200, 200, 200, 429]
    body = await resp.json()
    assert body["error"] == "rate_limited"
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    # another subject has its own bucket; health checks and sockets are exempt
    other = {"Authorization": f"Bearer {token_for(client, 'read', sub='someone-else')}"}
    assert (await client.get("/api/v1/agents", headers=other)).status == 200
    for _ in range(5):
        assert (await client.get("/health")).status == 200
    ws = await client.ws_connect("/api/ws/agents")
    await ws.close()


async def test_anonymous_requests_are_limited_by_address(make_client: ClientFactory) -> None:
    client = await make_client(rate_limit=0.5, rate_burst=2, trusted_proxies="127.0.0.1/32")
    first = [
        (await client.get("/api/v1/agents", headers={"X-Forwarded-For": "198.51.100.1"})).status
        for _ in range(3)
    ]
    assert first == [401, 401, 429]
    other = await client.get("/api/v1/agents", headers={"X-Forwarded-For": "198.51.100.2"})
    assert other.status == 401


async def test_a_limit_of_zero_switches_limiting_off(make_client: ClientFactory) -> None:
    client = await make_client(rate_limit=0, rate_burst=1)
    h = auth(client, "read")
    for _ in range(5):
        resp = await client.get("/api/v1/agents", headers=h)
        assert resp.status == 200
        assert "X-RateLimit-Limit" not in resp.headers
