"""The TOML files an operator writes (agents, providers) as attrs classes.

Each file is parsed by tomllib and structured by one strict cattrs converter that
refuses unknown keys and wrong types: a typo is an error that names the key and the
file, never a setting silently ignored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

import cattrs

from .contract.serde import error_details, register_strict_scalars

__all__ = ["ConfigFileError", "parse", "read", "structure"]

T = TypeVar("T")


class ConfigFileError(ValueError):
    """A file cannot be used; the message names the file and the key."""


_converter = cattrs.Converter(forbid_extra_keys=True)
register_strict_scalars(_converter)


def parse(text: str, where: str) -> dict[str, Any]:
    """Raises: ConfigFileError: not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{where}: {exc}") from exc


def read(path: Path) -> dict[str, Any]:
    """Raises: ConfigFileError: unreadable, or not TOML."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"{path}: {exc}") from exc
    return parse(text, str(path))


def structure(doc: Any, cls: type[T], where: str) -> T:
    """`doc` as `cls`.

    Raises:
        ConfigFileError: every problem, each as `where: key.path: problem`.
    """
    try:
        return _converter.structure(doc, cls)
    except (cattrs.BaseValidationError, cattrs.ForbiddenExtraKeysError) as exc:
        problems = []
        for line in error_details(exc):
            problem, _, key = line.rpartition(" @ ")
            key = key.removeprefix("$").lstrip(".")
            problems.append(f"{key}: {problem}" if key else problem)
        raise ConfigFileError(f"{where}: {'; '.join(problems)}") from exc
    except (TypeError, ValueError) as exc:  # an attrs validator refusing a value
        raise ConfigFileError(f"{where}: {exc}") from exc
