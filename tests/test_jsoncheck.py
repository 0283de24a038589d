"""The JSON edge limits: depth, integer range and finite numbers, with the path named."""

from __future__ import annotations

import json

import pytest

from devskyy_ws.contract.jsoncheck import MAX_DEPTH, MAX_SAFE_INT, JsonLimitError, check_json


def _nested(depth: int) -> object:
    """Built without a parser: json.loads itself overflows near 1,000 levels."""
    doc: object = 1
    for _ in range(depth):
        doc = {"p": doc}
    return doc


def test_depth_up_to_the_limit_passes_and_one_more_fails() -> None:
    check_json(json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH))
    with pytest.raises(JsonLimitError) as info:
        check_json(json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)))
    assert info.value.problem == "depth"


@pytest.mark.parametrize("depth", [330, 1023, 100_000])
def test_deep_documents_fail_without_recursion(depth: int) -> None:
    with pytest.raises(JsonLimitError):
        check_json(_nested(depth))


@pytest.mark.parametrize("value", [MAX_SAFE_INT + 1, -MAX_SAFE_INT - 1, 10**20, 2**64])
def test_integers_beyond_2_53_name_their_path(value: int) -> None:
    with pytest.raises(JsonLimitError) as info:
        check_json({"parameters": {"items": [1, {"n": value}]}})
    assert info.value.problem == "integer"
    assert info.value.path == "parameters.items[1].n"


def test_edges_of_the_safe_range_and_plain_values_pass() -> None:
    check_json({"a": MAX_SAFE_INT, "b": -MAX_SAFE_INT, "c": 1.5, "d": True, "e": None, "f": "x"})
    check_json(MAX_SAFE_INT)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_fail(value: float) -> None:
    with pytest.raises(JsonLimitError) as info:
        check_json({"x": [value]})
    assert info.value.problem == "number" and info.value.path == "x[0]"


def test_a_top_level_scalar_is_named_body() -> None:
    with pytest.raises(JsonLimitError) as info:
        check_json(10**30)
    assert info.value.path == "body"


def test_strings_and_keys_are_capped_in_utf8_bytes() -> None:
    check_json({"p": "a" * 32768, "q": "é" * 16384})
    for doc, path in [
        ({"p": "a" * 32769}, "p"),
        ({"p": ["é" * 16385]}, "p[0]"),
        ({"k" * 40000: 1}, "k" * 40 + " (a key)"),
        ("😀" * 8193, "body"),
    ]:
        with pytest.raises(JsonLimitError) as info:
            check_json(doc)
        assert info.value.problem == "text" and info.value.path == path
