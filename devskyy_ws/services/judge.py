"""The A/B judge: a strict reply format, its parser, and the offline judge.

The judge is asked twice, once in each order, to counter position bias; a malformed or
failed judgement, or two that disagree, fall back to the higher score, and the
reasoning says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from .scoring import CRITERIA

__all__ = [
    "JUDGE_INSTRUCTIONS",
    "Judgement",
    "JudgementError",
    "offline_judgement",
    "parse_judgement",
]

JUDGE_INSTRUCTIONS = (
    "Compare answer A and answer B to the prompt. Reply with exactly three lines:\n"
    "WINNER: A or B\nCONFIDENCE: a number from 0 to 1\nREASONING: one or two sentences"
)

_PATTERN = re.compile(
    r"\A\s*WINNER:\s*(?P<winner>[AB])\s*\n\s*CONFIDENCE:\s*(?P<confidence>[01](?:\.\d+)?)\s*\n"
    r"\s*REASONING:\s*(?P<reasoning>\S.*?)\s*\Z",
    re.S,
)


class JudgementError(ValueError):
    """The judge's reply does not follow the format."""


@attrs.frozen
class Judgement:
    winner: str  # "A" or "B"
    confidence: float
    reasoning: str


def parse_judgement(text: str) -> Judgement:
    """Parse the strict three-line format.

    Raises:
        JudgementError: anything else, including a confidence outside 0-1.
    """
    match = _PATTERN.match(text)
    if match is None:
        raise JudgementError("the judge's reply is not in the WINNER/CONFIDENCE/REASONING format")
    confidence = float(match["confidence"])
    if not 0.0 <= confidence <= 1.0:
        raise JudgementError("confidence must be between 0 and 1")
    reasoning = " ".join(match["reasoning"].split())
    if len(reasoning) > 2000:
        raise JudgementError("reasoning is too long")
    return Judgement(match["winner"], confidence, reasoning)


def offline_judgement(
    scores_a: Mapping[str, float], scores_b: Mapping[str, float], weights: Mapping[str, float]
) -> str:
    """The built-in judge's reply, in the strict format, naming the deciding criteria."""
    diffs = {c: (scores_a[c] - scores_b[c]) * weights[c] for c in CRITERIA}
    total = sum(diffs.values())
    winner = "A" if total >= 0 else "B"
    sign = 1 if winner == "A" else -1
    deciding = sorted((c for c in CRITERIA if diffs[c] * sign > 0), key=lambda c: -abs(diffs[c]))[
        :2
    ]
    margin = abs(total)
    confidence = round(min(0.95, 0.5 + margin / 40.0), 2)
    named = " and ".join(deciding) if deciding else "overall balance"
    return (
        f"WINNER: {winner}\nCONFIDENCE: {confidence}\n"
        f"REASONING: Answer {winner} wins on {named} (weighted margin {margin:.1f} points)."
    )
