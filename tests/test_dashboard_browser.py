"""The dashboard in real headless Chromium against a real server process."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from .browser import ARTIFACTS, browser_page, chromium_path
from .conftest import free_port
from .readme_snippets import snippet
from .server_process import ServerProcess

CHANNELS = ("agents", "tasks", "round_table", "3d_pipeline", "metrics")


async def _all_open(page: Any) -> None:
    for channel in CHANNELS:
        await page.wait_for_selector(
            f'.channels li[data-channel="{channel}"][data-status="open"]', timeout=15_000
        )


async def _sign_in(page: Any, token: str) -> None:
    """Paste a token into the open page, as a user does."""
    await page.fill("#token", token)
    await page.click("#token-form button[type=submit]")


async def _shot(page: Any, name: str, selector: str | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = str(ARTIFACTS / f"{name}.png")
    if selector:
        await page.locator(selector).screenshot(path=path)
    else:
        await page.screenshot(path=path, full_page=True)


async def test_dashboard_end_to_end(tmp_path: Path) -> None:
    chromium_path()
    server = ServerProcess(tmp_path / "data", "--metrics-interval", "0.3")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write")
    try:
        async with browser_page(viewport={"width": 1400, "height": 1000}, bypass_csp=True) as (
            page,
            errors,
        ):
            await page.goto(server.base + "/")
            await _all_open(page)
            assert "python -m devskyy_ws token" in await page.inner_text("#mint")
            await page.wait_for_selector('[data-agent="commerce"] .badge.idle')  # from the snapshot
            assert errors == [], errors
            # Actions without a token explain themselves.
            await page.fill("#task-prompt", "no token yet")
            await page.click("#task-form button[type=submit]")
            await page.wait_for_selector("#auth-status.error")
            assert "mint one" in await page.inner_text("#auth-status")
            assert errors and all("401" in e for e in errors), errors
            errors.clear()
            await _sign_in(page, token)
            await page.wait_for_function(
                "document.querySelector('#auth-status').textContent.includes('Signed in')"
            )
            await page.wait_for_selector('[data-agent="commerce"]')

            # A task: its row reaches 100% and the agent's badge goes running, then idle.
            await page.select_option("#task-agent", "commerce")
            await page.fill("#task-prompt", "Analyze pricing trends for the BLACK ROSE collection")
            await page.click("#task-form button[type=submit]")
            await page.wait_for_selector('[data-agent="commerce"] .badge.running', timeout=10_000)
            await page.wait_for_selector("#tasks tr .badge.completed", timeout=10_000)
            progress = await page.get_attribute("#tasks tbody tr progress", "value")
            assert progress == "100"
            await page.wait_for_selector('[data-agent="commerce"] .badge.idle', timeout=10_000)
            await _shot(page, "dashboard-tasks", "#tasks-panel")
            await _shot(page, "dashboard-agents", "#agents-panel")

            # A Round Table competition: the four stages and a winner with reasoning.
            await page.fill("#rt-prompt", "Generate a marketing campaign for BLACK ROSE collection")
            await page.click("#rt-form button[type=submit]")
            await page.wait_for_selector(
                '#rt-stages li[data-stage="completed"].done', timeout=20_000
            )
            assert "Winner: offline-" in await page.inner_text('[data-role="winner"]')
            assert "Judge (offline-judge" in await page.inner_text('[data-role="reasoning"]')
            assert await page.locator("#rt-result tbody tr").count() == 6
            await _shot(page, "dashboard-round-table", "#rt-panel")

            # The 3D pipeline: stages to completed and a download link.
            await page.fill("#pipeline-prompt", "Victorian rose ring in polished gold")
            await page.click("#pipeline-form button[type=submit]")
            await page.wait_for_selector('#pipelines [data-role="download"]', timeout=20_000)
            await _shot(page, "dashboard-pipeline", "#pipeline-panel")

            # Metrics: uPlot charts, filled from history and moving with live samples,
            # with a time axis, a value axis in the unit, values under the cursor, gaps.
            await page.wait_for_function(
                "Number(document.querySelector('#chart-cpu').dataset.points) >= 3", timeout=10_000
            )
            axes = await page.evaluate(
                "(() => { const p = devskyyDashboard.charts.cpu.plot;"
                " return [p.axes.length, p.axes[1].values(p, [10, 20])]; })()"
            )
            assert axes == [2, ["10%", "20%"]]
            legend = await page.evaluate(
                "(() => { const p = devskyyDashboard.charts.cpu.plot;"
                " return [p.series[1].value(p, 12.34), p.series[1].value(p, null)]; })()"
            )
            assert legend == ["12.3 %", "—"]  # the value under the cursor, with its unit
            assert "CPU" in await page.inner_text("#chart-cpu .u-legend")
            gaps = await page.evaluate(
                "devskyyDashboard.withGaps([0, 10, 20, 80, 90], [1, 2, 3, 4, 5])"
            )
            assert gaps == [[0, 10, 20, 30, 80, 90], [1, 2, 3, None, 4, 5]]  # a gap, not a 0
            await page.select_option("#range", "24h")
            await page.wait_for_function(
                "document.querySelector('#metrics-panel').dataset.range === '24h'", timeout=10_000
            )
            assert int(await page.get_attribute("#chart-rps", "data-points") or 0) >= 1
            await _shot(page, "dashboard-metrics", "#metrics-panel")
            await _shot(page, "dashboard")

            # The server restarts: every channel comes back by itself.
            assert server.terminate() == 0
            await page.wait_for_selector(
                '.channels li[data-channel="tasks"][data-status="connecting"]', timeout=10_000
            )
            server = ServerProcess(tmp_path / "data", "--metrics-interval", "0.3", port=server.port)
            await asyncio.to_thread(server.start)
            await _all_open(page)
            await page.fill("#task-prompt", "After the restart")
            await page.click("#task-form button[type=submit]")
            await page.wait_for_function(
                "document.querySelectorAll('#tasks .badge.completed').length >= 2", timeout=15_000
            )
            # Only the refused reconnects while the server was down may have been logged.
            assert all("ERR_CONNECTION_REFUSED" in e for e in errors), errors
        async with browser_page(viewport={"width": 390, "height": 844}) as (phone, errors):
            await phone.goto(server.base + "/")
            await _all_open(phone)
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"horizontal scroll on a phone: {width}px"
            await _shot(phone, "dashboard-phone")
            assert errors == [], errors
    finally:
        assert server.terminate() == 0


async def _rows(page: Any, count: int) -> list[str]:
    """The task rows' ids, once the table shows exactly `count` of them."""
    await page.wait_for_function(
        f"document.querySelectorAll('#tasks tbody tr').length === {count}", timeout=10_000
    )
    rows = page.locator("#tasks tbody tr")
    return [str(await rows.nth(i).get_attribute("data-task")) for i in range(count)]


