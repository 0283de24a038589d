"""The 3D pipeline end to end: REST, the 3d_pipeline channel, the downloaded file."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pygltflib import GLTF2

from devskyy_ws import SERVICES_KEY, STORE_KEY
from devskyy_ws.contract.records import PipelineRecord
from devskyy_ws.services.pipeline3d import pipeline_row

from .conftest import ClientFactory, auth
from .fakes.tripo import FakeTripo
from .fakes.wordpress import FakeWordPress
from .helpers import collect_until

PROMPT = "Victorian rose ring in polished gold"


def _done(m: dict[str, object]) -> bool:
    return m["stage"] in ("completed", "failed")


async def test_offline_path_end_to_end(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    resp = await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=h)
    assert resp.status == 202
    record = await resp.json()
    assert re.fullmatch(r"3d-[0-9a-f]{12}", record["pipeline_id"])
    assert set(record) >= {
        "pipeline_id",
        "stage",
        "progress",
        "prompt",
        "format",
        "quality",
        "created_at",
        "error",
        "asset_url",
    }
    assert record["format"] == "glb" and record["quality"] == "preview" and record["error"] is None

    updates = await collect_until(ws, _done)
    stages = [u["stage"] for u in updates]
    assert stages[-1] == "completed"
    assert [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]] == [
        "generating",
        "validating",
        "uploading",
        "completed",
    ]
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[-1] == 100.0
    first = updates[0]["data"]
    assert (
        first["prompt"] == PROMPT and first["format"] == "glb" and first["started_at"].endswith("Z")
    )

    done = await (
        await client.get(f"/api/v1/3d-pipeline/{record['pipeline_id']}", headers=h)
    ).json()
    assert done["stage"] == "completed" and done["asset_url"].endswith(
        f"/{record['pipeline_id']}/asset"
    )
    asset = await client.get(done["asset_url"], headers=h)
    assert asset.status == 200 and asset.headers["Content-Type"] == "model/gltf-binary"
    gltf = GLTF2.load_from_bytes(await asset.read())
    assert gltf.meshes[0].name == "torus"
    accessor = gltf.accessors[gltf.meshes[0].primitives[0].indices]
    assert 10_000 <= accessor.count // 3 <= 50_000
    assert done["validation"]["triangles"] == accessor.count // 3
    assert gltf.images and gltf.textures

    listing = await (
        await client.get("/api/v1/3d-pipeline?stage=completed&limit=5", headers=h)
    ).json()
    assert listing["total"] == 1 and listing["items"][0]["pipeline_id"] == record["pipeline_id"]
    assert (await (await client.get("/api/v1/3d-pipeline?stage=failed", headers=h)).json())[
        "total"
    ] == 0
    assert (await client.get("/api/v1/3d-pipeline?stage=baking", headers=h)).status == 400


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"prompt": "short"}, "invalid_prompt"),
        ({"prompt": "x" * 501}, "invalid_prompt"),
        ({"prompt": "a ring <script>alert(1)</script>"}, "unsafe_prompt"),
        ({"prompt": "javascript:alert(1) as a ring"}, "unsafe_prompt"),
        ({"prompt": "ring <img src=x onerror=alert(1)>"}, "unsafe_prompt"),
        ({"prompt": PROMPT, "format": "obj"}, "unsupported_format"),
        ({"prompt": PROMPT, "quality": "ultra"}, "invalid_quality"),
        ({"prompt": PROMPT, "image_url": "file:///etc/passwd"}, "invalid_image_url"),
        ({"prompt": PROMPT, "product_id": "12"}, "invalid_product_id"),
    ],
)
async def test_request_validation(
    make_client: ClientFactory, body: dict[str, object], code: str
) -> None:
    client = await make_client()
    resp = await client.post("/api/v1/3d-pipeline", json=body, headers=auth(client, "write"))
    assert resp.status == 422
    assert (await resp.json())["error"] == code


async def test_read_scope_cannot_start(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post(
        "/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=auth(client, "read")
    )
    assert resp.status == 403


async def test_validation_failure_ends_failed_with_reasons(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "providers.toml"
    path.write_text("[pipeline]\npreview_max_triangles = 1000\n")
    client = await make_client(providers_file=path)
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    record = await (
        await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=h)
    ).json()
    updates = await collect_until(ws, _done)
    assert updates[-1]["stage"] == "failed" and "polygon count" in updates[-1]["data"]["error"]
    done = await (
        await client.get(f"/api/v1/3d-pipeline/{record['pipeline_id']}", headers=h)
    ).json()
    assert "validation failed" in done["error"] and done["asset_url"] is None
    assert (
        await client.get(f"/api/v1/3d-pipeline/{record['pipeline_id']}/asset", headers=h)
    ).status == 404


@pytest.fixture
async def tripo() -> AsyncIterator[FakeTripo]:
    fake = await FakeTripo().start()
    yield fake
    await fake.close()


@pytest.fixture
async def wordpress() -> AsyncIterator[FakeWordPress]:
    fake = await FakeWordPress().start()
    yield fake
    await fake.close()


def _tripo_config(tmp_path: Path, tripo: FakeTripo, extra: str = "") -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(
        '[pipeline]\ngenerator = "tripo3d"\n'
        f'tripo_base_url = "{tripo.base_url}"\ntripo_api_key_env = "DEVSKYY_TEST_TRIPO"\n'
        "poll_interval = 0.01\nbackoff_base = 0.001\n" + extra
    )
    return path


async def test_tripo3d_text_to_model(
    make_client: ClientFactory, tripo: FakeTripo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_TRIPO", "tsk_local")
    tripo.create_failures.extend([503])
    client = await make_client(providers_file=_tripo_config(tmp_path, tripo))
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    record = await (
        await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=h)
    ).json()
    updates = await collect_until(ws, _done)
    assert updates[-1]["stage"] == "completed", updates[-1]
    assert tripo.created == [{"type": "text_to_model", "prompt": PROMPT}]
    assert tripo.auth[-1] == "Bearer tsk_local"
    asset = await client.get(f"/api/v1/3d-pipeline/{record['pipeline_id']}/asset", headers=h)
    assert await asset.read() == tripo.model


async def test_tripo3d_image_to_model_and_failed_task(
    make_client: ClientFactory, tripo: FakeTripo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_TRIPO", "tsk_local")
    tripo.states.clear()
    tripo.states.extend(
        [{"status": "running", "progress": 30}, {"status": "failed", "progress": 30}]
    )
    client = await make_client(providers_file=_tripo_config(tmp_path, tripo))
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    body = {"prompt": PROMPT, "image_url": "https://example.com/ring.png"}
    await client.post("/api/v1/3d-pipeline", json=body, headers=auth(client, "write"))
    updates = await collect_until(ws, _done)
    assert updates[-1]["stage"] == "failed" and "ended failed" in updates[-1]["data"]["error"]
    assert tripo.created[0] == {
        "type": "image_to_model",
        "file": {"type": "png", "url": "https://example.com/ring.png"},
    }


async def test_tripo3d_deadline_and_missing_key(
    make_client: ClientFactory, tripo: FakeTripo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tripo.states.clear()
    tripo.states.append({"status": "running", "progress": 10})
    client = await make_client(providers_file=_tripo_config(tmp_path, tripo, "deadline = 0.2\n"))
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=auth(client, "write"))
    missing = await collect_until(ws, _done)
    assert "needs an API key" in missing[-1]["data"]["error"]
    monkeypatch.setenv("DEVSKYY_TEST_TRIPO", "tsk_local")
    await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=auth(client, "write"))
    late = await collect_until(ws, _done)
    assert "did not finish within 0.2s" in late[-1]["data"]["error"]


async def test_tripo3d_circuit_breaker_opens(
    make_client: ClientFactory, tripo: FakeTripo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_TRIPO", "tsk_local")
    tripo.create_failures.extend([500] * 100)
    client = await make_client(providers_file=_tripo_config(tmp_path, tripo, "max_retries = 0\n"))
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    errors = []
    for _ in range(6):
        await client.post(
            "/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=auth(client, "write")
        )
        errors.append((await collect_until(ws, _done))[-1]["data"]["error"])
    assert all("did not answer" in e for e in errors[:5])
    assert "unavailable" in errors[5]
    assert len(tripo.auth) == 5  # the open breaker sent nothing


async def test_wordpress_upload_and_product_meta(
    make_client: ClientFactory,
    wordpress: FakeWordPress,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_WP", "abcd efgh ijkl mnop")
    wordpress.media_failures.append(503)
    path = tmp_path / "providers.toml"
    path.write_text(
        f'[pipeline]\nuploader = "wordpress"\nwordpress_url = "{wordpress.base_url}"\n'
        'wordpress_user = "shop"\nwordpress_app_password_env = "DEVSKYY_TEST_WP"\nbackoff_base = 0.001\n'
    )
    client = await make_client(providers_file=path)
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    body = {"prompt": PROMPT, "quality": "production", "product_id": 42}
    record = await (
        await client.post("/api/v1/3d-pipeline", json=body, headers=auth(client, "write"))
    ).json()
    updates = await collect_until(ws, _done)
    assert updates[-1]["stage"] == "completed", updates[-1]
    assert len(wordpress.media) == 1 and wordpress.media[0]["type"] == "model/gltf-binary"
    assert record["pipeline_id"] in wordpress.media[0]["disposition"]
    assert GLTF2.load_from_bytes(wordpress.media[0]["bytes"]).asset.version == "2.0"
    meta = {m["key"]: m["value"] for m in wordpress.products[42]}
    assert meta["_devskyy_glb_url"] == updates[-1]["data"]["asset_url"]
    assert meta["_devskyy_ar_enabled"] == "yes" and meta["_devskyy_model_quality"] == "production"
    assert meta["_devskyy_model_generated_at"].endswith("Z")


async def test_wordpress_refusal_fails_the_pipeline(
    make_client: ClientFactory,
    wordpress: FakeWordPress,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_WP", "wrong password")
    path = tmp_path / "providers.toml"
    path.write_text(
        f'[pipeline]\nuploader = "wordpress"\nwordpress_url = "{wordpress.base_url}"\n'
        'wordpress_user = "shop"\nwordpress_app_password_env = "DEVSKYY_TEST_WP"\n'
    )
    client = await make_client(providers_file=path)
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=auth(client, "write"))
    updates = await collect_until(ws, _done)
    assert updates[-1]["stage"] == "failed" and "HTTP 401" in updates[-1]["data"]["error"]


async def test_cancel_stops_the_work(
    make_client: ClientFactory, tripo: FakeTripo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSKYY_TEST_TRIPO", "tsk_local")
    tripo.states.clear()
    tripo.states.append({"status": "running", "progress": 10})
    client = await make_client(providers_file=_tripo_config(tmp_path, tripo))
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/3d_pipeline")
    record = await (
        await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=h)
    ).json()
    await collect_until(ws, lambda m: m["progress"] >= 10)
    job = client.app[SERVICES_KEY].pipeline._jobs[record["pipeline_id"]]
    resp = await client.post(f"/api/v1/3d-pipeline/{record['pipeline_id']}/cancel", headers=h)
    assert resp.status == 200
    cancelled = await resp.json()
    assert cancelled["stage"] == "failed" and cancelled["error"] == "cancelled by request"
    await asyncio.wait([job], timeout=5)
    assert job.done()  # the poller is gone: nothing will ask Tripo3D again
    polls = tripo.polls
    stored = await (
        await client.get(f"/api/v1/3d-pipeline/{record['pipeline_id']}", headers=h)
    ).json()
    assert stored["stage"] == "failed" and tripo.polls == polls
    assert (
        await client.post(f"/api/v1/3d-pipeline/{record['pipeline_id']}/cancel", headers=h)
    ).status == 409
    assert (
        await client.get(f"/api/v1/3d-pipeline/{record['pipeline_id']}/asset", headers=h)
    ).status == 404


async def test_interrupted_work_is_marked_failed_on_start(
    make_client: ClientFactory, settings: object, aiohttp_client: object
) -> None:
    client = await make_client()
    store = client.app[STORE_KEY]
    stuck = PipelineRecord(
        pipeline_id="3d-0123456789ab", prompt=PROMPT, stage="validating", progress=60.0
    )
    await store.put(pipeline_row(stuck))
    await client.close()
    again = await make_client()
    record = await (
        await again.get("/api/v1/3d-pipeline/3d-0123456789ab", headers=auth(again))
    ).json()
    assert record["stage"] == "failed" and record["error"] == "interrupted by restart"
    assert (await again.get("/api/v1/3d-pipeline/..%2F..%2Fetc", headers=auth(again))).status == 404


async def _completed(client: object, h: dict[str, str]) -> dict[str, object]:
    resp = await client.post("/api/v1/3d-pipeline", json={"prompt": PROMPT}, headers=h)  # type: ignore[attr-defined]
    pid = (await resp.json())["pipeline_id"]
    for _ in range(500):
        doc = await (await client.get(f"/api/v1/3d-pipeline/{pid}", headers=h)).json()  # type: ignore[attr-defined]
        if doc["stage"] == "completed":
            return dict(doc)
        await asyncio.sleep(0.02)
    raise AssertionError("the pipeline did not complete")


async def test_asset_retention_removes_oldest_first_and_records_say_expired(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client()
    h = auth(client, "write")
    service = client.app[SERVICES_KEY].pipeline
    done = [await _completed(client, h) for _ in range(3)]
    assert all(d["asset_status"] == "available" for d in done)
    assets = tmp_path / "data" / "assets"
    files = [assets / f"{d['pipeline_id']}.glb" for d in done]
    now = time.time()
    for age, path in zip((300, 200, 100), files, strict=True):  # oldest first
        os.utime(path, (now - age, now - age))
    service.config.asset_max_bytes = files[2].stat().st_size + files[1].stat().st_size
    assert await service.expire_assets() == [done[0]["pipeline_id"]]  # over the disk bound
    service.config.asset_max_bytes = 0
    service.config.asset_retention = 150
    assert await service.expire_assets() == [done[1]["pipeline_id"]]  # older than 150 s
    assert not files[0].exists() and not files[1].exists() and files[2].exists()
    for gone in done[:2]:
        record = await (
            await client.get(f"/api/v1/3d-pipeline/{gone['pipeline_id']}", headers=h)
        ).json()
        assert record["asset_status"] == "expired" and record["stage"] == "completed"
        resp = await client.get(f"/api/v1/3d-pipeline/{gone['pipeline_id']}/asset", headers=h)
        assert resp.status == 410 and (await resp.json())["error"] == "asset_expired"
    kept = await client.get(f"/api/v1/3d-pipeline/{done[2]['pipeline_id']}/asset", headers=h)
    assert kept.status == 200 and len(await kept.read()) == files[2].stat().st_size
    assert await service.expire_assets() == []  # nothing more to do


def test_asset_retention_flags() -> None:
    from devskyy_ws.cli import build_parser, settings_from_args

    parser = build_parser()
    args = parser.parse_args(["serve", "--asset-retention", "3600", "--asset-max-bytes", "5000"])
    settings = settings_from_args(parser, args, serve=True)
    assert settings.asset_retention == 3600 and settings.asset_max_bytes == 5000
