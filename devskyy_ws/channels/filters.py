"""Subscription filters: which published messages a connection wants.

A key matches a top-level field of the message or a field of its `data`; a list value
means "any of"; a message that lacks a filtered key does not match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FilterError", "Filters", "matches", "parse_filters"]

Filters = dict[str, frozenset[Any]]
_MAX_KEYS = 16
_MAX_VALUES = 256
_SCALARS = (str, int, float, bool)


class FilterError(ValueError):
    """The filters are malformed; the message says how."""


def parse_filters(raw: Any) -> Filters:
    """Validate a client's `filters` object.

    Raises:
        FilterError: not an object, too many keys or values, or non-scalar values.
    """
    if not isinstance(raw, dict):
        raise FilterError("filters must be an object of field names to values")
    if len(raw) > _MAX_KEYS:
        raise FilterError(f"at most {_MAX_KEYS} filter keys are allowed")
    parsed: Filters = {}
    for key, value in raw.items():
        if not key or len(key) > 64:
            raise FilterError("filter keys must be 1 to 64 characters")
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > _MAX_VALUES:
            raise FilterError(f"filter {key!r} needs 1 to {_MAX_VALUES} values")
        if not all(isinstance(item, _SCALARS) and item is not None for item in values):
            raise FilterError(f"filter {key!r} values must be strings, numbers or booleans")
        parsed[key] = frozenset(values)
    return parsed


def matches(doc: Mapping[str, Any], filters: Filters) -> bool:
    data = doc.get("data")
    for key, allowed in filters.items():
        if key in doc and key != "data":
            value = doc[key]
        elif isinstance(data, dict) and key in data:
            value = data[key]
        else:
            return False
        try:
            if value not in allowed:
                return False
        except TypeError:  # unhashable (a dict or list field) never equals a scalar
            return False
    return True