async def _rows_become(page: Any, ids: list[str]) -> None:
    """Wait until the task rows are exactly `ids`, in order."""
    await page.wait_for_function(
        "ids => [...document.querySelectorAll('#tasks tbody tr')]"
        ".map(row => row.dataset.task).join() === ids.join()",
        arg=ids,
        timeout=10_000,
    )


async def test_history_loads_on_open_and_pages_filters_and_searches(tmp_path: Path) -> None:
    chromium_path()
    server = ServerProcess(tmp_path / "data", "--rate-limit", "0")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write")
    h = {"Authorization": f"Bearer {token}"}
    try:
        ids = []
        async with aiohttp.ClientSession(server.base) as http:
            for i in range(25):
                body = {"agentType": "support" if i % 5 == 0 else "commerce",
                        "prompt": f"history job {i}" + (" Find-Me" if i == 7 else "")}  # fmt: skip
                async with http.post("/api/v1/tasks", json=body, headers=h) as resp:
                    ids.append((await resp.json())["taskId"])
            pipeline = {"prompt": "Victorian rose ring in gold", "format": "glb"}
            async with http.post("/api/v1/3d-pipeline", json=pipeline, headers=h) as resp:
                assert resp.status == 202
            async with http.post("/api/v1/round-table/compete", json={"prompt": "A slogan"},
                                 headers=h) as resp:  # fmt: skip
                assert resp.status == 200
            # Newest first, as the API orders them: tasks made in the same millisecond (the
            # wire's precision) are ordered by id, not by which POST came first.
            async with http.get("/api/v1/tasks?limit=25", headers=h) as resp:
                listed = await resp.json()
            newest = [task["taskId"] for task in listed]
            times = [datetime.fromisoformat(task["createdAt"]) for task in listed]
            assert times == sorted(times, reverse=True)
            async with http.get("/api/v1/tasks?limit=25&agent_type=support", headers=h) as resp:
                support = [task["taskId"] for task in await resp.json()]
        assert sorted(newest) == sorted(ids)
        assert sorted(support) == sorted(ids[i] for i in (20, 15, 10, 5, 0))
        async with browser_page(viewport={"width": 1280, "height": 800}, bypass_csp=True) as (
            page,
            errors,
        ):
            await page.goto(server.base + "/")
            await _all_open(page)
            for empty in ("#pipelines-empty", "#competitions-empty"):  # nothing before a token
                assert "Paste a token" in await page.inner_text(empty)
            await _sign_in(page, token)
            assert await _rows(page, 20) == newest[:20]  # one page, newest first
            assert await page.is_enabled("#tasks-older") and await page.is_disabled("#tasks-newer")
            await page.click("#tasks-older")
            assert await _rows(page, 5) == newest[20:]
            assert await page.inner_text("#tasks-page") == "Page 2"
            assert await page.is_disabled("#tasks-older") and await page.is_enabled("#tasks-newer")
            await page.select_option("#filter-agent", "support")  # back to the first page
            await _rows_become(page, support)  # page 2 showed five rows too: wait for these
            await page.fill("#filter-q", "find-me")  # support has none: an empty state
            await page.wait_for_function(
                "document.querySelector('#tasks-empty').textContent.includes('No tasks match')"
            )
            assert await page.locator("#tasks tbody tr").count() == 0
            await page.select_option("#filter-agent", "")
            assert await _rows(page, 1) == [ids[7]]
            await page.wait_for_selector("#pipelines li[data-pipeline]")
            await page.wait_for_selector("#competitions li[data-competition]")
            assert await page.inner_text("#pipelines-empty") == ""
            assert "winner" in await page.inner_text("#competitions li")
            await _shot(page, "dashboard-history", "#tasks-panel")
            assert errors == [], errors
    finally:
        assert server.terminate() == 0


