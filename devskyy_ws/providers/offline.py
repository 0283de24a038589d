"""Built-in offline LLM providers: no network, no key, deterministic, clearly labelled.

Six styles answer genuinely differently (length, structure, tone), so a fresh install
runs a meaningful Round Table and every agent task gets a prompt-dependent answer.
"""

from __future__ import annotations

import hashlib
import re
import time

from .llm import Completion

__all__ = ["OFFLINE_STYLES", "OfflineProvider", "keywords"]

OFFLINE_STYLES = ("concise", "detailed", "structured", "creative", "analytical", "friendly")

_STOP = set(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "your",
        "our",
        "their",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "as",
        "it",
        "we",
        "you",
        "they",
        "i",
        "me",
        "my",
        "us",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "new",
        "please",
        "make",
        "create",
        "give",
        "write",
        "about",
        "over",
        "under",
        "more",
        "most",
        "some",
        "any",
        "each",
        "every",
        "all",
    ]
)


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]{2,}")
KEYWORD_WINDOW = 4096  # characters read for keywords: an ask's topic is stated early


def keywords(prompt: str, limit: int = 6) -> list[str]:
    """Distinct content words of the prompt's opening, in order of first appearance.

    Only the first KEYWORD_WINDOW characters are read, in one lazy pass: scoring and
    every offline provider call this, and a maximal prompt must not hold the event loop
    (docs/security.md)."""
    seen: list[str] = []
    lowered_seen: set[str] = set()
    for match in _WORD.finditer(prompt, 0, KEYWORD_WINDOW):
        word = match.group()
        lowered = word.lower()
        if lowered not in _STOP and lowered not in lowered_seen:
            seen.append(word)
            lowered_seen.add(lowered)
            if len(seen) >= limit:
                break
    return seen or ["the request"]


def _pick(options: list[str], seed: bytes, salt: str) -> str:
    digest = hashlib.sha256(seed + salt.encode()).digest()
    return options[digest[0] % len(options)]


def _compose(style: str, system: str, prompt: str) -> str:
    words = keywords(prompt)
    topic = " ".join(words[:3])
    seed = hashlib.sha256(f"{style}|{prompt}".encode()).digest()
    if style == "concise":
        return f"{topic.capitalize()}: focus on {words[-1]} and act on it this week."
    if style == "detailed":
        opener = _pick(["To address", "Looking closely at", "For"], seed, "o")
        return (
            f"{opener} {topic}, start from the goal and the audience. "
            f"The key elements are {', '.join(words)}.\n\n"
            f"First, clarify what success looks like for {words[0]} and how it will be measured. "
            f"Then plan the work in small steps, checking {words[-1]} at each one.\n\n"
            f"Finally, review the results, keep what worked and document it so the next "
            f"iteration on {topic} starts further ahead."
        )
    if style == "structured":
        bullets = "\n".join(f"- {w}: define owner, deadline and measure" for w in words[:4])
        return (
            f"## Goal\n{topic.capitalize()}\n\n## Plan\n{bullets}\n\n"
            f"## Next step\nConfirm scope for {words[0]}."
        )
    if style == "creative":
        image = _pick(
            ["a rose opening at midnight", "velvet under lamplight", "a storm before dawn"],
            seed,
            "i",
        )
        return (
            f"Imagine {topic} as {image}: {words[0]} is the first petal, "
            f"{words[-1]} the scent that lingers. Let every touchpoint whisper that story."
        )
    if style == "analytical":
        steps = "\n".join(
            f"{i}. {w.capitalize()} matters because it drives outcome {i}."
            for i, w in enumerate(words[:4], 1)
        )
        verdict = f"Conclusion: prioritise {words[0]} (highest expected impact)."
        return f"Analysis of {topic}:\n{steps}\n{verdict}"
    return (
        f"Great question about {topic}! Here's a friendly take: start with {words[0]}, "
        f"keep it simple, and check in on {words[-1]} as you go. You've got this!"
    )


class OfflineProvider:
    """One offline style. Labelled `[offline:<style>]` so nobody mistakes it for a model."""

    kind = "offline"

    def __init__(
        self, name: str, style: str, display_name: str | None = None, enabled: bool = True
    ) -> None:
        if style not in OFFLINE_STYLES:
            raise ValueError(f"unknown offline style {style!r}")
        self.name = name
        self.style = style
        self.display_name = display_name or f"Offline {style.title()}"
        self.model = f"offline-{style}-v1"
        self.enabled = enabled

    async def complete(self, system: str, user: str, *, timeout: float | None = None) -> Completion:
        started = time.perf_counter()
        text = f"[offline:{self.style}] " + _compose(self.style, system, user)
        tokens_in = len((system + " " + user).split())
        tokens_out = len(text.split())
        return Completion(
            text=text,
            provider=self.name,
            model=self.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=0.0,
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )

    async def close(self) -> None:
        return None
