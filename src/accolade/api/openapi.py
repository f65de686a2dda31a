"""The OpenAPI document as the server answers: every status a route can give, one error envelope.

FastAPI documents a route's success and, for routes with parameters, a 422 in its own
`{"detail": ...}` shape. Accolade answers every failure with `{"error": {"code", "message",
"details"}}` (`api/errors.py`), so the document is post-processed here, in one place: each
operation gets the error statuses its kind of route can answer (derived from what the route
takes: a body, parameters, a token, a method that writes), plus those a route declares with
`responses=errors(...)`, all with the `Error` schema.
"""

from __future__ import annotations

import copy
import http
from collections.abc import Callable, Iterator
from typing import Any, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from accolade.api import deps

ERROR_REF = "#/components/schemas/Error"

ERROR_STATUSES: dict[int, str] = {
    400: "`malformed_json`: the body is not JSON that can be read (a syntax error, not UTF-8, "
    "nested too deeply).",
    401: "`unauthorized`: no `Authorization: Bearer` token, or one that is expired, malformed or "
    "not signed by this installation.",
    403: "`forbidden`: the token's role may not do this, or a user token acts for another user.",
    404: "`not_found`: what the request names (in its path, query or body) does not exist, or is "
    "not this token's to see.",
    409: "`conflict`: the request clashes with the current state (a status that does not allow "
    "it, something done twice that happens once) or with an existing record.",
    413: "`payload_too_large`: the body is larger than `ACCOLADE_MAX_BODY_BYTES` "
    "(`details.maxBytes`).",
    422: "`validation_error`: the request breaks a rule of its schema or one stated in a "
    "description; `details` lists `{field, message}`, the field as the client names it "
    "(`requirements.0.operator`). No text anywhere, free-form JSON included, may hold U+0000.",
    429: "`rate_limited`: too many events a second from this user's own token; retry after "
    "`Retry-After` seconds.",
    503: "`unavailable`: the database could not be reached or the connection broke mid-request; "
    "retry after `Retry-After` seconds (with an `idempotencyKey` an event never counts twice).",
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Every route under these prefixes reads or writes the database, so a lost connection is a 503.
_DATABASE_PATHS = ("/api/", "/health")


class FieldError(BaseModel):
    """One broken rule of a 422: the field as the client names it, and what is wrong."""

    field: str = Field(description="`userId`, `requirements.0.operator`, `body` ...")
    message: str


class ErrorBody(BaseModel):
    code: str = Field(
        description="`malformed_json`, `unauthorized`, `forbidden`, `not_found`, "
        "`method_not_allowed`, `conflict`, `payload_too_large`, `validation_error`, "
        "`rate_limited` or `unavailable`."
    )
    message: str = Field(description="What was wrong, for a person to read.")
    details: Any = Field(
        description="More about it, or null: a 422 lists `FieldError`s; a 405 has `allow`, a "
        "413 `maxBytes`, a 409 what it clashed with."
    )


class Error(BaseModel):
    """Every error answer: `{"error": {"code", "message", "details"}}`."""

    error: ErrorBody


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the error statuses a route answers beyond those its kind implies (e.g.
    429 on the event intake, 404 for an id named in the body); `install` gives them the
    `Error` schema."""
    return {status: {"description": ERROR_STATUSES[status]} for status in statuses}


def returns(
    model: type[BaseModel] | Any,
    status: int = 200,
    description: str = "Successful Response",
    headers: dict[str, Any] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """`responses=` documenting a success body by its model, for routes that answer a plain
    dict or a `Response` (so FastAPI neither filters nor re-encodes it): the document states
    the shape, and the schemathesis run checks every answer against it."""
    response: dict[str, Any] = {"model": model, "description": description}
    if headers:
        response["headers"] = headers
    return {status: response}


REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true`: a repeated `idempotencyKey`, answered with the first result.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def install(app: FastAPI, *, public_display: bool) -> None:
    """Serve `/openapi.json` (and `/docs`) from `document(app)`, built once."""

    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(document(app, public_display=public_display))
        return built

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI, *, public_display: bool) -> dict[str, Any]:
    """The app's OpenAPI document with every error status and the one error envelope.

    `public_display`: the public reads (leaderboards, contests, teams) take no token while it is
    on, and the document says so (their security is optional)."""
    schema = copy.deepcopy(FastAPI.openapi(app))  # FastAPI's own, with its 2xx and 422s
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_error_components())
    for route in _api_routes(app):
        calls = set(_dependency_calls(route.dependant))
        for method in sorted(route.methods or ()):
            operation = schema["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(_implied_statuses(route, method, calls) | declared):
                responses[str(status)] = _error_response(status, responses.get(str(status)))
            operation["responses"] = dict(sorted(responses.items()))
            if deps.public_reader in calls and public_display:
                # No token is needed: `{}` is the OpenAPI way to say authentication is optional.
                operation["security"] = [*operation.get("security", []), {}]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """The app's documented routes with their full paths (routers are included by reference,
    so `app.routes` holds the routers; FastAPI's own walk resolves each route's prefix)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            yield cast(APIRoute, context)


def _implied_statuses(route: APIRoute, method: str, calls: set[Callable[..., Any]]) -> set[int]:
    """The error statuses a route can answer because of what it takes."""
    dependant = route.dependant
    params = _all_params(dependant)
    statuses: set[int] = set()
    if params["body"]:
        statuses |= {400, 413, 422}
    if any(params[kind] for kind in ("path", "query", "header", "cookie")):
        statuses.add(422)
    if params["path"]:
        statuses.add(404)
    if any(isinstance(call, HTTPBearer) for call in calls):  # it reads a token
        statuses |= {401, 403}
    if method in _WRITES:
        statuses.add(409)  # a domain conflict, or a clash with a stored row (IntegrityError)
    if route.path_format.startswith(_DATABASE_PATHS):
        statuses.add(503)
    return statuses


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _all_params(dependant: Dependant) -> dict[str, bool]:
    found = {
        "path": bool(dependant.path_params),
        "query": bool(dependant.query_params),
        "header": bool(dependant.header_params),
        "cookie": bool(dependant.cookie_params),
        "body": bool(dependant.body_params),
    }
    for sub in dependant.dependencies:
        for kind, present in _all_params(sub).items():
            found[kind] = found[kind] or present
    return found


def _error_response(status: int, given: dict[str, Any] | None) -> dict[str, Any]:
    """The response object of an error status: the route's own description when it wrote one,
    the `Error` schema, and `Retry-After` on 429 and 503."""
    description = (given or {}).get("description")
    generic = {None, "", "Validation Error", "Additional Response", _phrase(status)}
    response: dict[str, Any] = {
        "description": ERROR_STATUSES.get(status, _phrase(status))
        if description in generic
        else description,
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _error_components() -> dict[str, Any]:
    """`Error`, `ErrorBody` and `FieldError` as OpenAPI components."""
    found: dict[str, Any] = {}
    for model in (Error, FieldError):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(model_schema.pop("$defs", {}))
        found[model.__name__] = model_schema
    return found
