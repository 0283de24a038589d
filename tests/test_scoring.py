"""Scoring, criterion by criterion, and the judge's strict parser."""

from __future__ import annotations

import pytest

from devskyy_ws.providers.config import DEFAULT_WEIGHTS
from devskyy_ws.services import scoring
from devskyy_ws.services.judge import JudgementError, offline_judgement, parse_judgement


def test_relevance_counts_prompt_words_addressed() -> None:
    prompt = "marketing campaign for BLACK ROSE collection"
    assert (
        scoring.relevance(prompt, "A campaign for the Black Rose collection, marketing led.")
        == 100.0
    )
    assert scoring.relevance(prompt, "Something unrelated entirely.") == 0.0
    assert 0 < scoring.relevance(prompt, "The rose campaign.") < 100


def test_quality_rewards_structure_and_readable_sentences() -> None:
    flat = "word " * 5
    structured = "## Plan\n- first item with owner and deadline set\n- second item with a clear measure\n\nThis keeps the work readable and easy to follow for everyone."
    assert scoring.quality("") == 0.0
    assert scoring.quality(structured) > scoring.quality(flat)


def test_completeness_wants_length_and_a_conclusion() -> None:
    prompt = "Plan the launch"
    short = "Do it."
    long = (
        "We should plan the launch carefully with owners and dates. " * 12
    ) + "Next step: confirm budget."
    assert scoring.completeness(prompt, long) == 100.0
    assert scoring.completeness(prompt, short) < 20


def test_efficiency_halves_at_reference_values() -> None:
    assert scoring.efficiency(0, 0) == 100.0
    assert scoring.efficiency(scoring.LATENCY_REF_MS, scoring.COST_REF_USD) == 50.0
    assert scoring.efficiency(100, 0) > scoring.efficiency(5000, 0)


def test_brand_lexicon() -> None:
    assert scoring.brand("neutral text", ["luxury"], ["cheap"]) == 60.0
    assert scoring.brand("a luxury, timeless piece", ["luxury", "timeless"], ["cheap"]) == 80.0
    assert scoring.brand("cheap discount", ["luxury"], ["cheap", "discount"]) == 10.0


def test_score_is_deterministic_and_weighted() -> None:
    item = scoring.ScoreInput(
        "Write a luxury slogan", "A luxury slogan: Timeless roses.", 120.0, 0.0
    )
    first = scoring.score(item, ["luxury"], ["cheap"])
    assert first == scoring.score(item, ["luxury"], ["cheap"])
    assert set(first) == set(scoring.CRITERIA)
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)
    total = scoring.weighted_total(first, DEFAULT_WEIGHTS)
    assert total == pytest.approx(
        sum(first[c] * DEFAULT_WEIGHTS[c] for c in scoring.CRITERIA), abs=0.01
    )


@pytest.mark.parametrize(
    ("text", "winner", "confidence"),
    [
        ("WINNER: A\nCONFIDENCE: 0.8\nREASONING: A is clearer.", "A", 0.8),
        ("  WINNER: B\nCONFIDENCE: 1\nREASONING: B covers more.\n", "B", 1.0),
        ("WINNER: A\nCONFIDENCE: 0.0\nREASONING: coin flip", "A", 0.0),
    ],
)
def test_judge_parser_accepts_the_format(text: str, winner: str, confidence: float) -> None:
    judgement = parse_judgement(text)
    assert judgement.winner == winner and judgement.confidence == confidence and judgement.reasoning


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A is better",
        "WINNER: C\nCONFIDENCE: 0.5\nREASONING: x",
        "WINNER: A\nCONFIDENCE: 1.5\nREASONING: x",
        "WINNER: A\nCONFIDENCE: high\nREASONING: x",
        "WINNER: A\nREASONING: x",
        "WINNER: A\nCONFIDENCE: 0.5\nREASONING:",
        "Sure! WINNER: A\nCONFIDENCE: 0.5\nREASONING: x",
    ],
)
def test_judge_parser_refuses_anything_else(text: str) -> None:
    with pytest.raises(JudgementError):
        parse_judgement(text)


def test_offline_judge_names_the_deciding_criteria() -> None:
    a = {"relevance": 90, "quality": 80, "completeness": 70, "efficiency": 50, "brand": 60}
    b = {"relevance": 40, "quality": 80, "completeness": 20, "efficiency": 50, "brand": 60}
    reply = parse_judgement(offline_judgement(a, b, DEFAULT_WEIGHTS))
    assert reply.winner == "A"
    assert "relevance" in reply.reasoning and "completeness" in reply.reasoning
    swapped = parse_judgement(offline_judgement(b, a, DEFAULT_WEIGHTS))
    assert swapped.winner == "B"
