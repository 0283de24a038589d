"""Tripo3D client: create a text- or image-to-model task, poll it, download the model.

API (v2 openapi): POST {base}/task with {"type": "text_to_model", "prompt": ...} or
{"type": "image_to_model", "file": {"type": "jpg", "url": ...}} answers
{"code": 0, "data": {"task_id": ...}}; GET {base}/task/{id} answers {"code": 0, "data":
{"status": queued|running|success|failed|cancelled|banned|expired|unknown, "progress":
0-100, "output": {"model" | "pbr_model": url}}}. Bearer API key.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import aiohttp

from ..retry import CircuitBreaker, CircuitOpen, Retry, with_retries
from .three_d import GenerationError, GenerationRequest, Progress

__all__ = ["TripoClient"]

RETRYABLE = {429, 500, 502, 503, 504}
FAILED = {"failed", "cancelled", "banned", "expired", "unknown"}


class TripoClient:
    name = "tripo3d"

    def __init__(
        self,
        *,
        base_url: str = "https://api.tripo3d.ai/v2/openapi",
        api_key_env: str = "TRIPO_API_KEY",
        poll_interval: float = 2.0,
        deadline: float = 600.0,
        request_timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        max_bytes: int = 100 * 1024 * 1024,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_bytes = max_bytes
        self.breaker = breaker or CircuitBreaker()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.request_timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise GenerationError(f"Tripo3D needs an API key in ${self.api_key_env}")
        return {"Authorization": f"Bearer {key}"}

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        """One API call with retries on 429/5xx/connection errors and the breaker."""
        try:
            self.breaker.check()
        except CircuitOpen as exc:
            raise GenerationError(f"Tripo3D is unavailable: {exc}") from exc

        async def attempt() -> Any:
            try:
                async with self._http().request(
                    method, url, headers=self._headers(), **kwargs
                ) as resp:
                    if resp.status in RETRYABLE:
                        raise Retry(f"HTTP {resp.status}")
                    if resp.status >= 400:
                        self.breaker.failure()
                        raise GenerationError(f"Tripo3D refused the request (HTTP {resp.status})")
                    doc = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise Retry(type(exc).__name__) from exc
            if (
                not isinstance(doc, dict)
                or doc.get("code") != 0
                or not isinstance(doc.get("data"), dict)
            ):
                message = doc.get("message") if isinstance(doc, dict) else None
                self.breaker.failure()
                raise GenerationError(f"Tripo3D error: {message or 'malformed response'}")
            self.breaker.success()
            return doc["data"]

        try:
            return await with_retries(attempt, self.max_retries, self.backoff_base)
        except Retry as exc:
            self.breaker.failure()
            raise GenerationError(
                f"Tripo3D did not answer ({exc.reason} after {self.max_retries + 1} attempts)"
            ) from exc

    async def generate(self, request: GenerationRequest, progress: Progress) -> bytes:
        body: dict[str, Any]
        if request.image_url:
            suffix = request.image_url.rsplit(".", 1)[-1].lower()
            kind = suffix if suffix in ("jpg", "jpeg", "png", "webp") else "jpg"
            body = {"type": "image_to_model", "file": {"type": kind, "url": request.image_url}}
        else:
            body = {"type": "text_to_model", "prompt": request.prompt}
        created = await self._call("POST", f"{self.base_url}/task", json=body)
        task_id = created.get("task_id")
        if not isinstance(task_id, str):
            raise GenerationError("Tripo3D did not return a task_id")
        await progress(10.0)
        give_up = time.monotonic() + self.deadline
        while True:
            data = await self._call("GET", f"{self.base_url}/task/{task_id}")
            status = data.get("status")
            remote = data.get("progress")
            if isinstance(remote, int | float):
                await progress(10.0 + 40.0 * max(0.0, min(100.0, float(remote))) / 100.0)
            if status == "success":
                output = data.get("output") or {}
                url = output.get("pbr_model") or output.get("model")
                if not isinstance(url, str):
                    raise GenerationError("Tripo3D finished without a model URL")
                return await self._download(url)
            if status in FAILED:
                raise GenerationError(f"Tripo3D task {task_id} ended {status}")
            if time.monotonic() >= give_up:
                raise GenerationError(
                    f"Tripo3D task {task_id} did not finish within {self.deadline:g}s"
                )
            await asyncio.sleep(self.poll_interval)

    async def _download(self, url: str) -> bytes:
        try:
            async with self._http().get(url) as resp:
                if resp.status != 200:
                    raise GenerationError(f"model download failed (HTTP {resp.status})")
                if (resp.content_length or 0) > self.max_bytes:
                    raise GenerationError("the model is larger than the size limit")
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise GenerationError("the model is larger than the size limit")
                    chunks.append(chunk)
                return b"".join(chunks)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GenerationError(f"model download failed ({type(exc).__name__})") from exc
