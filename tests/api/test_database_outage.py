"""The database connections cut under traffic (PostgreSQL `pg_terminate_backend`): requests in
flight are answered 503 `unavailable` with `Retry-After`, never 500, and the node recovers by
itself (the pool drops dead connections)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from accolade.app import create_app
from accolade.config import Settings
from tests.conftest import TEST_SECRET, TokenFactory, fresh_postgres_database, running

KILL_BACKENDS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
async def pg_app() -> AsyncIterator[tuple[FastAPI, str]]:
    async with fresh_postgres_database("accolade_outage") as url:
        settings = Settings(database_url=url, jwt_secret=TEST_SECRET, _env_file=None)  # type: ignore[call-arg]
        async with running(create_app(settings)) as app:
            yield app, url


async def test_killed_backends_give_503_with_retry_after_never_500_and_the_node_recovers(
    pg_app: tuple[FastAPI, str], auth: TokenFactory
) -> None:
    app, url = pg_app
    service = auth("host-app", "service")
    answers: list[httpx.Response] = []
    stop = asyncio.Event()
    # raise_app_exceptions=False: a 500 must show up as a status here, not as an exception.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://x", timeout=30) as client:

        async def traffic(worker: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                request: Any = (
                    client.post(
                        "/api/events",
                        json={"userId": f"u{worker}", "type": "tap"},
                        headers=service,
                    )
                    if n % 2
                    else client.get(f"/api/users/u{worker}/profile", headers=service)
                )
                answers.append(await request)

        workers = [asyncio.create_task(traffic(worker)) for worker in range(8)]
        killer = await asyncpg.connect(url)
        try:
            await asyncio.sleep(0.5)
            for _ in range(4):
                await killer.fetch(KILL_BACKENDS)
                await asyncio.sleep(0.3)
        finally:
            await killer.close()
            stop.set()
            await asyncio.gather(*workers)

        statuses = {response.status_code for response in answers}
        assert statuses <= {200, 201, 503}, [
            (r.status_code, r.text) for r in answers if r.status_code not in (200, 201, 503)
        ][:3]
        unavailable = [r for r in answers if r.status_code == 503]
        assert unavailable, "no request was in flight when the connections were cut"
        for response in unavailable:
            assert response.json()["error"]["code"] == "unavailable"
            assert int(response.headers["Retry-After"]) >= 1

        # Recovered by itself: the next requests all succeed.
        for n in range(20):
            response = await client.post(
                "/api/events", json={"userId": "after", "type": "tap"}, headers=service
            )
            assert response.status_code == 201, (n, response.text)
        assert (await client.get("/health")).status_code == 200
