"""Small helpers every REST handler uses: JSON bodies and query values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web

from ...contract import serde
from ...contract.jsoncheck import TOO_DEEP, JsonLimitError, check_json
from ..errors import ApiError

__all__ = ["query_choice", "query_int", "query_text", "read_body", "read_json", "structure_body"]

T = TypeVar("T")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, within the limits of `jsoncheck`.

    Raises:
        ApiError: 413 over the size limit or a string over MAX_TEXT_BYTES, 400 when not
            JSON or nested too deeply, 422 when not an object or a number is out of range
            (each naming the field).
    """
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "payload_too_large", "The request body is too large.") from exc
    if not raw:
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    try:
        doc = serde.loads_body(raw)
        check_json(doc)
    except RecursionError as exc:  # the parser itself gave up, far past the limit
        raise ApiError(400, "too_deep", f"The request body: {TOO_DEEP}") from exc
    except JsonLimitError as exc:
        if exc.problem == "depth":
            raise ApiError(400, "too_deep", f"The request body: {exc}") from exc
        if exc.problem == "text":
            raise ApiError(413, "text_too_large", str(exc), details={"field": exc.path}) from exc
        raise ApiError(422, "invalid_field", str(exc), details={"field": exc.path}) from exc
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from exc
    if not isinstance(doc, dict):
        raise ApiError(422, "invalid_body", "The request body must be a JSON object.")
    return doc


async def read_body(request: web.Request, cls: type[T]) -> T:
    """The request body structured into its contract class (contract/requests.py).

    Raises:
        ApiError: as `read_json`; 422 naming the first field that does not fit `cls`.
    """
    return structure_body(await read_json(request), cls)


def structure_body(doc: Any, cls: type[T]) -> T:
    """A JSON object read already, structured into its contract class.

    Raises:
        ApiError: 422 naming the first field that does not fit `cls`.
    """
    try:
        return serde.structure(doc, cls)
    except Exception as exc:
        code, message, details = serde.refusal(exc, cls)
        raise ApiError(422, code, message, details=details or None) from exc


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high].

    Raises:
        ApiError: 400 naming the parameter when it is not such an integer.
    """
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(
            400,
            "invalid_query",
            f"Query parameter '{name}' must be an integer from {low} to {high}.",
            details={"parameter": name, "value": raw[:100]},
        )
    return value


def query_text(request: web.Request, name: str, max_chars: int) -> str | None:
    """An optional free-text query parameter: None when absent or blank.

    Raises:
        ApiError: 400 naming the parameter when it is longer than `max_chars`.
    """
    raw = request.query.get(name, "").strip()
    if len(raw) > max_chars:
        raise ApiError(
            400,
            "invalid_query",
            f"Query parameter '{name}' must be at most {max_chars} characters.",
            details={"parameter": name, "max_chars": max_chars},
        )
    return raw or None


def query_choice(request: web.Request, name: str, choices: Sequence[str]) -> str | None:
    """An optional query parameter that must be one of `choices`.

    Raises:
        ApiError: 400 naming the parameter and the allowed values.
    """
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise ApiError(
            400,
            "invalid_query",
            f"Query parameter '{name}' must be one of: {', '.join(choices)}.",
            details={"parameter": name, "value": raw[:100], "allowed": list(choices)},
        )
    return raw
