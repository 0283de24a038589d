"""The LLM Round Table: providers compete, are scored, and two finalists are A/B-judged.

Stages are published on `round_table` as they happen: generating → scoring →
ab_testing → completed (or failed when fewer than two providers answer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..channels.hub import Hub
from ..contract import serde
from ..contract.jsoncheck import MAX_TEXT_BYTES
from ..contract.messages import CompetitionUpdate, utcnow
from ..contract.records import ABTest, CompetitionEntry, CompetitionRecord, TaskRecord
from ..providers.config import OFFLINE_JUDGE, ProviderConfig
from ..providers.llm import Completion, LLMProvider, ProviderError
from ..store.base import Row, Store
from .errors import Invalid, NotFound, TooLarge
from .ids import FreshIds
from .judge import JUDGE_INSTRUCTIONS, Judgement, JudgementError, offline_judgement, parse_judgement
from .loading import RecordLoader
from .scoring import ScoreInput, score, weighted_total

__all__ = ["RoundTableService"]

log = logging.getLogger("devskyy_ws.round_table")

Progress = Callable[[float], Awaitable[None]]


def competition_row(record: CompetitionRecord) -> Row:
    return Row(
        id=record.competition_id,
        kind="competition",
        group_key=record.task_id or "",
        status=record.status,
        created_at=record.created_at.timestamp(),
        doc=serde.unstructure(record),
        latency_ms=record.total_duration_ms,
        cost_usd=record.total_cost_usd,
    )


class RoundTableService:
    def __init__(
        self,
        store: Store,
        hub: Hub,
        providers: ProviderConfig,
        loader: RecordLoader | None = None,
    ) -> None:
        self.store = store
        self.ids = FreshIds("comp")
        self.loader = loader or RecordLoader()
        self.hub = hub
        self.providers = providers
        self.running: dict[str, CompetitionRecord] = {}
        self.finished: dict[str, int] = {}

    async def start(self) -> None:
        leftovers = await self.store.in_status(
            "competition", ["generating", "scoring", "ab_testing"]
        )
        for record in self.loader.many(leftovers, CompetitionRecord, "competition"):
            record.status = "failed"
            record.error = "interrupted by restart"
            await self.store.put(competition_row(record))
        self.hub.snapshot_providers["round_table"] = self.snapshot

    async def stop(self, grace: float) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "competitions": [
                {"competition_id": r.competition_id, "stage": r.status, "task_id": r.task_id}
                for r in self.running.values()
            ]
        }

    # -- reads ---------------------------------------------------------------------
    async def get(self, competition_id: str) -> CompetitionRecord:
        live = self.running.get(competition_id)
        if live is not None:
            return live
        doc = await self.store.get("competition", competition_id)
        if doc is None:
            raise NotFound("competition_not_found", f"No competition with id {competition_id!r}.")
        return self.loader.one(doc, CompetitionRecord, "competition")

    async def page(self, limit: int, offset: int) -> tuple[list[CompetitionRecord], int]:
        docs = await self.store.list_docs("competition", limit=limit, offset=offset)
        total = await self.store.count("competition")
        return self.loader.many(docs, CompetitionRecord, "competition"), total

    async def stats(self) -> list[dict[str, Any]]:
        """Per provider, from stored records only."""

        def empty() -> dict[str, float]:
            return {"n": 0, "wins": 0, "score": 0.0, "scored": 0, "latency": 0.0, "cost": 0.0}

        acc: dict[str, dict[str, float]] = {name: empty() for name in self.providers.providers}
        for doc in await self.store.in_status("competition"):
            winner = (doc.get("winner") or {}).get("provider")
            for entry in doc.get("entries", []):
                a = acc.setdefault(entry["provider"], empty())
                a["n"] += 1
                a["latency"] += float(entry.get("latency_ms") or 0.0)
                a["cost"] += float(entry.get("cost_usd") or 0.0)
                if entry.get("error") is None:
                    a["score"] += float(entry.get("total_score") or 0.0)
                    a["scored"] += 1
                if doc.get("status") == "completed" and winner == entry["provider"]:
                    a["wins"] += 1
        return [
            {
                "provider": name,
                "total_competitions": int(a["n"]),
                "wins": int(a["wins"]),
                "win_rate": round(a["wins"] / a["n"], 4) if a["n"] else 0.0,
                "avg_score": round(a["score"] / a["scored"], 2) if a["scored"] else 0.0,
                "avg_latency_ms": round(a["latency"] / a["n"], 3) if a["n"] else 0.0,
                "total_cost_usd": round(a["cost"], 6),
            }
            for name, a in acc.items()
        ]

    async def provider_info(self) -> list[dict[str, Any]]:
        stats = {s["provider"]: s for s in await self.stats()}
        return [
            {
                "name": p.name,
                "display_name": p.display_name,
                "enabled": p.enabled,
                "model": p.model,
                "kind": p.kind,
                "avg_latency_ms": stats[p.name]["avg_latency_ms"],
                "win_rate": stats[p.name]["win_rate"],
                "total_competitions": stats[p.name]["total_competitions"],
            }
            for p in self.providers.providers.values()
        ]

    # -- competing -----------------------------------------------------------------
    def select(self, names: list[str] | None) -> list[LLMProvider]:
        """Raises:
        Invalid: unknown names, or fewer than two usable providers.
        """
        if names is None:
            chosen = self.providers.competitors()
        else:
            unknown = [n for n in names if n not in self.providers.providers]
            if unknown:
                raise Invalid(
                    "unknown_provider",
                    f"Unknown provider(s): {', '.join(unknown)}.",
                    {"providers": list(self.providers.providers)},
                )
            chosen = [
                self.providers.providers[n]
                for n in dict.fromkeys(names)
                if self.providers.providers[n].enabled
            ]
        if len(chosen) < 2:
            raise Invalid(
                "not_enough_providers", "A competition needs at least two enabled providers."
            )
        return chosen

    async def _stage(self, record: CompetitionRecord, stage: str, **data: Any) -> None:
        record.status = stage
        await self.hub.publish(
            "round_table",
            CompetitionUpdate(competition_id=record.competition_id, stage=stage, data=data),
        )

    async def compete(
        self,
        prompt: str,
        task_id: str | None = None,
        names: list[str] | None = None,
        progress: Progress | None = None,
    ) -> CompetitionRecord:
        """Run a whole competition and store it. Validation errors come before any work."""
        if not prompt.strip():
            raise Invalid("empty_prompt", "The prompt must not be empty.")
        if len(prompt.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
            raise TooLarge(
                "prompt_too_large", f"The prompt is larger than {MAX_TEXT_BYTES:,} bytes."
            )
        providers = self.select(names)
        started = time.perf_counter()
        record = CompetitionRecord(competition_id="", task_id=task_id, prompt=prompt)
        await self.ids.insert(self.store, record, "competition_id", competition_row)
        self.running[record.competition_id] = record
        try:
            await self._run(record, providers, progress, started)
        except asyncio.CancelledError:
            record.status = "failed"
            record.error = "cancelled"
            raise
        finally:
            record.total_duration_ms = round((time.perf_counter() - started) * 1000.0, 3)
            record.total_cost_usd = round(sum(e.cost_usd for e in record.entries), 8)
            self.running.pop(record.competition_id, None)
            self.finished[record.status] = self.finished.get(record.status, 0) + 1
            await asyncio.shield(self.store.put(competition_row(record)))
        return record

    async def _run(
        self,
        record: CompetitionRecord,
        providers: list[LLMProvider],
        progress: Progress | None,
        started: float,
    ) -> None:
        await self._stage(
            record,
            "generating",
            provider_count=len(providers),
            providers=[p.name for p in providers],
        )
        if progress:
            await progress(20.0)
        record.entries = list(
            await asyncio.gather(*(self._generate(p, record.prompt) for p in providers))
        )
        ok = [e for e in record.entries if e.error is None]
        await self._stage(
            record,
            "scoring",
            entries_count=len(record.entries),
            successful_entries=len(ok),
            scoring_started_at=serde.format_timestamp(utcnow()),
        )
        if progress:
            await progress(50.0)
        for entry in ok:
            entry.scores = score(
                ScoreInput(record.prompt, entry.response or "", entry.latency_ms, entry.cost_usd),
                self.providers.favour,
                self.providers.avoid,
            )
            entry.total_score = weighted_total(entry.scores, self.providers.weights)
        ranked = sorted(ok, key=lambda e: (-e.total_score, e.latency_ms, e.provider))
        ranked += sorted(
            (e for e in record.entries if e.error is not None), key=lambda e: e.provider
        )
        for rank, entry in enumerate(ranked, 1):
            entry.rank = rank
        record.entries = ranked
        if len(ok) < 2:
            answered = f"only {len(ok)} of {len(record.entries)} providers answered"
            record.error = f"{answered}; at least two are needed"
            await self._stage(record, "failed", error=record.error)
            return
        first, second = ranked[0], ranked[1]
        await self._stage(record, "ab_testing", finalists=[first.provider, second.provider])
        if progress:
            await progress(75.0)
        record.ab_test = await self._ab_test(record.prompt, first, second)
        record.winner = first if record.ab_test.winner == first.provider else second
        await self._stage(
            record,
            "completed",
            winner=record.winner.provider,
            winner_score=record.winner.total_score,
            total_duration_ms=round((time.perf_counter() - started) * 1000.0, 3),
        )

    async def _generate(self, provider: LLMProvider, prompt: str) -> CompetitionEntry:
        started = time.perf_counter()
        entry = CompetitionEntry(provider=provider.name, model=provider.model)
        try:
            completion: Completion = await asyncio.wait_for(
                provider.complete("Answer the prompt as well as you can.", prompt),
                self.providers.timeout,
            )
        except TimeoutError:
            entry.error = f"timed out after {self.providers.timeout:g}s"
        except ProviderError as exc:
            entry.error = str(exc)
        except Exception as exc:  # a broken provider must not sink the competition
            log.exception("provider %s crashed", provider.name)
            entry.error = f"provider error ({type(exc).__name__})"
        else:
            entry.response = completion.text
            entry.tokens_used = completion.tokens_used
            entry.cost_usd = completion.cost_usd
            entry.model = completion.model
        entry.latency_ms = round((time.perf_counter() - started) * 1000.0, 3)
        return entry

    async def _ask_judge(self, prompt: str, a: CompetitionEntry, b: CompetitionEntry) -> Judgement:
        """One judgement with `a` shown as A; raises JudgementError or ProviderError."""
        if self.providers.judge == OFFLINE_JUDGE:
            return parse_judgement(offline_judgement(a.scores, b.scores, self.providers.weights))
        judge = self.providers.get(self.providers.judge)
        question = f"Prompt:\n{prompt}\n\nAnswer A:\n{a.response}\n\nAnswer B:\n{b.response}"
        completion = await asyncio.wait_for(
            judge.complete(JUDGE_INSTRUCTIONS, question), self.providers.timeout
        )
        return parse_judgement(completion.text)

    async def _ab_test(
        self, prompt: str, first: CompetitionEntry, second: CompetitionEntry
    ) -> ABTest:
        """Ask in both orders; agreement decides, anything else falls back to the score."""
        finalists = [first.provider, second.provider]
        try:
            forward = await self._ask_judge(prompt, first, second)
            backward = await self._ask_judge(prompt, second, first)
        except (JudgementError, ProviderError, TimeoutError) as exc:
            return ABTest(
                finalists=finalists,
                winner=first.provider,
                judge=self.providers.judge,
                confidence=0.5,
                reasoning=(
                    f"Fell back to the higher score ({first.total_score}) because the "
                    f"judgement failed: {exc}"
                ),
                position_swapped_agreed=None,
            )
        pick_forward = first.provider if forward.winner == "A" else second.provider
        pick_backward = second.provider if backward.winner == "A" else first.provider
        if pick_forward != pick_backward:
            return ABTest(
                finalists=finalists,
                winner=first.provider,
                judge=self.providers.judge,
                confidence=0.5,
                reasoning=(
                    "Fell back to the higher score because the judge changed its mind when the "
                    f"answers swapped places (position bias). First order: {forward.reasoning}"
                ),
                position_swapped_agreed=False,
            )
        reasoning = forward.reasoning.replace("Answer A", first.provider).replace(
            "Answer B", second.provider
        )
        return ABTest(
            finalists=finalists,
            winner=pick_forward,
            judge=self.providers.judge,
            confidence=round((forward.confidence + backward.confidence) / 2, 3),
            reasoning=reasoning,
            position_swapped_agreed=True,
        )

    # -- tasks through the Round Table ----------------------------------------------
    async def run_for_task(self, task: TaskRecord, progress: Progress) -> Completion:
        """Run a competition for a task; its result is the winner's answer.

        Raises:
            ProviderError: the competition failed.
        """
        record = await self.compete(task.prompt, task_id=task.task_id, progress=progress)
        task.competition_id = record.competition_id
        if record.status != "completed" or record.winner is None:
            raise ProviderError(f"Round Table failed: {record.error}")
        winner = record.winner
        return Completion(
            text=winner.response or "",
            provider=winner.provider,
            model=winner.model,
            tokens_in=0,
            tokens_out=sum(e.tokens_used for e in record.entries),
            cost_usd=record.total_cost_usd,
            latency_ms=record.total_duration_ms,
        )
