"""JSON Schema from the attrs classes, with the converter's field names.

The OpenAPI and AsyncAPI documents are generated from the same classes the server
serializes with, so the contract cannot drift from the code.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from .jsoncheck import MAX_TEXT_BYTES
from .requests import TEXT_LIMIT_NOTE, Limit
from .serde import wire_name

__all__ = ["SchemaSet"]


def _validator_facts(validator: Any) -> dict[str, Any]:
    """enum / minimum / maximum / minLength read from attrs validators."""
    out: dict[str, Any] = {}
    if validator is None:
        return out
    for inner in getattr(validator, "_validators", None) or [validator]:
        if isinstance(inner, Limit):
            out.update(inner.schema())
            continue
        options = getattr(inner, "options", None)
        if options is not None:
            out["enum"] = list(options)
        op, bound = getattr(inner, "compare_op", None), getattr(inner, "bound", None)
        if op in (">=", ">") and bound is not None:
            out["minimum"] = bound
        if op in ("<=", "<") and bound is not None:
            out["maximum"] = bound
        if type(inner).__name__ == "_MinLengthValidator":
            out["minLength"] = inner.min_length
        if type(inner).__name__ == "_AndValidator":
            out.update(_validator_facts(inner))
    return out


def _flat(schema: dict[str, Any]) -> dict[str, Any]:
    """`T | None` of a plain type as `{"type": [T, "null"]}`, which reads better."""
    options = schema.get("anyOf")
    if options and all(set(o) == {"type"} for o in options[1:]) and "type" in options[0]:
        return {**options[0], "type": [options[0]["type"], *(o["type"] for o in options[1:])]}
    return schema


class SchemaSet:
    """Collects named component schemas; `ref(cls)` adds a class and returns its $ref."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, cls: type[Any]) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder against recursion
            self.schemas[name] = self._object(cls)
        return {"$ref": f"{self.prefix}{name}"}

    def _object(self, cls: type[Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field, wire, schema in self._fields(cls, flat=False):
            properties[wire] = schema
            omitted_when_default = field.name in ("seq", "epoch") and field.default is None
            if field.default is attrs.NOTHING or not omitted_when_default:
                required.append(wire)
        return {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    def _fields(
        self, cls: type[Any], *, flat: bool
    ) -> list[tuple[attrs.Attribute[Any], str, dict[str, Any]]]:
        """Each field of `cls` with its wire name and schema: its type, what its
        validators state, its scalar default. `flat`: `T | None` as a type list."""
        hints = typing.get_type_hints(cls)
        out = []
        for field in attrs.fields(cls):
            schema = self.for_type(hints[field.name])
            if flat:
                schema = _flat(schema)
            schema.update(_validator_facts(field.validator))
            if isinstance(field.default, str | int | float | bool):
                schema["default"] = field.default
            out.append((field, wire_name(cls, field.name), schema))
        return out

    def ref_for(self, name: str) -> dict[str, Any]:
        """The $ref of a schema already registered by name."""
        return {"$ref": f"{self.prefix}{name}"}

    def request_body(self, cls: type[Any]) -> dict[str, Any]:
        """A request body's schema, inline: its fields' limits, every string's byte cap.

        Keys it does not name are ignored by the server, so none are forbidden here.
        """
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field, wire, schema in self._fields(cls, flat=True):
            if schema.get("type") in ("string", ["string", "null"]) and "enum" not in schema:
                schema["maxLength"] = min(schema.get("maxLength", MAX_TEXT_BYTES), MAX_TEXT_BYTES)
                schema["x-max-bytes"] = MAX_TEXT_BYTES
                schema["description"] = TEXT_LIMIT_NOTE
            if field.default is attrs.NOTHING:
                required.append(wire)
            properties[wire] = schema
        return {
            "type": "object",
            "properties": properties,
            "required": required,
        }

    def for_type(self, hint: Any) -> dict[str, Any]:
        origin = get_origin(hint)
        if hint is str:
            return {"type": "string"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint is datetime:
            return {"type": "string", "format": "date-time"}
        if hint is Any:
            return {}
        if origin is Literal:
            return {"const": get_args(hint)[0], "type": "string"}
        if origin in (Union, types.UnionType):
            options = [a for a in get_args(hint) if a is not type(None)]
            inner = [self.for_type(a) for a in options]
            nullable = len(options) != len(get_args(hint))
            if nullable:
                inner.append({"type": "null"})
            return inner[0] if len(inner) == 1 else {"anyOf": inner}
        if origin in (list, tuple):
            args = get_args(hint)
            return {"type": "array", "items": self.for_type(args[0]) if args else {}}
        if origin is dict:
            args = get_args(hint)
            value = self.for_type(args[1]) if len(args) == 2 else {}
            return (
                {"type": "object", "additionalProperties": value} if value else {"type": "object"}
            )
        if attrs.has(hint):
            return self.ref(hint)
        raise TypeError(f"no JSON Schema for {hint!r}")