async def test_detail_views_show_a_task_a_competition_and_a_pipeline(tmp_path: Path) -> None:
    chromium_path()
    server = ServerProcess(tmp_path / "data")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write")
    h = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(server.base) as http:
            task = {"agentType": "commerce", "prompt": "Price the BLACK ROSE rings"}
            async with http.post("/api/v1/tasks", json=task, headers=h) as resp:
                task_id = (await resp.json())["taskId"]
            async with http.post("/api/v1/round-table/compete", json={"prompt": "A slogan"},
                                 headers=h) as resp:  # fmt: skip
                competition = await resp.json()
            pipeline = {"prompt": "Victorian rose ring in gold", "format": "glb"}
            async with http.post("/api/v1/3d-pipeline", json=pipeline, headers=h) as resp:
                pipeline_id = (await resp.json())["pipeline_id"]
            for _ in range(100):  # both finish in well under a second offline
                async with http.get(f"/api/v1/tasks/{task_id}", headers=h) as resp:
                    done = (await resp.json())["status"] == "completed"
                async with http.get(f"/api/v1/3d-pipeline/{pipeline_id}", headers=h) as resp:
                    done = done and (await resp.json())["stage"] == "completed"
                if done:
                    break
                await asyncio.sleep(0.1)
        async with browser_page(viewport={"width": 1280, "height": 800}, bypass_csp=True) as (
            page,
            errors,
        ):
            await page.goto(server.base + "/")
            await _all_open(page)
            await _sign_in(page, token)
            await _rows(page, 1)
            await page.click(f'#tasks tr[data-task="{task_id}"] [data-role="open"]')
            await page.wait_for_selector("#detail[open] [data-role=result]")
            text = await page.inner_text("#detail")
            assert "Price the BLACK ROSE rings" in text and "offline-" in text
            for name in ("Technique", "Provider", "Tokens", "Cost", "Latency", "created"):
                assert name in text, name
            assert await page.is_disabled("#detail-cancel")  # a finished task
            await page.click("#detail button[value=close]")
            await page.wait_for_selector("#detail", state="hidden")
            await page.click(
                f'#competitions li[data-competition="{competition["competition_id"]}"] button'
            )
            await page.wait_for_selector("#detail[open] [data-role=judge]")
            entries = await page.locator("#detail [data-role=entry]").count()
            assert entries == len(competition["entries"]) == 6
            assert competition["ab_test"]["reasoning"] in await page.inner_text("#detail")
            assert await page.is_hidden("#detail-cancel")
            await page.click("#detail button[value=close]")
            await page.click(f'#pipelines li[data-pipeline="{pipeline_id}"] [data-role="open"]')
            await page.wait_for_selector("#detail[open] [data-role=validation]")
            assert "triangles" in await page.inner_text("#detail [data-role=validation]")
            async with page.expect_download() as download:
                await page.click('#detail [data-role="download"]')
            assert (await download.value).suggested_filename == f"{pipeline_id}.glb"
            await _shot(page, "dashboard-detail", "#detail")
            assert errors == [], errors
    finally:
        assert server.terminate() == 0


