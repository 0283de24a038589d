"""Every route in one place: the API document's paths plus the ones users need."""

from __future__ import annotations

from aiohttp import web

from .http.handlers import (
    agents,
    docs,
    events,
    health,
    monitoring,
    pipeline3d,
    publish_ws,
    round_table,
    static,
    tasks,
    three_d,
    ws,
)

__all__ = ["setup_routes"]


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/health", health.health)
    r.add_get("/ready", health.ready)
    r.add_get("/live", health.live)
    r.add_get("/api/v1/health", health.health)
    r.add_get("/api/v1/auth/me", health.auth_me)
    r.add_post("/api/v1/events", events.publish_event)

    r.add_get("/api/v1/agents", agents.list_agents)
    r.add_get("/api/v1/agents/{agent_type}", agents.get_agent)
    r.add_get("/api/v1/agents/{agent_type}/tools", agents.tools)
    r.add_get("/api/v1/agents/{agent_type}/stats", agents.stats)
    r.add_post("/api/v1/agents/{agent_type}/execute", agents.execute)
    r.add_post("/api/v1/agents/{agent_type}/start", agents.start)
    r.add_post("/api/v1/agents/{agent_type}/stop", agents.stop)
    r.add_post("/api/v1/agents/{agent_type}/learn", agents.learn)

    r.add_get("/api/v1/tasks", tasks.list_tasks)
    r.add_post("/api/v1/tasks", tasks.submit_task)
    r.add_get("/api/v1/tasks/{task_id}", tasks.get_task)
    r.add_post("/api/v1/tasks/{task_id}/cancel", tasks.cancel_task)

    # fixed paths before /{competition_id}, so "stats" is never read as an id
    r.add_get("/api/v1/round-table", round_table.list_competitions)
    r.add_post("/api/v1/round-table/compete", round_table.compete)
    r.add_get("/api/v1/round-table/stats", round_table.stats)
    r.add_get("/api/v1/round-table/providers", round_table.providers)
    r.add_get("/api/v1/round-table/latest", round_table.latest)
    r.add_get("/api/v1/round-table/{competition_id}", round_table.get_competition)

    r.add_post("/api/v1/3d-pipeline", pipeline3d.start_pipeline)
    r.add_get("/api/v1/3d-pipeline", pipeline3d.list_pipelines)
    r.add_get("/api/v1/3d-pipeline/{pipeline_id}", pipeline3d.get_pipeline)
    r.add_get("/api/v1/3d-pipeline/{pipeline_id}/asset", pipeline3d.asset, name="pipeline_asset")
    r.add_post("/api/v1/3d-pipeline/{pipeline_id}/cancel", pipeline3d.cancel)

    # the original DevSkyy frontend's 3D routes, onto the same pipeline
    r.add_get("/api/v1/3d/status", three_d.status)
    r.add_get("/api/v1/3d/providers", three_d.providers)
    r.add_get("/api/v1/3d/jobs", three_d.jobs)
    r.add_get("/api/v1/3d/jobs/{job_id}", three_d.job)
    r.add_post("/api/v1/3d/generate/text", three_d.generate_text)
    r.add_post("/api/v1/3d/generate/image", three_d.generate_image)

    r.add_get("/api/v1/monitoring/metrics", monitoring.monitoring_metrics)
    r.add_get("/metrics", monitoring.prometheus_metrics)

    r.add_get("/api/ws/publish", publish_ws.publish_socket)  # before {channel}: producers
    r.add_get("/api/ws/{channel}", ws.channel_socket)
    r.add_get("/ws/{channel}", ws.channel_socket)  # where the original DevSkyy frontend looks
    r.add_get("/static/{name}", static.static_file)
    r.add_get("/", static.dashboard)
    r.add_get("/api/v1/openapi.json", docs.openapi)
    r.add_get("/api/v1/asyncapi.json", docs.asyncapi)
    r.add_get("/api/docs", docs.docs_page)
