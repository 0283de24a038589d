"""Technique choice is pure: category from the prompt, ranking, learning."""

from __future__ import annotations

from devskyy_ws.services.stats import TechniqueStat
from devskyy_ws.services.techniques import (
    TECHNIQUES,
    categorize,
    choose_technique,
    learn_preferences,
    shape_prompt,
)


def test_categories_from_prompts() -> None:
    assert categorize("Analyze pricing trends for Q3") == "analysis"
    assert categorize("Write a campaign slogan") == "creative"
    assert categorize("Extract the fields as JSON") == "extraction"
    assert categorize("Handle this angry refund complaint") == "sensitive"
    assert categorize("hello") == "general"


def test_default_choice_follows_the_ranking() -> None:
    assert choose_technique("analysis") == "chain_of_thought"
    assert choose_technique("creative") == "role_based"
    assert choose_technique("extraction") == "structured_output"
    assert choose_technique("general") in TECHNIQUES


def test_learning_moves_choice_to_what_succeeds() -> None:
    stats = [
        TechniqueStat("chain_of_thought", "analysis", uses=10, successes=2, mean_latency_ms=900.0),
        TechniqueStat(
            "tree_of_thoughts", "analysis", uses=10, successes=10, mean_latency_ms=1200.0
        ),
    ]
    prefs = learn_preferences(stats)
    assert prefs["analysis"]["chain_of_thought"].success_rate == 0.2
    assert choose_technique("analysis", prefs) == "tree_of_thoughts"
    assert choose_technique("creative", prefs) == "role_based"  # other categories untouched


def test_few_samples_do_not_overturn_the_prior() -> None:
    prefs = learn_preferences([TechniqueStat("chain_of_thought", "analysis", 1, 0, 10.0)])
    # one failure is weak evidence; the smoothed score still ranks it close
    assert choose_technique("analysis", prefs) in ("chain_of_thought", "self_consistency")


def test_react_prompt_lists_tools() -> None:
    system, user = shape_prompt("react", "  Track   order 42 ", "Ops Agent", ["track_shipment"])
    assert "track_shipment" in system and "Thought / Action" in system
    assert user == "Track order 42"
