"""Domain errors raised by services; the REST layer maps them to statuses."""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "DomainError", "Invalid", "NotFound", "TooLarge", "Unavailable"]


class DomainError(Exception):
    """Base: a machine code, one human sentence and optional details."""

    status = 400

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


class Invalid(DomainError):
    status = 422


class Unavailable(DomainError):
    status = 503
