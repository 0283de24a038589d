"""The 3D asset pipeline: generate → validate → upload, streamed on `3d_pipeline`.

Stages are the document's (generating, validating, uploading, completed, failed);
progress only rises and ends at 100 on completion. A cancelled run ends `failed` with
the error "cancelled by request", since the document has no cancelled stage.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any

from ..channels.hub import Hub
from ..contract import serde
from ..contract.messages import PipelineUpdate, utcnow
from ..contract.records import PipelineRecord
from ..contract.requests import PIPELINE_PROMPT_CHARS
from ..gltf.check import check_glb
from ..providers.three_d import (
    GenerationError,
    GenerationRequest,
    LocalStorage,
    UploadError,
    UploadRequest,
)
from ..store.base import Row, Store
from .errors import Conflict, Invalid, NotFound
from .ids import FreshIds
from .loading import RecordLoader
from .pipeline_config import PipelineConfig

__all__ = ["PIPELINE_ID", "PipelineService", "pipeline_row"]

log = logging.getLogger("devskyy_ws.pipeline3d")
SWEEP_S = 60.0  # how often the asset retention bounds are applied

PIPELINE_ID = re.compile(r"3d-[0-9a-f]{12}")
ACTIVE = ("generating", "validating", "uploading")
_MARKUP = re.compile(r"<\s*script|javascript\s*:|on\w+\s*=|<\s*iframe|<\s*img", re.I)


def pipeline_row(record: PipelineRecord) -> Row:
    return Row(
        id=record.pipeline_id,
        kind="pipeline",
        status=record.stage,
        group_key="",
        created_at=record.created_at.timestamp(),
        doc=serde.unstructure(record),
    )


def validate_request(prompt: str) -> None:
    """The rules past the request's documented limits (contract/requests.py).

    Raises:
        Invalid: a prompt that is blank-padded to length, or holds markup.
    """
    low, high = PIPELINE_PROMPT_CHARS
    if not low <= len(prompt.strip()) <= high:
        raise Invalid("invalid_prompt", f"The prompt must be {low} to {high} characters.")
    if _MARKUP.search(prompt):
        raise Invalid("unsafe_prompt", "The prompt must not contain markup or script.")


class PipelineService:
    def __init__(
        self, store: Store, hub: Hub, config: PipelineConfig, loader: RecordLoader | None = None
    ) -> None:
        self.store = store
        self.ids = FreshIds("3d")
        self.loader = loader or RecordLoader()
        self.hub = hub
        self.config = config
        self.active: dict[str, PipelineRecord] = {}
        self.finished: dict[str, int] = {}
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(config.max_concurrent)
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        leftovers = await self.store.in_status("pipeline", list(ACTIVE))
        for record in self.loader.many(leftovers, PipelineRecord, "pipeline"):
            record.stage = "failed"
            record.error = "interrupted by restart"
            await self.store.put(pipeline_row(record))
        self.hub.snapshot_providers["3d_pipeline"] = self.snapshot
        if isinstance(self.config.uploader, LocalStorage):
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.expire_assets()
            except Exception:
                log.exception("expiring 3D assets failed")
            await asyncio.sleep(SWEEP_S)

    async def expire_assets(self) -> list[str]:
        """Apply the retention bounds; each removed asset's record says `expired`."""
        uploader = self.config.uploader
        if not isinstance(uploader, LocalStorage):
            return []
        removed = await asyncio.to_thread(
            uploader.expire,
            self.config.asset_retention,
            self.config.asset_max_bytes,
            time.time(),
        )
        for pipeline_id in removed:
            doc = await self.store.get("pipeline", pipeline_id)
            if doc is None:
                continue
            for record in self.loader.many([doc], PipelineRecord, "pipeline"):
                record.asset_status = "expired"
                await self.store.put(pipeline_row(record))
        return removed

    async def stop(self, grace: float) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        jobs = list(self._jobs.values())
        if jobs:
            await asyncio.wait(jobs, timeout=grace)
        for pipeline_id, job in list(self._jobs.items()):
            record = self.active.get(pipeline_id)
            if record is not None and not record.finished:
                record.stage = "failed"
                record.error = "interrupted by shutdown"
                await self.store.put(pipeline_row(record))
            job.cancel()
        await self.config.generator.close()
        await self.config.uploader.close()

    def snapshot(self) -> dict[str, Any]:
        return {
            "pipelines": [
                {
                    "pipeline_id": r.pipeline_id,
                    "stage": r.stage,
                    "progress": r.progress,
                    "prompt": r.prompt,
                }
                for r in self.active.values()
            ]
        }

    async def get(self, pipeline_id: str) -> PipelineRecord:
        live = self.active.get(pipeline_id)
        if live is not None:
            return live
        doc = (
            await self.store.get("pipeline", pipeline_id)
            if PIPELINE_ID.fullmatch(pipeline_id)
            else None
        )
        if doc is None:
            raise NotFound("pipeline_not_found", f"No pipeline with id {pipeline_id!r}.")
        return self.loader.one(doc, PipelineRecord, "pipeline")

    async def page(
        self, limit: int, offset: int, stage: str | None
    ) -> tuple[list[PipelineRecord], int]:
        stages = [stage] if stage else None
        docs = await self.store.list_docs("pipeline", limit=limit, offset=offset, statuses=stages)
        total = await self.store.count("pipeline", statuses=stages)
        stored = self.loader.many(docs, PipelineRecord, "pipeline")
        return [self.active.get(r.pipeline_id) or r for r in stored], total

    def asset_path(self, record: PipelineRecord) -> Path | None:
        uploader = self.config.uploader
        if record.stage != "completed" or not isinstance(uploader, LocalStorage):
            return None
        path = uploader.path(record.pipeline_id, record.format)
        return path if path.is_file() else None

    async def submit(
        self,
        prompt: str,
        fmt: str = "glb",
        quality: str = "preview",
        image_url: str | None = None,
        product_id: int | None = None,
    ) -> PipelineRecord:
        """Validate, persist, start. Types and limits were checked with the request.

        Raises:
            Invalid: a prompt the pipeline cannot accept.
        """
        validate_request(prompt)
        record = PipelineRecord(
            pipeline_id="",  # drawn by FreshIds
            prompt=prompt.strip(),
            format=fmt,
            quality=quality,
            image_url=image_url,
            product_id=product_id,
            generator=self.config.generator.name,
        )
        await self.ids.insert(self.store, record, "pipeline_id", pipeline_row)
        self.active[record.pipeline_id] = record
        await self._publish(record)
        job = asyncio.create_task(self._run(record))
        self._jobs[record.pipeline_id] = job
        job.add_done_callback(lambda _: self._jobs.pop(record.pipeline_id, None))
        return record

    async def cancel(self, pipeline_id: str) -> PipelineRecord:
        record = await self.get(pipeline_id)
        if record.finished:
            raise Conflict("pipeline_finished", f"Pipeline {pipeline_id} already {record.stage}.")
        record.stage = "failed"
        record.error = "cancelled by request"
        record.completed_at = utcnow()
        job = self._jobs.pop(pipeline_id, None)
        if job is not None:
            job.cancel()
        self.active.pop(pipeline_id, None)
        self._count(record)
        await self.store.put(pipeline_row(record))
        await self._publish(record)
        return record

    def _count(self, record: PipelineRecord) -> None:
        self.finished[record.stage] = self.finished.get(record.stage, 0) + 1

    async def _publish(self, record: PipelineRecord) -> None:
        data: dict[str, Any] = {
            "prompt": record.prompt[:100] + ("..." if len(record.prompt) > 100 else ""),
            "format": record.format,
            "quality": record.quality,
            "started_at": serde.format_timestamp(record.created_at),
        }
        if record.error:
            data["error"] = record.error
        if record.asset_url:
            data["asset_url"] = record.asset_url
        if record.validation:
            data["triangles"] = record.validation.get("triangles")
        await self.hub.publish(
            "3d_pipeline",
            PipelineUpdate(
                pipeline_id=record.pipeline_id,
                stage=record.stage,
                progress=record.progress,
                data=data,
            ),
        )

    async def _advance(self, record: PipelineRecord, stage: str, progress: float) -> None:
        """Move on, never backwards, and never after a cancel."""
        if record.finished:
            raise asyncio.CancelledError
        changed = stage != record.stage
        record.stage = stage
        if progress > record.progress:
            record.progress = progress
        elif not changed:
            return
        await self._publish(record)

    async def _run(self, record: PipelineRecord) -> None:
        try:
            async with self._slots:
                await self._advance(record, "generating", 5.0)

                async def progress(value: float) -> None:
                    await self._advance(record, "generating", value)

                data = await self.config.generator.generate(
                    GenerationRequest(
                        record.pipeline_id,
                        record.prompt,
                        record.format,
                        record.quality,
                        record.image_url,
                    ),
                    progress,
                )
                await self._advance(record, "validating", 60.0)
                report = await asyncio.to_thread(
                    check_glb, data, self.config.limits[record.quality]
                )
                record.validation = report.as_dict()
                if not report.ok:
                    raise GenerationError("validation failed: " + "; ".join(report.errors))
                await self._advance(record, "uploading", 75.0)
                await self.store.put(pipeline_row(record))
                record.asset_url = await self.config.uploader.upload(
                    UploadRequest(
                        record.pipeline_id,
                        data,
                        record.format,
                        record.quality,
                        record.product_id,
                        serde.format_timestamp(utcnow()),
                    )
                )
                record.asset_status = "available"
                if record.finished:
                    return
                record.completed_at = utcnow()
                await self._advance(record, "completed", 100.0)
        except (GenerationError, UploadError) as exc:
            if record.finished:
                return
            record.stage = "failed"
            record.error = str(exc)
            record.completed_at = utcnow()
            await self._publish(record)
        except asyncio.CancelledError:
            return
        except Exception as exc:
            if record.finished:
                return
            log.exception("pipeline %s crashed", record.pipeline_id)
            record.stage = "failed"
            record.error = f"internal error ({type(exc).__name__})"
            await self._publish(record)
        finally:
            if self.active.pop(record.pipeline_id, None) is not None:
                self._count(record)
                await asyncio.shield(self.store.put(pipeline_row(record)))
