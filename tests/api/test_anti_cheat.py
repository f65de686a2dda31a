"""Anti-cheat: a user's own token is refused beyond its limits; the host application's service and
admin tokens (batches included) are applied and flagged for admins; every 429 has `Retry-After`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from accolade.api import errors
from accolade.domain.identity import Principal, Role
from accolade.pipeline.commands import EventCommand
from accolade.services.anti_cheat import AntiCheat, Limits, TooFrequent

FLAGGED = "/api/admin/flagged-events"


async def test_a_service_batch_of_100_events_for_one_user_is_applied_and_flagged(
    client, service, admin
):
    events = [{"userId": "busy", "type": "tap"} for _ in range(100)]
    response = await client.post("/api/events/batch", json={"events": events}, headers=service)
    assert response.status_code == 201, response.text
    assert len(response.json()["results"]) == 100
    flagged = (await client.get(FLAGGED, headers=admin)).json()
    mine = [row for row in flagged if row["userId"] == "busy"]
    assert mine and all(row["applied"] for row in mine)
    assert "events a second" in mine[0]["reason"]
    assert len(mine) < 10  # one finding per burst, not one row per event


async def test_300_concurrent_events_from_the_host_application_are_all_applied(client, service):
    answers = await asyncio.gather(
        *(
            client.post("/api/events", json={"userId": 7, "type": "tap"}, headers=service)
            for _ in range(300)
        )
    )
    assert [r.status_code for r in answers] == [201] * 300
    profile = await client.get("/api/users/7/profile", headers=service)
    assert profile.status_code == 200


async def test_an_absurd_value_from_a_service_token_is_applied_and_flagged(client, service, admin):
    response = await client.post(
        "/api/events", json={"userId": 1, "type": "sale", "value": 5e12}, headers=service
    )
    assert response.status_code == 201, response.text
    flagged = (await client.get(FLAGGED, headers=admin)).json()
    assert flagged[0]["value"] == 5e12 and flagged[0]["applied"] is True


async def test_a_negative_value_is_refused_from_every_token(client, service, admin):
    response = await client.post(
        "/api/events", json={"userId": 1, "type": "xp", "value": -50}, headers=admin
    )
    assert response.status_code == 422
    flagged = (await client.get(FLAGGED, headers=admin)).json()
    assert flagged[0]["value"] == -50 and flagged[0]["applied"] is False


@pytest.fixture
async def anti_cheat(app: FastAPI) -> AsyncIterator[AntiCheat]:
    yield AntiCheat(app.state.services.database, Limits(max_events_per_s=5, max_value=100))


async def test_a_users_own_token_is_refused_beyond_the_rate_with_a_retry_after(anti_cheat):
    player = Principal("42", Role.USER)
    for _ in range(5):
        await anti_cheat.check(EventCommand(42, "tap"), player)
    with pytest.raises(TooFrequent) as refused:
        await anti_cheat.check(EventCommand(42, "tap"), player)
    assert refused.value.retry_after_s == 1
    rows = await anti_cheat.flagged()
    assert rows[0]["applied"] is False


async def test_a_users_own_token_is_refused_above_the_value_limit(anti_cheat):
    with pytest.raises(errors.DomainError):
        await anti_cheat.check(EventCommand(42, "xp", 101), Principal("42", Role.USER))


async def test_a_service_token_is_never_refused_for_rate(anti_cheat):
    host = Principal("host-app", Role.SERVICE)
    for _ in range(50):
        await anti_cheat.check(EventCommand(42, "tap"), host)
    rows = await anti_cheat.flagged()
    assert len(rows) == 1 and rows[0]["applied"] is True


@pytest.fixture
async def refusing_client() -> AsyncIterator[httpx.AsyncClient]:
    """An app whose routes answer 429 the two ways a 429 can arise."""
    app = FastAPI()
    errors.install(app)

    @app.get("/domain")
    async def domain() -> None:
        raise TooFrequent("slow down", retry_after_s=3)

    @app.get("/http")
    async def http() -> None:
        raise HTTPException(429, "slow down")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        yield client


@pytest.mark.parametrize(("path", "seconds"), [("/domain", "3"), ("/http", "1")])
async def test_every_429_carries_retry_after(refusing_client, path, seconds):
    response = await refusing_client.get(path)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == seconds
    assert response.json()["error"]["code"] == "rate_limited"
