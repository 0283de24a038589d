"""The REST error contract: every failure is `{"error": code, "message": sentence}`.

Handlers raise `ApiError`; the middleware turns it, aiohttp's own HTTP exceptions and
anything unexpected into that shape, so no traceback ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..services.errors import DomainError
from ..store.base import StoreUnavailable
from .responses import json_response

__all__ = ["CODES", "ApiError", "error_middleware", "error_response"]

log = logging.getLogger("devskyy_ws.http.errors")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "A valid bearer token is required."),
    403: ("forbidden", "This token is not allowed to do that."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "That method is not allowed on this resource."),
    409: ("conflict", "The resource is not in a state that allows this."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "The request body must be JSON."),
    422: ("validation_failed", "The request fields are not valid."),
    429: ("rate_limited", "Too many requests; slow down."),
    500: ("internal_error", "Something went wrong on our side; it has been logged."),
    503: ("unavailable", "The service is temporarily unavailable."),
}


class ApiError(Exception):
    """An error with its HTTP status, machine code and human sentence.

    Args:
        status: HTTP status code.
        code: stable machine-readable code, e.g. ``invalid_query``.
        message: one human sentence.
        details: optional structured context (field errors, allowed values).
        headers: extra response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return json_response(body, status=status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    code, message = CODES.get(exc.status, ("http_error", exc.reason))
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        message = f"Method not allowed; use {', '.join(allowed)}." if allowed else message
    if exc.status == 413:
        message = "The request body is larger than the server accepts."
    headers = {
        k: v for k, v in exc.headers.items() if k.lower() not in {"content-type", "content-length"}
    }
    return error_response(exc.status, code, message, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: maps every failure to the JSON contract."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(
            exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers
        )
    except DomainError as exc:
        return error_response(exc.status, exc.code, exc.message, details=exc.details)
    except StoreUnavailable:
        log.exception("database unavailable on %s %s", request.method, request.path)
        return error_response(
            503, "database_unavailable", "The database is unavailable; nothing was changed."
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(exc)
    except ConnectionResetError:
        raise  # the client left (mid-handshake in a reconnect storm): aiohttp drops it quietly
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        code, message = CODES[500]
        return error_response(500, code, message)
