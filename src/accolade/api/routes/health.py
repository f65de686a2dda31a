"""Liveness and readiness, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field

from accolade import __version__
from accolade.api.deps import BearerCredentials, ServicesDep
from accolade.api.errors import error_response
from accolade.api.openapi import errors, returns
from accolade.api.schemas import Schema
from accolade.auth import read_token
from accolade.domain.errors import NotFound, Unauthorized
from accolade.domain.identity import Role

router = APIRouter(tags=["health"])


class HealthOut(Schema):
    status: str = Field(description="`ok`")
    version: str
    database: str = Field(description="`sqlite` or `postgresql`")


@router.get(
    "/health",
    summary="Is the service up and its database reachable?",
    response_model=None,
    responses=returns(HealthOut),
)
async def health(services: ServicesDep) -> Response:
    try:
        await services.database.ping()
    except Exception as exc:  # a health check reports the outage (503) rather than failing
        return error_response(
            503, "unavailable", f"database unreachable: {exc}", None, {"Retry-After": "2"}
        )
    body = {"status": "ok", "version": __version__, "database": services.database.dialect}
    return JSONResponse(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="`ACCOLADE_METRICS`: `token` (default) needs an admin token "
    "(`Authorization: Bearer`), `open` serves anyone, `off` answers 404.",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        },
        **errors(404),
    },
)
async def metrics(
    request: Request,
    services: ServicesDep,
    credentials: BearerCredentials,
) -> Response:
    mode = services.settings.metrics
    if mode == "off":
        raise NotFound("no such endpoint (metrics are off: ACCOLADE_METRICS=off)")
    if mode == "token":
        if credentials is None:
            raise Unauthorized("metrics need an admin token: `Authorization: Bearer <token>`")
        read_token(services.jwt_secret, credentials.credentials).require_role(Role.ADMIN)
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