async def test_layout_holds_on_a_laptop_and_a_phone(tmp_path: Path) -> None:
    """1280x800 and 390x844, with a full page of tasks: no clipped or scrolling columns,
    lists that keep their size, cards on the phone, toasts, impossible buttons disabled."""
    chromium_path()
    server = ServerProcess(tmp_path / "data", "--rate-limit", "0")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write")
    h = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(server.base) as http:
            for i in range(30):
                body = {"agentType": "commerce", "prompt": f"A long enough prompt number {i}"}
                async with http.post("/api/v1/tasks", json=body, headers=h) as resp:
                    assert resp.status == 201
        for width, height in ((1280, 800), (390, 844)):
            async with browser_page(
                viewport={"width": width, "height": height}, bypass_csp=True
            ) as (page, errors):
                await page.goto(server.base + "/")
                await _all_open(page)
                await _sign_in(page, token)
                await _rows(page, 20)
                layout = await page.evaluate(
                    """(() => {
                      const box = document.querySelector('#tasks-panel .scroll');
                      const row = document.querySelector('#tasks tbody tr');
                      return {table: document.querySelector('#tasks').scrollWidth,
                              box: box.clientWidth, height: box.getBoundingClientRect().height,
                              page: document.documentElement.scrollWidth,
                              row: getComputedStyle(row).display};
                    })()"""
                )
                assert layout["table"] <= layout["box"], layout  # every column in view
                assert layout["height"] <= 26 * 16 + 1, layout  # the list scrolls, not the page
                assert layout["page"] <= width, layout
                assert layout["row"] == ("block" if width < 600 else "table-row"), layout
                # Impossible agent actions are disabled; an action gives a toast.
                card = page.locator('[data-agent="support"]')
                await card.locator(".badge.idle").wait_for()
                assert await card.locator("button", has_text="Start").is_disabled()
                await card.locator("button", has_text="Stop").click()
                await page.wait_for_selector("#toasts .toast:has-text('support: stopped')")
                await card.locator(".badge.stopped").wait_for()
                assert await card.locator("button", has_text="Stop").is_disabled()
                assert await card.locator("button", has_text="Learn").is_disabled()
                await card.locator("button", has_text="Start").click()
                await card.locator(".badge.idle").wait_for()
                # Finished work gives a toast.
                await page.select_option("#task-agent", "commerce")
                await page.fill("#task-prompt", "One more for the toast")
                await page.click("#task-form button[type=submit]")
                await page.wait_for_selector(".toast:has-text('completed')", timeout=10_000)
                await _shot(page, f"dashboard-{width}x{height}")
                assert errors == [], errors
    finally:
        assert server.terminate() == 0


