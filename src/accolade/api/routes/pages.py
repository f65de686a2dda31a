"""The screens: `/tv` (the office TV display), `/dashboard`, their static files under `/static`.

The pages are anonymous. Some of what they read over REST needs a token (a room's history,
`/api/rooms/tv-display/events`, for the recent achievements), so while `ACCOLADE_PUBLIC_DISPLAY`
is on a page asks `/display-token` for a short-lived `display` token and uses it for all its
public reads: that role reads only what is public, which an anonymous client may already see on
the sockets. With the setting off the endpoint refuses, and a screen needs `?token=` (a display
or user token) like any other client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from accolade.api.deps import ServicesDep
from accolade.auth import issue_token
from accolade.domain.errors import Unauthorized
from accolade.domain.identity import Role

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
STATIC_DIR = WEB_DIR / "static"
DISPLAY_TOKEN_TTL_S = 12 * 3600
DISPLAY_SUBJECT = "public-display"
# Pages change with the installed version; a TV must never show a stale script after an upgrade.
NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["pages"], include_in_schema=False)


class _Revalidated(StaticFiles):
    """Static files a browser must revalidate (a cheap 304 by ETag) before each use, so that a
    TV left running for weeks picks up new scripts after an upgrade."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(NO_CACHE)
        return response


def static_files() -> StaticFiles:
    """The pages' scripts, styles and icons, mounted at `/static`."""
    return _Revalidated(directory=STATIC_DIR)


@router.get("/tv")
async def tv_display() -> FileResponse:
    return FileResponse(WEB_DIR / "tv.html", media_type="text/html", headers=NO_CACHE)


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    return FileResponse(WEB_DIR / "dashboard.html", media_type="text/html", headers=NO_CACHE)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/display-token")
async def display_token(services: ServicesDep) -> JSONResponse:
    """A `display` token for an anonymous screen, while public display is on."""
    if not services.settings.public_display:
        raise Unauthorized("public display is off: open the page with ?token=")
    token = issue_token(services.jwt_secret, DISPLAY_SUBJECT, Role.DISPLAY, DISPLAY_TOKEN_TTL_S)
    return JSONResponse(
        {"token": token, "expiresIn": DISPLAY_TOKEN_TTL_S}, headers={"Cache-Control": "no-store"}
    )
