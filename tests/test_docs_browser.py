"""The API reference page in Chromium, served standalone and mounted under a prefix: every
REST operation and every channel message of the served documents appears, and its links
work."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from devskyy_ws.contract.asyncapi import asyncapi_document
from devskyy_ws.contract.openapi import openapi_document

from .browser import browser_page, chromium_path
from .conftest import free_port
from .server_process import ServerProcess

EMBED = Path(__file__).resolve().parents[1] / "examples" / "embed.py"


def _expected() -> tuple[set[str], set[str]]:
    operations = {
        f"{method.upper()} {path}"
        for path, item in openapi_document()["paths"].items()
        for method in item
    }
    asyncapi = asyncapi_document()
    messages = {
        ref["$ref"].split("/")[-1]
        for channel in asyncapi["channels"].values()
        for ref in channel["messages"].values()
    }
    return operations, messages


async def _check(url: str) -> None:
    operations, messages = _expected()
    async with browser_page(viewport={"width": 1280, "height": 800}, bypass_csp=True) as (
        page,
        errors,
    ):
        await page.goto(url)
        await page.wait_for_function(
            f"document.querySelectorAll('[data-operation]').length >= {len(operations)}"
        )
        shown = set(await page.eval_on_selector_all(
            "[data-operation]", "nodes => nodes.map(n => n.dataset.operation)"))  # fmt: skip
        assert shown == operations
        named = set(await page.eval_on_selector_all(
            "[data-message]", "nodes => nodes.map(n => n.dataset.message)"))  # fmt: skip
        assert named == messages
        links = await page.eval_on_selector_all("header a", "nodes => nodes.map(n => n.href)")
        assert errors == [], errors
    async with aiohttp.ClientSession() as http:
        for link in links:
            async with http.get(link) as resp:
                assert resp.status == 200, link


async def test_the_reference_renders_everything_at_the_root(tmp_path: Path) -> None:
    chromium_path()
    server = ServerProcess(tmp_path / "data")
    await asyncio.to_thread(server.start)
    try:
        await _check(server.base + "/api/docs")
    finally:
        await asyncio.to_thread(server.terminate)


async def test_the_reference_renders_everything_under_a_prefix(tmp_path: Path) -> None:
    chromium_path()
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EMBED), "--port", str(port), "--data-dir", str(tmp_path / "data"),
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/devskyy"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        await _check(base + "/api/docs")
    finally:
        proc.terminate()
        await proc.wait()
