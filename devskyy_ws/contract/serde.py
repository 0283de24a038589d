"""The one cattrs converter: attrs objects to wire dicts and back.

Hooks for datetimes and numbers are registered before the per-class functions, because
cattrs captures hooks when it builds a class's function.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory as tuple_structure_factory
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from . import messages as m
from . import records as r
from . import requests as q
from .jsoncheck import MAX_SAFE_INT

try:  # pragma: no cover - depends on the optional [speed] extra
    import orjson

    def dumpb(obj: Any) -> bytes:
        """JSON as UTF-8 bytes; orjson when installed (measured in docs/benchmarks.md).

        orjson refuses integers beyond 64 bits, which user-supplied `parameters` may
        hold; the standard library writes those.
        """
        try:
            return orjson.dumps(obj)
        except TypeError:
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def _fast_loads(raw: bytes) -> Any:
        """orjson's reading of `raw`, or None where the standard library must decide.

        orjson reads integers past 64 bits as floats, so a body with a run of 20 digits
        is left to the standard library; so is anything orjson refuses (NaN, lone
        surrogates, other encodings), which keeps every answer what it was.
        """
        if _LONG_DIGITS.search(raw):
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None

except ImportError:  # pragma: no cover

    def dumpb(obj: Any) -> bytes:
        """JSON as UTF-8 bytes; orjson when installed (measured in docs/benchmarks.md)."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def _fast_loads(raw: bytes) -> Any:
        return None


_LONG_DIGITS = re.compile(rb"\d{20}")

__all__ = [
    "converter",
    "dumpb",
    "dumps",
    "format_timestamp",
    "loads_body",
    "parse_timestamp",
    "structure",
    "unstructure",
]


def dumps(obj: Any) -> str:
    """JSON text (see dumpb)."""
    return dumpb(obj).decode()


def loads_body(raw: bytes) -> Any:
    """A request body's JSON, as the standard library reads it; lone UTF-16 surrogates,
    which can be neither stored nor sent, are refused.

    Raises:
        ValueError: not JSON, or it holds a lone surrogate.
        RecursionError: nested too deeply.
    """
    doc = _fast_loads(raw)
    if doc is None:  # also a body that is the JSON literal null: read again, same answer
        doc = json.loads(raw)
        dumpb(doc)  # raises UnicodeEncodeError (a ValueError) on a lone surrogate
    return doc


