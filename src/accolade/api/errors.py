"""The one error envelope: `{"error": {"code", "message", "details"}}` for every failure."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from accolade.domain import wire
from accolade.domain.errors import DomainError

log = logging.getLogger("accolade.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    """The field as the client names it: path parameters are declared in snake_case
    (`achievement_id`) but everything a client sees is camelCase (`achievementId`)."""
    source = loc[0] if loc else None
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    if source == "path" and parts:
        parts[0] = wire.camel(parts[0])
    return ".".join(parts) or str(loc[0] if loc else "request")


# Every 429 says when to come back; one second when the refusal does not know better.
DEFAULT_RETRY_AFTER_S = 1


def _retry_after(
    status: int, exc: Exception, headers: dict[str, str] | None
) -> dict[str, str] | None:
    """`headers` with `Retry-After` (whole seconds) added to a 429 or 503 that lacks it."""
    if status not in (429, 503) or (headers and "Retry-After" in headers):
        return headers
    seconds = getattr(exc, "retry_after_s", None) or DEFAULT_RETRY_AFTER_S
    return {**(headers or {}), "Retry-After": str(max(1, int(seconds)))}


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = _retry_after(exc.status, exc, None)
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    details = [
        {"field": _field_path(tuple(error.get("loc", ()))), "message": error.get("msg", "")}
        for error in errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(422, "validation_error", f"invalid request: {summary}", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # HTTP's answer to a method a path does not take (RFC 9110 15.5.6): 405 with `Allow`.
        allowed = _allowed_methods(request, headers.get("Allow", ""))
        headers["Allow"] = ", ".join(allowed)
        return error_response(
            405,
            "method_not_allowed",
            f"this path does not take that method (it takes: {', '.join(allowed) or 'none'})",
            {"allow": allowed},
            headers,
        )
    status = exc.status_code if exc.status_code in _HTTP_CODES else 400
    message = exc.detail if isinstance(exc.detail, str) else "bad request"
    if status == 404 and message == "Not Found":
        message = "no such endpoint"
    unparsable = _unparsable_body(exc)
    if unparsable is not None:
        return error_response(400, "malformed_json", unparsable)
    details = getattr(exc, "details", None)  # e.g. the body limit's {"maxBytes": ...}
    return error_response(
        status, _HTTP_CODES[status], message, details, _retry_after(status, exc, headers or None)
    )


def _allowed_methods(request: Request, given: str) -> list[str]:
    """Every method the request's path takes. Starlette's `Allow` names only the first route
    that matched the path, but a path is often served by several (GET and POST, one each)."""
    allowed = {method.strip() for method in given.split(",") if method.strip()}
    for route in iter_route_contexts(request.app.routes):
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] is not Match.NONE:
            allowed |= methods
    return sorted(allowed)


def _unparsable_body(exc: StarletteHTTPException) -> str | None:
    """Why FastAPI could not parse a JSON body, when that is what this 400 is about.

    FastAPI answers a plain syntax error with a RequestValidationError (`json_invalid`), but a
    body that is not UTF-8, nests deeper than the parser's recursion limit or holds an integer
    too long to convert becomes a bare 400 with the parser's exception as its cause.
    """
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return "the request body is not valid JSON: it is nested too deeply to parse"
    if isinstance(cause, UnicodeDecodeError):
        return "the request body is not valid JSON: it is not UTF-8 text"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "the request body is not valid JSON: it holds an integer too long to read"
    if isinstance(cause, ValueError):
        return "the request body could not be parsed as JSON"
    return None


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    log.info("constraint clash: %s", exc)
    return error_response(409, "conflict", "this clashes with an existing record", None)


# How long a client should wait after a lost database connection: the pool replaces dead
# connections on the next checkout (pre-ping), so a retry soon after usually succeeds.
UNAVAILABLE_RETRY_AFTER_S = 2


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the database could not be reached or the connection
    broke mid-operation, rather than that the request or the code was wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.InterfaceError | sa_exc.TimeoutError):
            return True  # InterfaceError: the connection is closed; TimeoutError: pool is dry
        if isinstance(current, _ASYNCPG_CONNECTION_ERRORS):
            return True
        if isinstance(current, ConnectionError):
            return True  # refused, reset, broken pipe: from the driver's socket
        if isinstance(current, sa_exc.DBAPIError) and isinstance(current.orig, OSError):
            return True  # the driver's own socket error (not any OSError of the app)
        current = current.__cause__ or current.__context__
    return False


_ASYNCPG_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def _unavailable(exc: BaseException) -> JSONResponse:
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return error_response(
        503,
        "unavailable",
        "the database connection was lost; try again shortly",
        None,
        {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    """A lost connection is 503 (answered here, not logged as a crash); other database errors
    go on to `_unexpected`."""
    if connection_lost(exc):
        return _unavailable(exc)
    raise exc


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    if connection_lost(exc):  # wrapped in something else on its way up
        return _unavailable(exc)
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal", "something went wrong on our side; it is logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    for database_error in (
        sa_exc.DBAPIError,
        sa_exc.TimeoutError,
        ConnectionError,
        *_ASYNCPG_CONNECTION_ERRORS,
    ):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(Exception, _unexpected)
