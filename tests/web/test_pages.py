"""The pages and their files are served by Accolade itself (no CDN), anonymously."""

from __future__ import annotations

import re
from importlib import resources

import httpx
import pytest
from fastapi import FastAPI

from accolade.app import create_app
from accolade.config import Settings
from tests.conftest import running


@pytest.mark.parametrize("path", ["/tv", "/dashboard"])
async def test_pages_are_anonymous_and_load_only_their_own_files(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [url for url in linked if url.startswith("/static/")]
    assert assets, linked
    assert not [url for url in linked if "//" in url], "no file from another host"
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "no-cache"  # revalidated after upgrades
    script = await client.get(f"/static/{path.strip('/')}.js")
    assert "javascript" in script.headers["content-type"]
    assert "http://" not in script.text and "https://" not in script.text


async def test_the_files_are_part_of_the_installed_package() -> None:
    web = resources.files("accolade") / "web"
    for name in ("tv.html", "dashboard.html", "static/live.js", "static/common.css"):
        assert (web / name).is_file(), name


async def test_an_anonymous_screen_gets_a_display_token_that_reads_public_rooms(
    client: httpx.AsyncClient,
) -> None:
    token = (await client.get("/display-token")).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/rooms/tv-display/events", headers=headers)).status_code == 200
    private = await client.get("/api/rooms/user:42/events", headers=headers)
    assert private.status_code == 403


async def test_no_display_token_while_public_display_is_off(settings: Settings) -> None:
    quiet = settings.model_copy(update={"public_display": False})
    async with running(create_app(quiet)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://accolade.test") as c:
            response = await c.get("/display-token")
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
            assert (await c.get("/tv")).status_code == 200  # the page itself stays open


async def test_home_leads_to_the_dashboard(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/dashboard"