T = TypeVar("T")


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`; milliseconds only when there are any.

    Every message carries one or more of these, so the common case (already UTC) skips
    the conversion.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00, one C call
    return (text[:23] if value.microsecond else text[:19]) + "Z"


def parse_timestamp(value: Any, _: Any = None) -> datetime:
    """Accept RFC 3339 with `Z` or an offset; naive times are refused.

    Raises:
        ValueError: not a string, not a timestamp, or no zone.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        raise ValueError("timestamp must be an RFC 3339 string")
    if parsed.tzinfo is None:
        raise ValueError("timestamp must carry a zone (Z or an offset)")
    return parsed.astimezone(UTC)


def _strict_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _strict_int(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise ValueError("integer out of range (at most 2**53 - 1)")
    return value


def _strict_bool(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {type(value).__name__}")
    return value


def _strict_str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _any_dict(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def _same(value: Any) -> Any:
    return value


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Classes cattrs writes as they are; a message's `data` holds little else."""


def _optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def register_strict_scalars(conv: cattrs.Converter) -> None:
    """Numbers, strings and booleans as they are, never coerced ("5" is not 5), and
    lists only from lists (cattrs would make ["a", "b"] of the string "ab")."""
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)

    def only_lists(hint: Any) -> Any:
        make = list_structure_factory if get_origin(hint) is list else tuple_structure_factory
        structure = make(hint, conv)

        def sequence(value: Any, _: Any) -> Any:
            if not isinstance(value, list):
                raise ValueError(f"expected a list, got {type(value).__name__}")
            return structure(value, hint)

        return sequence

    conv.register_structure_hook_factory(_homogeneous_sequence, only_lists)


def _homogeneous_sequence(hint: Any) -> bool:
    origin, args = get_origin(hint), get_args(hint)
    return origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis)


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(datetime, format_timestamp)
    conv.register_structure_hook(datetime, parse_timestamp)
    register_strict_scalars(conv)
    conv.register_structure_hook_func(lambda t: t == dict[str, Any], _any_dict)
    # Optional scalars are written as they are: cattrs would otherwise dispatch on each
    # value's class at run time, a third of what unstructuring a task cost.
    for scalar in (str, int, float, bool):
        conv.register_unstructure_hook(scalar | None, _same)
    conv.register_unstructure_hook(datetime | None, _optional_timestamp)

    def any_dict(value: dict[str, Any]) -> dict[str, Any]:
        """A copy in which only values that are not plain scalars go through dispatch.

        cattrs dispatches on the class of every value of an Any-typed mapping; for a
        message's `data` (scalars, nearly always) that was most of its cost, on every
        publish."""
        unstructure = conv.unstructure
        return {k: v if v.__class__ in _JSON_SCALARS else unstructure(v) for k, v in value.items()}

    conv.register_unstructure_hook_func(lambda t: t == dict[str, Any], any_dict)
    omit = override(omit_if_default=True)
    for cls in (*m.MESSAGE_TYPES.values(), m.MetricsSample):
        names = {a.name for a in attrs.fields(cls)}
        overrides = {name: omit for name in ("seq", "epoch") if name in names}
        if cls is m.Snapshot or cls is m.ResyncRequired:
            overrides = {}
        conv.register_unstructure_hook(
            cls,
            make_dict_unstructure_fn(cls, conv, **overrides),  # type: ignore[arg-type]
        )
        conv.register_structure_hook(
            cls, make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True)
        )
    for cls in r.CAMEL_CASE:
        renames = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
        conv.register_unstructure_hook(
            cls,
            make_dict_unstructure_fn(cls, conv, **renames),  # type: ignore[arg-type]
        )
        conv.register_structure_hook(
            cls,
            make_dict_structure_fn(cls, conv, **renames),  # type: ignore[arg-type]
        )
    for cls in q.REQUEST_BODIES:  # extra keys ignored: clients may know a newer server
        renames = (
            {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
            if cls in q.CAMEL_CASE_REQUESTS
            else {}
        )
        conv.register_structure_hook(
            cls,
            make_dict_structure_fn(
                cls,
                conv,
                _cattrs_forbid_extra_keys=False,
                **renames,  # type: ignore[arg-type]
            ),
        )
    return conv


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


converter = make_converter()


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


def error_details(exc: BaseException) -> list[str]:
    """Flatten a cattrs error tree into readable `path: problem` lines."""
    if isinstance(exc, cattrs.BaseValidationError):
        return [str(line) for line in cattrs.transform_error(exc, format_exception=_problem)]
    return [str(exc)]


def _problem(exc: BaseException, hint: Any) -> str:
    """Our hooks' and validators' own words; cattrs' for the rest."""
    if type(exc) is ValueError and exc.args:
        return str(exc)
    return format_exception(exc, hint)


def wire_name(cls: type[Any], name: str) -> str:
    """The key a field of `cls` has on the wire."""
    return camel(name) if cls in q.CAMEL_CASE_REQUESTS or cls in r.CAMEL_CASE else name


def refusal(exc: Exception, cls: type[Any]) -> tuple[str, str, dict[str, Any]]:
    """Why a request body did not structure into `cls`: (error code, sentence, details).

    The first problem is reported, with the field as the client spelled it: a value
    outside a documented limit gives that limit's code, a missing or mistyped field
    its field's code.
    """
    if isinstance(exc, q.FieldRefused):
        details: dict[str, Any] = {"field": wire_name(cls, exc.field)}
        if exc.allowed is not None:
            details["allowed"] = list(exc.allowed)
        return exc.code, str(exc), details
    if isinstance(exc, cattrs.ClassValidationError):
        noted, plain = exc.group_exceptions()
        for inner in plain:  # a validator's refusal, raised once the fields structured
            if isinstance(inner, q.FieldRefused):
                return refusal(inner, cls)
        if noted:
            inner, note = noted[0]
            field = wire_name(cls, note.name)
            code = q.field_code(cls, note.name)
            if isinstance(inner, KeyError):
                return code, f"Field '{field}' is required.", {"field": field}
            problem = error_details(inner)[0].split(" @ ")[0]
            return code, f"Field '{field}' is invalid: {problem}.", {"field": field}
    return "invalid_body", "The request body does not fit its schema.", {}
