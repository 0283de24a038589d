"""Limits on JSON from outside, checked once where it is read (REST bodies, socket messages).

Depth is limited so that nothing recursive downstream (cattrs, the serializers, the
stores' JSON functions) can overflow the stack on a hostile body. Integers must fit what
a JavaScript client holds exactly, and floats must be finite, so that every stored
record loads back and every message can be sent as standard JSON. Every string (keys
included) is at most MAX_TEXT_BYTES of UTF-8, so no prompt or field is large enough for
the work done on it (keywords, scoring, judging, fan-out) to hold the event loop.
"""

from __future__ import annotations

import math
from typing import Any, Literal

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "MAX_TEXT_BYTES",
    "TOO_DEEP",
    "JsonLimitError",
    "check_json",
    "check_text",
]

MAX_DEPTH = 64
MAX_TEXT_BYTES = 32 * 1024
TOO_DEEP = f"JSON may be nested at most {MAX_DEPTH} levels deep."
MAX_SAFE_INT = 2**53 - 1

Problem = Literal["depth", "integer", "number", "text"]


class JsonLimitError(ValueError):
    """The document is valid JSON but outside the limits; `path` names where."""

    def __init__(self, problem: Problem, path: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.path = path


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _scalar(value: Any, path: str) -> None:
    cls = value.__class__
    if cls is int and not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise JsonLimitError(
            "integer", path, f"'{path}' is out of range: integers must be within ±(2**53 - 1)."
        )
    if cls is float and not math.isfinite(value):
        raise JsonLimitError("number", path, f"'{path}' must be a finite number.")


def check_text(value: str, path: str, limit: int = MAX_TEXT_BYTES) -> None:
    """Raises:
    JsonLimitError: `value` is longer than `limit` bytes of UTF-8.
    """
    if len(value) * 4 <= limit:  # no string of these characters can be longer
        return
    if len(value) > limit or len(value.encode("utf-8", "surrogatepass")) > limit:
        raise JsonLimitError("text", path, f"'{path}' is longer than {limit:,} bytes.")


def _render(chain: Any) -> str:
    """The path of a place in the document, from the (parent, key) chain the walk keeps:
    built only for an error, since most bodies have none."""
    keys = []
    while chain is not None:
        chain, key = chain
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = _join(path, key)
    return path


def check_json(doc: Any, max_depth: int = MAX_DEPTH, max_text: int = MAX_TEXT_BYTES) -> None:
    """Walk `doc` without recursion.

    Raises:
        JsonLimitError: nested deeper than `max_depth`, an integer beyond ±(2**53 - 1),
            a NaN or infinity, or a string (or key) longer than `max_text` bytes.
    """
    stack: list[tuple[Any, int, Any]] = [(doc, 1, None)]
    short = max_text // 4  # no string of at most this many characters can be too long
    while stack:
        value, depth, chain = stack.pop()
        cls = value.__class__
        if cls is dict:
            items: Any = value.items()
        elif cls is list:
            items = enumerate(value)
        elif cls is str:
            check_text(value, _render(chain) or "body", max_text)
            continue
        else:
            _scalar(value, _render(chain) or "body")
            continue
        if depth > max_depth:
            raise JsonLimitError(
                "depth", _render(chain), f"JSON may be nested at most {max_depth} levels deep."
            )
        for key, item in items:
            if key.__class__ is str and len(key) > short:
                check_text(key, _render((chain, key[:40])) + " (a key)", max_text)
            icls = item.__class__
            if icls is dict or icls is list:
                stack.append((item, depth + 1, (chain, key)))
            elif icls is str:
                if len(item) > short:
                    check_text(item, _render((chain, key)), max_text)
            elif icls is int:
                if not -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                    _scalar(item, _render((chain, key)))
            elif icls is float and not math.isfinite(item):
                _scalar(item, _render((chain, key)))
