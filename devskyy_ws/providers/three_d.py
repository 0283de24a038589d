"""3D generation and asset upload behind two small interfaces.

Generators: the built-in offline one (a real GLB from the prompt) or Tripo3D.
Uploaders: local storage in the data dir (served by the asset endpoint) or WordPress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import attrs

from ..gltf.build import build_glb
from ..private import private_dir, write_private

__all__ = [
    "GenerationError",
    "GenerationRequest",
    "Generator",
    "LocalStorage",
    "OfflineGenerator",
    "UploadError",
    "UploadRequest",
    "Uploader",
]

Progress = Callable[[float], Awaitable[None]]


class GenerationError(Exception):
    """The model could not be generated; the message is safe to show."""


class UploadError(Exception):
    """The asset could not be stored; the message is safe to show."""


@attrs.frozen
class GenerationRequest:
    pipeline_id: str
    prompt: str
    format: str
    quality: str
    image_url: str | None = None


@attrs.frozen
class UploadRequest:
    pipeline_id: str
    data: bytes
    format: str
    quality: str
    product_id: int | None
    generated_at: str


class Generator(Protocol):
    name: str

    async def generate(self, request: GenerationRequest, progress: Progress) -> bytes: ...

    async def close(self) -> None: ...


class Uploader(Protocol):
    name: str

    async def upload(self, request: UploadRequest) -> str:
        """Store the asset; returns its URL (absolute, or relative to the server)."""

    async def close(self) -> None: ...


class OfflineGenerator:
    name = "offline"

    async def generate(self, request: GenerationRequest, progress: Progress) -> bytes:
        await progress(20.0)
        data = await asyncio.to_thread(build_glb, request.prompt, request.quality)
        await progress(55.0)
        return data

    async def close(self) -> None:
        return None


class LocalStorage:
    """Assets as files in `<data dir>/assets`, served by the asset endpoint."""

    name = "local"

    def __init__(self, root: Path, url_for: Callable[[str], str]) -> None:
        self.root = root
        self.url_for = url_for

    def path(self, pipeline_id: str, fmt: str = "glb") -> Path:
        return self.root / f"{pipeline_id}.{fmt}"

    async def upload(self, request: UploadRequest) -> str:
        def write() -> None:
            private_dir(self.root)
            write_private(self.path(request.pipeline_id, request.format), request.data)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise UploadError(f"could not write the asset ({exc.strerror})") from exc
        return self.url_for(request.pipeline_id)

    def expire(self, max_age: float, max_bytes: int, now: float) -> list[str]:
        """Remove assets older than `max_age` seconds, then the oldest until the rest fit
        in `max_bytes` (0 switches either bound off); the pipeline ids removed."""
        try:
            stats = [(p.stat(), p) for p in self.root.glob("3d-*.*")]
            files = sorted(((s.st_mtime, s.st_size, p) for s, p in stats), key=lambda f: f[0])
        except FileNotFoundError:
            return []
        held = sum(size for _, size, _ in files)
        removed = []
        for mtime, size, path in files:
            too_old = max_age > 0 and now - mtime > max_age
            too_much = max_bytes > 0 and held > max_bytes
            if not (too_old or too_much):
                break
            path.unlink(missing_ok=True)
            held -= size
            removed.append(path.stem)
        return removed

    async def close(self) -> None:
        return None
