"""`/metrics` by `ACCOLADE_METRICS`: `token` (the default: an admin token), `open`, `off` (404)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from accolade.app import create_app
from accolade.config import Settings
from tests.api.test_auth import assert_error
from tests.conftest import TokenFactory, empty_database, running


@pytest.fixture
def metrics_client(settings: Settings):
    async def make(mode: str | None) -> AsyncIterator[httpx.AsyncClient]:
        values = settings.model_dump()
        if mode is not None:
            values["metrics"] = mode
        await empty_database(settings)
        app = create_app(Settings(_env_file=None, **values))  # type: ignore[call-arg]
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                yield client

    return make


async def test_by_default_metrics_need_an_admin_token(metrics_client, auth: TokenFactory):
    async for client in metrics_client(None):
        assert_error(await client.get("/metrics"), 401, "unauthorized")
        assert_error(await client.get("/metrics", headers=auth("7", "user")), 403, "forbidden")
        assert_error(await client.get("/metrics", headers=auth("s", "service")), 403, "forbidden")
        answer = await client.get("/metrics", headers=auth())
        assert answer.status_code == 200 and "accolade_http_requests_total" in answer.text


async def test_open_metrics_serve_anyone(metrics_client):
    async for client in metrics_client("open"):
        answer = await client.get("/metrics")
        assert answer.status_code == 200 and "accolade_http_requests_total" in answer.text


async def test_metrics_off_is_404_even_for_an_admin(metrics_client, auth: TokenFactory):
    async for client in metrics_client("off"):
        assert_error(await client.get("/metrics", headers=auth()), 404, "not_found")
        assert_error(await client.get("/metrics"), 404, "not_found")


def test_an_unknown_metrics_mode_is_refused_at_start():
    with pytest.raises(ValueError, match="metrics"):
        Settings(_env_file=None, metrics="public")  # type: ignore[call-arg,arg-type]
