"""The Round Table through REST while the round_table channel watches."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .conftest import ClientFactory, auth
from .fakes.openai import FakeOpenAI
from .helpers import collect_until

OFFLINE = [
    "offline-concise",
    "offline-detailed",
    "offline-structured",
    "offline-creative",
    "offline-analytical",
    "offline-friendly",
]
PROMPT = "Generate a marketing campaign for BLACK ROSE collection"


@pytest.fixture
async def fakes() -> AsyncIterator[list[FakeOpenAI]]:
    made = [await FakeOpenAI().start() for _ in range(3)]
    yield made
    for fake in made:
        await fake.close()


def _provider(name: str, fake: FakeOpenAI, **extra: object) -> str:
    lines = [
        "[[providers]]",
        f'name = "{name}"',
        f'base_url = "{fake.base_url}"',
        f'model = "{name}-model"',
        "backoff_base = 0.001",
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def test_full_competition_stages_record_and_storage(make_client: ClientFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/round_table")
    resp = await client.post(
        "/api/v1/round-table/compete",
        json={"prompt": PROMPT, "task_id": "task-abc123", "providers": None},
        headers=auth(client, "write"),
    )
    assert resp.status == 200
    record = await resp.json()
    assert re.fullmatch(r"comp-[0-9a-f]{12}", record["competition_id"])
    assert (
        record["status"] == "completed"
        and record["task_id"] == "task-abc123"
        and record["prompt"] == PROMPT
    )
    assert set(record) >= {
        "competition_id",
        "task_id",
        "prompt",
        "status",
        "winner",
        "entries",
        "ab_test",
        "total_cost_usd",
        "total_duration_ms",
        "created_at",
    }
    entries = record["entries"]
    assert sorted(e["provider"] for e in entries) == sorted(OFFLINE)
    assert [e["rank"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e["total_score"] for e in entries] == sorted(
        (e["total_score"] for e in entries), reverse=True
    )
    for entry in entries:
        assert set(entry) >= {
            "provider",
            "model",
            "rank",
            "response",
            "scores",
            "total_score",
            "latency_ms",
            "tokens_used",
            "cost_usd",
            "error",
        }
        assert set(entry["scores"]) == {
            "relevance",
            "quality",
            "completeness",
            "efficiency",
            "brand",
            "brand_alignment",  # the DevSkyy frontend's names (docs/compatibility.md)
            "total",
        }
        assert entry["scores"]["brand_alignment"] == entry["scores"]["brand"]
        assert entry["scores"]["total"] == entry["total_score"]
        assert all(0 <= v <= 100 for v in entry["scores"].values())
    assert len({e["response"] for e in entries}) == 6  # genuinely different styles
    ab = record["ab_test"]
    assert ab["finalists"] == [entries[0]["provider"], entries[1]["provider"]]
    assert ab["winner"] in ab["finalists"] and ab["judge"] == "offline-judge"
    assert 0 <= ab["confidence"] <= 1 and ab["reasoning"]
    assert record["winner"]["provider"] == ab["winner"]

    stages = await collect_until(ws, lambda m: m["stage"] in ("completed", "failed"))
    assert [s["stage"] for s in stages] == ["generating", "scoring", "ab_testing", "completed"]
    assert all(s["competition_id"] == record["competition_id"] for s in stages)
    assert stages[0]["data"]["provider_count"] == 6
    assert stages[1]["data"]["entries_count"] == 6 and stages[1]["data"][
        "scoring_started_at"
    ].endswith("Z")
    assert stages[2]["data"]["finalists"] == ab["finalists"]
    assert (
        stages[3]["data"]["winner"] == ab["winner"]
        and stages[3]["data"]["winner_score"] == record["winner"]["total_score"]
    )

    stored = await (
        await client.get(
            f"/api/v1/round-table/{record['competition_id']}", headers=auth(client, "read")
        )
    ).json()
    assert stored == record


async def test_validation_of_providers(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    unknown = await client.post(
        "/api/v1/round-table/compete", json={"prompt": PROMPT, "providers": ["gpt-9"]}, headers=h
    )
    assert unknown.status == 422 and (await unknown.json())["error"] == "unknown_provider"
    one = await client.post(
        "/api/v1/round-table/compete",
        json={"prompt": PROMPT, "providers": ["offline-concise"]},
        headers=h,
    )
    assert one.status == 422 and (await one.json())["error"] == "not_enough_providers"
    bad = await client.post(
        "/api/v1/round-table/compete", json={"prompt": PROMPT, "providers": "all"}, headers=h
    )
    assert bad.status == 422
    two = await client.post(
        "/api/v1/round-table/compete",
        json={"prompt": PROMPT, "providers": ["offline-concise", "offline-detailed"]},
        headers=h,
    )
    assert two.status == 200 and len((await two.json())["entries"]) == 2
    missing = await client.get("/api/v1/round-table/comp-000000000000", headers=h)
    assert missing.status == 404


async def test_failing_and_slow_providers_are_kept_as_failed_entries(
    make_client: ClientFactory, fakes: list[FakeOpenAI], tmp_path: Path
) -> None:
    good, failing, slow = fakes
    failing.script.extend([("status", 500)] * 3)
    slow.script.extend([("sleep", 5)] * 3)
    config = (
        "[round_table]\ninclude_offline = false\ntimeout = 0.5\n"
        + _provider("good", good)
        + _provider("failing", failing, max_retries=0)
        + _provider("slow", slow, max_retries=0, timeout=10)
        + _provider("good2", good)
    )
    path = tmp_path / "providers.toml"
    path.write_text(config)
    client = await make_client(providers_file=path)
    record = await (
        await client.post(
            "/api/v1/round-table/compete", json={"prompt": PROMPT}, headers=auth(client, "write")
        )
    ).json()
    assert record["status"] == "completed"
    by_name = {e["provider"]: e for e in record["entries"]}
    assert "HTTP 500" in by_name["failing"]["error"]
    assert "timed out" in by_name["slow"]["error"]
    assert by_name["good"]["error"] is None and by_name["good"]["rank"] in (1, 2)
    assert [e["rank"] for e in record["entries"]][-2:] == [3, 4]
    assert set(record["ab_test"]["finalists"]) == {"good", "good2"}


async def test_fewer_than_two_answers_ends_failed(
    make_client: ClientFactory, fakes: list[FakeOpenAI], tmp_path: Path
) -> None:
    good, failing, _ = fakes
    failing.script.extend([("status", 500)] * 4)
    path = tmp_path / "providers.toml"
    path.write_text(
        _provider("good", good)
        + _provider("failing", failing, max_retries=0)
        + _provider("failing2", failing, max_retries=0)
    )
    client = await make_client(providers_file=path)
    ws = await client.ws_connect("/api/ws/round_table")
    record = await (
        await client.post(
            "/api/v1/round-table/compete", json={"prompt": PROMPT}, headers=auth(client, "write")
        )
    ).json()
    assert record["status"] == "failed" and "at least two" in record["error"]
    assert record["winner"] is None and record["ab_test"] is None
    stages = await collect_until(ws, lambda m: m["stage"] in ("completed", "failed"))
    assert [s["stage"] for s in stages] == ["generating", "scoring", "failed"]


@pytest.mark.parametrize(
    ("replies", "agreed", "fragment"),
    [
        (
            [
                "WINNER: A\nCONFIDENCE: 0.9\nREASONING: Answer A is sharper.",
                "WINNER: B\nCONFIDENCE: 0.7\nREASONING: Answer B is sharper.",
            ],
            True,
            "sharper",
        ),
        (
            [
                "WINNER: A\nCONFIDENCE: 0.9\nREASONING: first",
                "WINNER: A\nCONFIDENCE: 0.9\nREASONING: first again",
            ],
            False,
            "position bias",
        ),
        (["I think A is better!"], None, "judgement failed"),
    ],
)
async def test_http_judge_strict_parse_bias_check_and_fallback(
    make_client: ClientFactory,
    fakes: list[FakeOpenAI],
    tmp_path: Path,
    replies: list[str],
    agreed: bool | None,
    fragment: str,
) -> None:
    judge = fakes[0]
    judge.script.extend(("raw", r) for r in replies)
    path = tmp_path / "providers.toml"
    path.write_text(
        '[tasks]\nprovider = "offline-detailed"\n[round_table]\ninclude_offline = true\njudge = "judge"\n'
        + _provider("judge", judge, enabled="false")
    )
    client = await make_client(providers_file=path)
    record = await (
        await client.post(
            "/api/v1/round-table/compete", json={"prompt": PROMPT}, headers=auth(client, "write")
        )
    ).json()
    ab = record["ab_test"]
    assert ab["judge"] == "judge" and ab["position_swapped_agreed"] is agreed
    assert fragment in ab["reasoning"]
    if agreed:
        assert ab["winner"] == ab["finalists"][0] and ab["confidence"] == 0.8
        assert ab["finalists"][0] in ab["reasoning"]
    else:
        assert ab["winner"] == record["entries"][0]["provider"]  # the higher score
    assert "judge" not in {e["provider"] for e in record["entries"]}


async def test_stats_match_stored_records_and_pagination(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    records = []
    for i in range(3):
        names = (
            ["offline-concise", "offline-detailed"]
            if i < 2
            else ["offline-concise", "offline-structured", "offline-analytical"]
        )
        resp = await client.post(
            "/api/v1/round-table/compete",
            json={"prompt": f"{PROMPT} {i}", "providers": names},
            headers=h,
        )
        records.append(await resp.json())
    page = await (await client.get("/api/v1/round-table?limit=2&offset=0", headers=h)).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [r["competition_id"] for r in page["items"]] == [
        records[2]["competition_id"],
        records[1]["competition_id"],
    ]
    rest = await (await client.get("/api/v1/round-table?limit=2&offset=2", headers=h)).json()
    assert [r["competition_id"] for r in rest["items"]] == [records[0]["competition_id"]]
    assert (await client.get("/api/v1/round-table?limit=0", headers=h)).status == 400

    stats = await (await client.get("/api/v1/round-table/stats", headers=h)).json()
    assert isinstance(stats, list)
    by_name = {s["provider"]: s for s in stats}
    for name in ("offline-concise", "offline-detailed", "offline-structured", "offline-analytical"):
        entries = [e for r in records for e in r["entries"] if e["provider"] == name]
        wins = sum(1 for r in records if r["winner"]["provider"] == name)
        s = by_name[name]
        assert s["total_competitions"] == len(entries)
        assert s["wins"] == wins and s["win_rate"] == round(wins / len(entries), 4)
        assert s["avg_score"] == round(sum(e["total_score"] for e in entries) / len(entries), 2)
    assert by_name["offline-friendly"]["total_competitions"] == 0

    providers = await (await client.get("/api/v1/round-table/providers", headers=h)).json()
    assert {p["name"] for p in providers} == set(OFFLINE)
    concise = next(p for p in providers if p["name"] == "offline-concise")
    assert concise["enabled"] is True and concise["total_competitions"] == 3
    assert set(concise) >= {
        "name",
        "display_name",
        "enabled",
        "model",
        "avg_latency_ms",
        "win_rate",
        "total_competitions",
    }


async def test_task_through_the_round_table(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    tasks_ws = await client.ws_connect("/api/ws/tasks")
    rt_ws = await client.ws_connect("/api/ws/round_table")
    task = await (
        await client.post(
            "/api/v1/tasks",
            json={"agentType": "marketing", "prompt": PROMPT, "useRoundTable": True},
            headers=h,
        )
    ).json()
    assert task["useRoundTable"] is True
    updates = await collect_until(tasks_ws, lambda m: m["status"] in ("completed", "failed"))
    assert updates[-1]["status"] == "completed"
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and {20.0, 50.0, 75.0} <= set(progress)
    done = await (await client.get(f"/api/v1/tasks/{task['taskId']}", headers=h)).json()
    assert re.fullmatch(r"comp-[0-9a-f]{12}", done["competitionId"])
    competition = await (
        await client.get(f"/api/v1/round-table/{done['competitionId']}", headers=h)
    ).json()
    assert competition["task_id"] == task["taskId"]
    assert done["result"] == competition["winner"]["response"]
    stages = await collect_until(rt_ws, lambda m: m["stage"] == "completed")
    assert stages[0]["competition_id"] == done["competitionId"]
