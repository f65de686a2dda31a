"""Liveness and readiness, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from accolade import __version__
from accolade.api.deps import ServicesDep
from accolade.api.errors import error_response

router = APIRouter(tags=["health"])


@router.get("/health", summary="Is the service up and its database reachable?")
async def health(services: ServicesDep) -> Response:
    try:
        await services.database.ping()
    except Exception as exc:  # a health check reports the outage (503) rather than failing
        return error_response(503, "unavailable", f"database unreachable: {exc}")
    body = {"status": "ok", "version": __version__, "database": services.database.dialect}
    return JSONResponse(body)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
