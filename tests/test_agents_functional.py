"""Agents REST section with the agents channel watching."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from devskyy_ws import SERVICES_KEY, STORE_KEY
from devskyy_ws.contract import serde
from devskyy_ws.contract.records import TaskRecord
from devskyy_ws.services.tasks import task_row

from .conftest import ClientFactory, auth
from .helpers import collect_until, next_message

TYPES = ["commerce", "creative", "marketing", "support", "operations", "analytics"]


async def test_list_is_a_bare_array_in_the_documents_shape(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.get("/api/v1/agents", headers=auth(client, "read"))
    agents = await resp.json()
    assert isinstance(agents, list)
    assert [a["type"] for a in agents] == TYPES
    commerce = agents[0]
    assert commerce["id"] == "commerce-001" and commerce["status"] == "idle"
    assert {"product_management", "pricing_optimization", "inventory_tracking"} <= set(
        commerce["capabilities"]
    )
    assert set(commerce) == {
        "id",
        "type",
        "name",
        "description",
        "status",
        "capabilities",
        "tools",
        "mlModels",
        "stats",
    }
    assert set(commerce["stats"]) == {
        "tasksCompleted",
        "successRate",
        "avgLatencyMs",
        "totalCostUsd",
        "learningCycles",
    }
    assert set(commerce["tools"][0]) == {"name", "description", "category", "parameters"}
    creative = agents[1]
    assert {"image_generation", "3d_model_creation"} <= set(creative["capabilities"])


async def test_single_agent_tools_stats_and_404s(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    assert (await (await client.get("/api/v1/agents/creative", headers=h)).json())[
        "id"
    ] == "creative-001"
    tools = await (await client.get("/api/v1/agents/creative/tools", headers=h)).json()
    assert isinstance(tools, list) and tools[0]["name"] == "generate_image"
    stats = await (await client.get("/api/v1/agents/creative/stats", headers=h)).json()
    assert stats["tasksCompleted"] == 0 and stats["learningCycles"] == 0
    for method, path in [
        ("GET", "/api/v1/agents/wizard"),
        ("GET", "/api/v1/agents/wizard/tools"),
        ("GET", "/api/v1/agents/wizard/stats"),
        ("POST", "/api/v1/agents/wizard/execute"),
        ("POST", "/api/v1/agents/wizard/start"),
        ("POST", "/api/v1/agents/wizard/stop"),
        ("POST", "/api/v1/agents/wizard/learn"),
    ]:
        resp = await client.request(method, path, headers=h, json={"task": "x"})
        assert resp.status == 404, path
        assert (await resp.json())["error"] == "agent_not_found"


async def test_agents_file_overrides_a_default(
    make_client: ClientFactory, tmp_path: object
) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "agents.toml"
    path.write_text(
        '[[agents]]\ntype = "support"\nname = "Concierge"\ndescription = "VIP"\ncapabilities = ["vip_care"]\n'
    )
    client = await make_client(agents_file=path)
    agent = await (await client.get("/api/v1/agents/support", headers=auth(client))).json()
    assert agent["name"] == "Concierge" and agent["capabilities"] == ["vip_care"]
    assert len(await (await client.get("/api/v1/agents", headers=auth(client))).json()) == 6


async def test_execute_streams_status_and_progress(make_client: ClientFactory) -> None:
    client = await make_client()
    agents_ws = await client.ws_connect("/api/ws/agents")
    tasks_ws = await client.ws_connect("/api/ws/tasks")
    prompt = "Create a new product for BLACK ROSE collection " + "with velvet details " * 10
    resp = await client.post(
        "/api/v1/agents/commerce/execute",
        json={"task": prompt, "parameters": {}, "use_round_table": False},
        headers=auth(client, "write"),
    )
    assert resp.status == 202
    body = await resp.json()
    assert set(body) == {
        "task_id",
        "agent_type",
        "status",
        "result",
        "latency_ms",
        "technique_used",
    }
    assert re.fullmatch(r"task-[0-9a-f]{12}", body["task_id"])
    assert (
        body["status"] == "started" and body["result"] is None and body["agent_type"] == "commerce"
    )
    assert body["technique_used"]

    updates = await collect_until(tasks_ws, lambda m: m.get("status") in ("completed", "failed"))
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert updates[-1]["status"] == "completed"
    assert (
        updates[-1]["data"]["agent_id"] == "commerce-001"
        and updates[-1]["data"]["agent_type"] == "commerce"
    )

    statuses = await collect_until(agents_ws, lambda m: m.get("status") == "idle")
    assert [s["status"] for s in statuses] == ["running", "completed", "idle"]
    running = statuses[0]
    assert running["agent_id"] == "commerce-001"
    assert running["data"]["task_id"] == body["task_id"]
    assert running["data"]["prompt_preview"] == prompt[:100] + "..."
    assert running["data"]["started_at"].endswith("Z")
    assert statuses[1]["data"]["duration_ms"] > 0
    assert statuses[1]["data"]["technique_used"] == body["technique_used"]

    task = await (await client.get(f"/api/v1/tasks/{body['task_id']}", headers=auth(client))).json()
    assert task["status"] == "completed" and task["result"].startswith("[offline:")
    stats = await (await client.get("/api/v1/agents/commerce/stats", headers=auth(client))).json()
    assert (
        stats["tasksCompleted"] == 1 and stats["successRate"] == 1.0 and stats["avgLatencyMs"] > 0
    )


async def test_stop_refuses_work_with_409_and_start_resumes(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    ws = await client.ws_connect("/api/ws/agents")
    stopped = await (await client.post("/api/v1/agents/support/stop", headers=h)).json()
    assert stopped["status"] == "stopped"
    assert (await next_message(ws))["status"] == "stopped"
    refused = await client.post("/api/v1/agents/support/execute", json={"task": "help"}, headers=h)
    assert refused.status == 409 and (await refused.json())["error"] == "agent_stopped"
    refused_task = await client.post(
        "/api/v1/tasks", json={"agentType": "support", "prompt": "help"}, headers=h
    )
    assert refused_task.status == 409
    started = await (await client.post("/api/v1/agents/support/start", headers=h)).json()
    assert started["status"] == "idle"
    assert (await next_message(ws))["status"] == "idle"
    ok = await client.post("/api/v1/agents/support/execute", json={"task": "help"}, headers=h)
    assert ok.status == 202


async def test_learn_shows_learning_then_idle_and_counts_a_cycle(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    ws = await client.ws_connect("/api/ws/agents")
    resp = await client.post("/api/v1/agents/marketing/learn", headers=auth(client, "write"))
    assert resp.status == 202
    seen = await collect_until(ws, lambda m: m["status"] == "idle")
    assert [m["status"] for m in seen] == ["learning", "idle"]
    stats = await (await client.get("/api/v1/agents/marketing/stats", headers=auth(client))).json()
    assert stats["learningCycles"] == 1


async def test_learning_changes_a_later_choice(make_client: ClientFactory) -> None:
    client = await make_client()
    h = auth(client, "write")
    prompt = "Analyze pricing trends and forecast the KPI"
    first = await (
        await client.post("/api/v1/agents/analytics/execute", json={"task": prompt}, headers=h)
    ).json()
    assert first["technique_used"] == "chain_of_thought"
    # History in the real store: chain_of_thought keeps failing here, self_consistency works.
    store = client.app[STORE_KEY]
    base = datetime.now(UTC) - timedelta(days=1)
    rows = []
    for i in range(20):
        technique = "chain_of_thought" if i % 2 else "self_consistency"
        task = TaskRecord(
            task_id=f"task-hist{i:07x}",
            agent_type="analytics",
            prompt=prompt,
            status="failed" if technique == "chain_of_thought" else "completed",
            technique_used=technique,
            category="analysis",
            created_at=base + timedelta(seconds=i),
        )
        task.metrics.latency_ms = 100.0
        rows.append(task_row(task))
    await store.put_many(rows)
    ws = await client.ws_connect("/api/ws/agents")
    await client.post("/api/v1/agents/analytics/learn", headers=h)
    await collect_until(ws, lambda m: "learning_cycles" in m["data"])
    second = await (
        await client.post("/api/v1/agents/analytics/execute", json={"task": prompt}, headers=h)
    ).json()
    assert second["technique_used"] == "self_consistency"
    prefs = client.app[SERVICES_KEY].agents.agents["analytics"].preferences
    assert (
        prefs["analysis"]["chain_of_thought"].success_rate
        < prefs["analysis"]["self_consistency"].success_rate
    )
    assert serde.format_timestamp(base).endswith("Z")