async def test_the_page_shows_the_token_expiry_and_asks_again_when_it_passes(
    tmp_path: Path,
) -> None:
    chromium_path()
    server = ServerProcess(tmp_path / "data")
    await asyncio.to_thread(server.start)
    token = await asyncio.to_thread(server.token, "write", "ops", 6)
    try:
        async with browser_page(viewport={"width": 1280, "height": 800}, bypass_csp=True) as (
            page,
            errors,
        ):
            await page.goto(server.base + "/")
            await _all_open(page)
            await _sign_in(page, token)
            await page.wait_for_function(
                "document.querySelector('#auth-status').textContent.includes('until')"
            )
            assert "Signed in as ops (scope: write) until" in await page.inner_text("#auth-status")
            await page.wait_for_selector("#auth-status.error", timeout=20_000)  # it expires
            assert "expired" in await page.inner_text("#auth-status")
            assert await page.input_value("#token") == ""  # asked for again
            assert errors == [], errors
    finally:
        assert server.terminate() == 0


async def test_readme_browser_snippets_run_in_chromium(tmp_path: Path) -> None:
    chromium_path()
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    server = ServerProcess(tmp_path / "data", "--cors-origins", origin)
    await asyncio.to_thread(server.start)
    html = {
        name: snippet(name)
        .replace("http://127.0.0.1:8000", server.base)
        .replace("ws://127.0.0.1:8000", server.base.replace("http", "ws"))
        for name in ("raw-websocket", "browser-client")
    }

    async def serve(request: web.Request) -> web.Response:
        body = html.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound
        head = '<!doctype html><title>t</title><link rel="icon" href="data:,">'
        return web.Response(text=head + body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    pages = TestServer(app, host="127.0.0.1", port=page_port)
    await pages.start_server()
    try:
        token = await asyncio.to_thread(server.token, "write")
        for name, expect in (
            ("raw-websocket", "Received:"),
            ("browser-client", "tasks channel: open"),
        ):
            async with browser_page() as (page, errors):
                logs: list[str] = []
                page.on("console", lambda m, logs=logs: logs.append(m.text))
                await page.goto(f"{origin}/{name}")
                for _ in range(200):
                    if any(expect in line for line in logs):
                        break
                    await asyncio.sleep(0.05)
                assert any(expect in line for line in logs), logs
                if name == "browser-client":
                    import aiohttp

                    async with aiohttp.ClientSession(
                        headers={"Authorization": f"Bearer {token}"}
                    ) as http:
                        await http.post(
                            f"{server.base}/api/v1/tasks",
                            json={"agentType": "support", "prompt": "hello"},
                        )
                    for _ in range(200):
                        if any(
                            line.startswith("task ") and "completed 100" in line for line in logs
                        ):
                            break
                        await asyncio.sleep(0.05)
                    assert any(
                        line.startswith("task ") and "completed 100" in line for line in logs
                    ), logs
                assert errors == [], errors
    finally:
        await pages.close()
        assert server.terminate() == 0
