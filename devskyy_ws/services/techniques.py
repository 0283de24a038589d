"""Prompting techniques: infer a task's category, pick a technique, shape the prompt.

Pure functions. The choice starts from a per-category ranking and is then driven by
what the agent has learned from its own task history (`learn_preferences`), so a
technique that keeps failing for a category stops being chosen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from .stats import TechniqueStat

__all__ = [
    "CATEGORIES",
    "TECHNIQUES",
    "Preference",
    "categorize",
    "choose_technique",
    "learn_preferences",
    "shape_prompt",
]

TECHNIQUES = (
    "chain_of_thought",
    "few_shot",
    "tree_of_thoughts",
    "react",
    "rag",
    "structured_output",
    "role_based",
    "self_consistency",
    "constitutional",
)

# category -> (keywords, techniques ranked best first before any learning)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "analysis": (
        ("analy", "trend", "forecast", "compare", "why", "metric", "kpi", "report", "insight"),
        ("chain_of_thought", "self_consistency", "tree_of_thoughts"),
    ),
    "creative": (
        (
            "write",
            "campaign",
            "story",
            "slogan",
            "design",
            "creative",
            "marketing",
            "copy",
            "image",
        ),
        ("role_based", "few_shot", "tree_of_thoughts"),
    ),
    "extraction": (
        ("extract", "list", "json", "table", "parse", "classify", "tag", "categor", "fields"),
        ("structured_output", "few_shot", "chain_of_thought"),
    ),
    "action": (
        ("create", "update", "schedule", "track", "order", "ship", "inventory", "product", "price"),
        ("react", "structured_output", "chain_of_thought"),
    ),
    "knowledge": (
        ("what is", "explain", "faq", "policy", "document", "lookup", "search", "who", "when"),
        ("rag", "chain_of_thought", "few_shot"),
    ),
    "sensitive": (
        ("refund", "complaint", "legal", "privacy", "medical", "safety", "angry", "harass"),
        ("constitutional", "role_based", "chain_of_thought"),
    ),
}
DEFAULT_CATEGORY = "general"
DEFAULT_RANKING = ("chain_of_thought", "structured_output", "few_shot")


@attrs.frozen
class Preference:
    """What learning concluded for one (category, technique)."""

    success_rate: float
    mean_latency_ms: float
    uses: int


def categorize(prompt: str) -> str:
    """The category whose keywords the prompt hits most (ties: table order)."""
    text = prompt.lower()
    best, best_hits = DEFAULT_CATEGORY, 0
    for category, (keywords, _) in CATEGORIES.items():
        hits = sum(map(text.__contains__, keywords))  # no generator frame per keyword
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def _ranking(category: str) -> tuple[str, ...]:
    return CATEGORIES[category][1] if category in CATEGORIES else DEFAULT_RANKING


def _score(technique: str, rank: int, pref: Preference | None) -> float:
    """Prior from the ranking, then Laplace-smoothed success with a small latency cost."""
    prior = 0.75 - 0.05 * rank
    if pref is None or pref.uses == 0:
        return prior
    smoothed = (pref.success_rate * pref.uses + prior * 2) / (pref.uses + 2)
    return smoothed - min(pref.mean_latency_ms, 60_000.0) / 600_000.0


def choose_technique(
    category: str, preferences: Mapping[str, Mapping[str, Preference]] | None = None
) -> str:
    """The best-scoring technique for the category given what has been learned."""
    learned = (preferences or {}).get(category, {})
    candidates = list(_ranking(category))
    candidates += [t for t in learned if t not in candidates]
    scored = [
        (_score(t, candidates.index(t), learned.get(t)), -candidates.index(t), t)
        for t in candidates
    ]
    return max(scored)[2]


def learn_preferences(stats: Iterable[TechniqueStat]) -> dict[str, dict[str, Preference]]:
    """Per category and technique: success rate and latency from finished tasks."""
    out: dict[str, dict[str, Preference]] = {}
    for stat in stats:
        if stat.uses <= 0:
            continue
        out.setdefault(stat.category, {})[stat.technique] = Preference(
            success_rate=stat.successes / stat.uses,
            mean_latency_ms=stat.mean_latency_ms,
            uses=stat.uses,
        )
    return out


_FRAMES: dict[str, str] = {
    "chain_of_thought": "Think step by step. Lay out your reasoning, then give the answer.",
    "few_shot": "Follow the pattern of these examples.\nExample: 'Summarize Q3 sales' -> "
    "'Q3 sales rose 12% on accessories.'\nExample: 'Name a collection' -> 'Midnight Bloom'.",
    "tree_of_thoughts": "Consider three different approaches, evaluate each briefly, "
    "then develop the most promising one.",
    "react": "Work as Thought / Action / Observation steps using your tools, then answer.",
    "rag": "Answer from the provided context first; say so when the context is not enough.",
    "structured_output": "Answer as structured sections with short headings and bullet lists.",
    "role_based": "You are a senior specialist for this brand; answer in its voice.",
    "self_consistency": "Reason it through twice independently and give the answer both agree on.",
    "constitutional": "Draft an answer, check it against safety, honesty and brand rules, "
    "then give the revised answer.",
}


def shape_prompt(
    technique: str, prompt: str, agent_name: str, tools: Iterable[str]
) -> tuple[str, str]:
    """The system and user messages the provider receives for this technique."""
    tool_list = ", ".join(tools)
    system = f"You are {agent_name}. {_FRAMES.get(technique, '')}"
    if technique == "react" and tool_list:
        system += f" Available tools: {tool_list}."
    user = re.sub(r"\s+", " ", prompt).strip()
    return system, user
