"""Round Table scoring: five explainable criteria, each 0-100, and a weighted total.

Pure and deterministic for the same inputs, so every score can be recomputed and
unit-tested criterion by criterion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from ..providers.offline import keywords

__all__ = ["CRITERIA", "ScoreInput", "score", "weighted_total"]

CRITERIA = ("relevance", "quality", "completeness", "efficiency", "brand")

LATENCY_REF_MS = 2_000.0  # an answer this fast scores 50 on latency
COST_REF_USD = 0.01  # an answer this cheap scores 50 on cost


@attrs.frozen
class ScoreInput:
    prompt: str
    response: str
    latency_ms: float
    cost_usd: float


def _clamp(value: float) -> float:
    return round(max(0.0, min(100.0, value)), 2)


def relevance(prompt: str, response: str) -> float:
    """Share of the prompt's content words that the answer addresses."""
    wanted = [w.lower() for w in keywords(prompt, limit=12)]
    if not wanted or wanted == ["the request"]:
        return 50.0
    text = response.lower()
    hits = sum(1 for w in wanted if w in text)
    return _clamp(100.0 * hits / len(wanted))


def quality(response: str) -> float:
    """Structure and clarity: paragraphs or lists, readable sentence length, little repetition."""
    text = response.strip()
    if not text:
        return 0.0
    points = 40.0
    if "\n\n" in text or re.search(r"^\s*(?:[-*]|\d+\.)\s", text, flags=re.M):
        points += 20.0
    if re.search(r"^#{1,6}\s|^[A-Z][^\n]{0,40}:\s*$", text, flags=re.M):
        points += 10.0
    sentences = [s for s in re.split(r"[.!?]+\s", text) if s.strip()]
    words = text.split()
    mean_len = len(words) / max(1, len(sentences))
    if 8 <= mean_len <= 25:
        points += 20.0
    elif 4 <= mean_len <= 35:
        points += 10.0
    lowered = [w.lower() for w in words]
    if lowered and len(set(lowered)) / len(lowered) >= 0.5:
        points += 10.0
    return _clamp(points)


def completeness(prompt: str, response: str) -> float:
    """Enough substance for the ask, and a conclusion or next step."""
    words = len(response.split())
    target = 60 + min(len(prompt.split()), 100) * 2
    points = 70.0 * min(1.0, words / target)
    if re.search(
        r"\b(conclusion|next step|finally|in summary|recommend|prioriti[sz]e)\b", response, re.I
    ):
        points += 30.0
    return _clamp(points)


def efficiency(latency_ms: float, cost_usd: float) -> float:
    """Faster and cheaper is better; each halves at its reference value."""
    latency_part = 100.0 * LATENCY_REF_MS / (LATENCY_REF_MS + max(0.0, latency_ms))
    cost_part = 100.0 * COST_REF_USD / (COST_REF_USD + max(0.0, cost_usd))
    return _clamp(0.6 * latency_part + 0.4 * cost_part)


def brand(response: str, favour: Iterable[str], avoid: Iterable[str]) -> float:
    """Starts neutral; favoured words add, avoided words cost more."""
    text = response.lower()
    plus = sum(1 for w in favour if re.search(rf"\b{re.escape(w.lower())}", text))
    minus = sum(1 for w in avoid if re.search(rf"\b{re.escape(w.lower())}", text))
    return _clamp(60.0 + 10.0 * plus - 25.0 * minus)


def score(item: ScoreInput, favour: Iterable[str], avoid: Iterable[str]) -> dict[str, float]:
    return {
        "relevance": relevance(item.prompt, item.response),
        "quality": quality(item.response),
        "completeness": completeness(item.prompt, item.response),
        "efficiency": efficiency(item.latency_ms, item.cost_usd),
        "brand": brand(item.response, favour, avoid),
    }


def weighted_total(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    return round(sum(scores[c] * weights[c] for c in CRITERIA), 2)
