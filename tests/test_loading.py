"""Rows that cannot be read back: logged, counted, skipped; never a broken start-up."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from devskyy_ws import Settings, create_app
from devskyy_ws.contract.records import PipelineRecord
from devskyy_ws.keys import STORE_KEY
from devskyy_ws.services.loading import RecordLoader, Unreadable
from devskyy_ws.store.base import Row

from .conftest import auth
from .system import postgres_url

__all__ = ["postgres_url"]

PROMPT = "A small ceramic vase with a matte glaze"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bad-rows.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _bad(row_id: str, kind: str, status: str, doc: dict[str, Any], /, **broken: Any) -> Row:
    return Row(
        id=row_id,
        kind=kind,
        status=status,
        group_key="",
        created_at=1e9,  # oldest: sorts last
        doc={**doc, **broken},
    )


async def _until(client: TestClient[Any, Any], path: str, ready: Any) -> dict[str, Any]:
    for _ in range(500):
        doc: dict[str, Any] = await (await client.get(path, headers=auth(client))).json()
        if ready(doc):
            return doc
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never got ready")


async def test_unreadable_rows_do_not_stop_start_up_lists_or_other_rows(
    aiohttp_client: Any, settings: Settings, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    configured = attrs.evolve(settings, database=database)
    first: TestClient[Any, web.Application] = await aiohttp_client(create_app(configured))
    h = auth(first, "write")
    pipeline = await (
        await first.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=h)
    ).json()
    pid = pipeline["pipeline_id"]
    await _until(first, f"/api/v1/3d-pipeline/{pid}", lambda d: d["stage"] == "completed")
    competition = await (
        await first.post("/api/v1/round-table/compete", json={"prompt": PROMPT}, headers=h)
    ).json()
    cid = competition["competition_id"]
    store = first.app[STORE_KEY]
    good_pipeline = await store.get("pipeline", pid)
    good_competition = await store.get("competition", cid)
    assert good_pipeline is not None and good_competition is not None
    bad_pid, bad_cid = "3d-0badbadbad00", "comp-0badbadbad00"
    await store.put(  # the record the probe made: product_id 10**20, left generating
        _bad(
            bad_pid,
            "pipeline",
            "generating",
            good_pipeline,
            pipeline_id=bad_pid,
            product_id=10**20,
            stage="generating",
        )
    )
    await store.put(
        _bad(
            bad_cid,
            "competition",
            "generating",
            good_competition,
            competition_id=bad_cid,
            status="generating",
            total_cost_usd="lots",
        )
    )
    await first.close()

    with caplog.at_level(logging.ERROR, "devskyy_ws.store"):
        second: TestClient[Any, web.Application] = await aiohttp_client(create_app(configured))
        h = auth(second)
        pipelines = await (await second.get("/api/v1/3d-pipeline", headers=h)).json()
        assert [p["pipeline_id"] for p in pipelines["items"]] == [pid]
        assert (await second.get(f"/api/v1/3d-pipeline/{pid}", headers=h)).status == 200
        resp = await second.get(f"/api/v1/3d-pipeline/{bad_pid}", headers=h)
        assert resp.status == 500
        body = await resp.json()
        assert body["error"] == "unreadable_record" and bad_pid in body["message"]
        competitions = await (await second.get("/api/v1/round-table", headers=h)).json()
        assert [c["competition_id"] for c in competitions["items"]] == [cid]
        resp = await second.get(f"/api/v1/round-table/{bad_cid}", headers=h)
        assert resp.status == 500 and (await resp.json())["error"] == "unreadable_record"
        for _ in range(3):  # asked again and again, logged once
            await second.get(f"/api/v1/3d-pipeline/{bad_pid}", headers=h)
        metrics = await (await second.get("/metrics")).text()
    assert "devskyy_store_unreadable_records_total" in metrics
    logged = [r for r in caplog.records if bad_pid in r.getMessage()]
    assert len(logged) == 1 and "product_id" in logged[0].getMessage()
    assert any(bad_cid in r.getMessage() for r in caplog.records)


def test_the_loader_skips_in_lists_and_raises_for_one() -> None:
    loader = RecordLoader()
    assert loader.many([{"pipeline_id": "3d-x"}], PipelineRecord, "pipeline") == []
    with pytest.raises(Unreadable) as info:
        loader.one({"pipeline_id": "3d-x"}, PipelineRecord, "pipeline")
    assert info.value.status == 500 and "3d-x" in info.value.message
    assert loader.unreadable == 2
