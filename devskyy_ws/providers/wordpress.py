"""WordPress uploader: the media library (WP REST API, application password), then the
WooCommerce product's meta (GLB URL, AR enabled, generation date, quality)."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import aiohttp

from ..retry import CircuitBreaker, CircuitOpen, Retry, with_retries
from .three_d import UploadError, UploadRequest

__all__ = ["WordPressUploader"]

RETRYABLE = {429, 500, 502, 503, 504}
MIME = {"glb": "model/gltf-binary"}


class WordPressUploader:
    name = "wordpress"

    def __init__(
        self,
        *,
        base_url: str,
        user: str,
        app_password_env: str = "WP_APP_PASSWORD",  # noqa: S107 - a variable name
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.app_password_env = app_password_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.breaker = breaker or CircuitBreaker()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _auth(self) -> str:
        password = os.environ.get(self.app_password_env, "")
        if not password:
            raise UploadError(
                f"WordPress needs an application password in ${self.app_password_env}"
            )
        token = base64.b64encode(f"{self.user}:{password}".encode()).decode()
        return f"Basic {token}"

    async def _call(self, method: str, url: str, *, ok: tuple[int, ...], **kwargs: Any) -> Any:
        try:
            self.breaker.check()
        except CircuitOpen as exc:
            raise UploadError(f"WordPress is unavailable: {exc}") from exc
        headers = {"Authorization": self._auth(), **kwargs.pop("headers", {})}
        raw = kwargs.pop("data", None)

        async def attempt() -> Any:
            if raw is not None:  # a fresh stream each attempt; raw bytes would block the loop
                kwargs["data"] = io.BytesIO(raw)
            try:
                async with self._http().request(method, url, headers=headers, **kwargs) as resp:
                    if resp.status in ok:
                        self.breaker.success()
                        return await resp.json(content_type=None)
                    if resp.status in RETRYABLE:
                        raise Retry(f"HTTP {resp.status}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise Retry(type(exc).__name__) from exc
            self.breaker.failure()
            where = url.split("/wp-json")[-1]
            raise UploadError(f"WordPress refused {method} {where} (HTTP {resp.status})")

        try:
            return await with_retries(attempt, self.max_retries, self.backoff_base)
        except Retry as exc:
            self.breaker.failure()
            raise UploadError(
                f"WordPress did not answer ({exc.reason} after {self.max_retries + 1} attempts)"
            ) from exc

    async def upload(self, request: UploadRequest) -> str:
        filename = f"{request.pipeline_id}.{request.format}"
        media = await self._call(
            "POST",
            f"{self.base_url}/wp-json/wp/v2/media",
            ok=(200, 201),
            data=request.data,
            headers={
                "Content-Type": MIME.get(request.format, "application/octet-stream"),
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )
        url = media.get("source_url") if isinstance(media, dict) else None
        if not isinstance(url, str):
            raise UploadError("WordPress did not return the media's source_url")
        if request.product_id is not None:
            await self._call(
                "PUT",
                f"{self.base_url}/wp-json/wc/v3/products/{request.product_id}",
                ok=(200,),
                json={
                    "meta_data": [
                        {"key": "_devskyy_glb_url", "value": url},
                        {"key": "_devskyy_ar_enabled", "value": "yes"},
                        {"key": "_devskyy_model_generated_at", "value": request.generated_at},
                        {"key": "_devskyy_model_quality", "value": request.quality},
                    ]
                },
            )
        return url
