"""What the store's tallies mean: success rates, means and totals, as plain functions.

The store counts and sums per status (store.base.Tally); which statuses count as
finished, and what a success is, are decided here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from ..store.base import Tally

__all__ = [
    "FINISHED",
    "TechniqueStat",
    "agent_totals",
    "cost_total",
    "provider_stats",
    "status_counts",
    "technique_stats",
]

FINISHED = frozenset({"completed", "failed"})


@attrs.frozen
class TechniqueStat:
    technique: str
    category: str
    uses: int
    successes: int
    mean_latency_ms: float


@attrs.define
class _Sums:
    uses: int = 0
    successes: int = 0
    latency_count: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0

    def add(self, tally: Tally) -> None:
        self.uses += tally.count
        self.successes += tally.count if tally.status == "completed" else 0
        self.latency_count += tally.latency_count
        self.latency_ms += tally.latency_ms_sum
        self.cost_usd += tally.cost_usd_sum

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_ms / self.latency_count if self.latency_count else 0.0


def _finished_by_key(tallies: Iterable[Tally]) -> dict[tuple[str | None, ...], _Sums]:
    sums: dict[tuple[str | None, ...], _Sums] = {}
    for tally in tallies:
        if tally.status in FINISHED:
            sums.setdefault(tally.key, _Sums()).add(tally)
    return sums


def technique_stats(tallies: Iterable[Tally]) -> list[TechniqueStat]:
    """From tallies by (technique, category): finished tasks per technique and category."""
    merged: dict[tuple[str, str], _Sums] = {}
    for (technique, category), sums in _finished_by_key(tallies).items():
        if technique is None:
            continue
        into = merged.setdefault((technique, category or "general"), _Sums())
        for name in ("uses", "successes", "latency_count", "latency_ms", "cost_usd"):
            setattr(into, name, getattr(into, name) + getattr(sums, name))
    return [
        TechniqueStat(technique, category, s.uses, s.successes, s.mean_latency_ms)
        for (technique, category), s in sorted(merged.items())
    ]


def agent_totals(tallies: Iterable[Tally]) -> dict[str, float]:
    """From an agent's tallies by status: completed, failed, the mean latency of the
    completed ones and the cost of all."""
    by_status = {t.status: t for t in tallies}
    completed = by_status.get("completed")
    return {
        "completed": float(completed.count if completed else 0),
        "failed": float(by_status["failed"].count if "failed" in by_status else 0),
        "avg_latency_ms": completed.mean_latency_ms if completed else 0.0,
        "total_cost_usd": sum(t.cost_usd_sum for t in by_status.values()),
    }


def provider_stats(tallies: Iterable[Tally]) -> list[dict[str, Any]]:
    """From task tallies by provider: uses, success rate, mean latency and cost of the
    finished ones."""
    return [
        {
            "provider": key[0] or "unknown",
            "uses": s.uses,
            "success_rate": round(s.successes / s.uses, 4) if s.uses else 0.0,
            "mean_latency_ms": round(s.mean_latency_ms, 3),
            "cost_usd": round(s.cost_usd, 6),
        }
        for key, s in sorted(_finished_by_key(tallies).items(), key=lambda kv: kv[0][0] or "")
    ]


def status_counts(tallies: Iterable[Tally]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tally in tallies:
        counts[tally.status] = counts.get(tally.status, 0) + tally.count
    return counts


def cost_total(tallies: Iterable[Tally]) -> float:
    return sum(t.cost_usd_sum for t in tallies)
