"""`GET /api/leaderboards/{metric}`: boards by calendar period (UTC), ties, around me, teams,
archived periods, and who may read them (the TV display: anonymous while PUBLIC_DISPLAY is on)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from accolade.app import create_app
from accolade.config import Settings
from tests.api.test_auth import assert_error
from tests.conftest import empty_database, running

BOARD = "/api/leaderboards"


async def event(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    user_id: Any,
    value: float,
    *,
    type: str = "calls",
    at: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": user_id, "userName": f"Rep {user_id}", "type": type}
    body["value"] = value
    if at is not None:
        body["occurredAt"] = at
    response = await client.post("/api/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def fetch(client: httpx.AsyncClient, metric: str = "calls", **params: Any) -> httpx.Response:
    response = await client.get(f"{BOARD}/{metric}", params=params)
    assert response.status_code == 200, response.text
    return response


async def board(
    client: httpx.AsyncClient, metric: str = "calls", **params: Any
) -> list[dict[str, Any]]:
    """The entries: the body is a bare JSON array, best first."""
    entries = (await fetch(client, metric, **params)).json()
    assert isinstance(entries, list)
    return entries


def users(entries: list[dict[str, Any]]) -> list[Any]:
    return [entry["userId"] for entry in entries]


async def test_calendar_periods_split_at_utc_midnight_monday_and_month_end(client, service):
    await event(client, service, "sun", 3, at="2026-11-22T23:59:59.999Z")  # Sunday, week 47
    await event(client, service, "mon", 5, at="2026-11-23T00:00:00Z")  # Monday, week 48
    await event(client, service, "oct", 7, at="2026-10-31T23:59:59+00:00")
    await event(client, service, "ny", 1, at="2026-11-23T00:30:00-05:00")  # 05:30 UTC on the 23rd

    assert users(await board(client, period="day", at="2026-11-22")) == ["sun"]
    assert users(await board(client, period="day", periodKey="2026-11-23")) == ["mon", "ny"]
    assert users(await board(client, period="week", periodKey="2026-W47")) == ["sun"]
    week = await fetch(client, period="week", at="2026-11-26T12:00:00Z")
    assert (week.headers["Leaderboard-Period-Key"], users(week.json())) == (
        "2026-W48",
        ["mon", "ny"],
    )
    assert week.headers["Leaderboard-Period"] == "week"
    assert users(await board(client, period="month", periodKey="2026-10")) == ["oct"]
    assert users(await board(client, period="month", at="2026-11-01")) == ["mon", "sun", "ny"]
    assert users(await board(client, period="year", periodKey="2026")) == [
        "oct",
        "mon",
        "sun",
        "ny",
    ]
    everyone = await fetch(client)
    assert everyone.headers["Leaderboard-Metric"] == "calls"
    assert everyone.headers["Leaderboard-Period"] == "all"
    assert everyone.headers["Leaderboard-Period-Key"] == "all"
    assert "Leaderboard-Team" not in everyone.headers
    assert everyone.json()[0] == {"rank": 1, "userId": "oct", "userName": "Rep oct", "value": 7}
    # Without `at` or `periodKey`: the current period.
    today = datetime.now(UTC).date().isoformat()
    assert (await fetch(client, period="day")).headers["Leaderboard-Period-Key"] == today


async def test_equal_values_rank_by_who_reached_them_first(client, service):
    await event(client, service, "early", 4)
    await event(client, service, "steady", 10)  # reaches 10 first
    await event(client, service, "early", 6)  # had points first, reaches 10 second
    await event(client, service, "leader", 12)
    await event(client, service, "late", 10)
    entries = await board(client)
    assert [(e["rank"], e["userId"], e["value"]) for e in entries] == [
        (1, "leader", 12),
        (2, "steady", 10),
        (3, "early", 10),
        (4, "late", 10),
    ]
    # Catching up with the leader: equal, but the leader got there first.
    await event(client, service, "late", 2)
    assert users(await board(client)) == ["leader", "late", "steady", "early"]


async def test_around_a_user_gives_at_most_limit_places_centred_on_the_user(client, service):
    for n in range(1, 26):
        await event(client, service, n, n)  # user n has n calls: user 25 is first
    middle = await board(client, around="13", limit=5)
    assert [(e["rank"], e["userId"]) for e in middle] == [
        (11, 15),
        (12, 14),
        (13, 13),
        (14, 12),
        (15, 11),
    ]
    # An even limit: one more below. Near the top or the bottom the window shifts.
    assert [e["rank"] for e in await board(client, around=13, limit=4)] == [12, 13, 14, 15]
    assert [e["rank"] for e in await board(client, around=25, limit=3)] == [1, 2, 3]
    assert [e["rank"] for e in await board(client, around=24, limit=5)] == [1, 2, 3, 4, 5]
    assert [e["rank"] for e in await board(client, around=1, limit=4)] == [22, 23, 24, 25]
    assert [e["rank"] for e in await board(client, around=2, limit=5)] == [21, 22, 23, 24, 25]
    assert [e["userId"] for e in await board(client, around=7, limit=1)] == [7]
    assert len(await board(client, around=13, limit=100)) == 25
    assert users(await board(client, limit=3)) == [25, 24, 23]
    # A known user without a value on this board is nowhere on it; an unknown user is a 404.
    await event(client, service, "quiet", 1, type="emails")
    assert await board(client, around="quiet") == []
    assert_error(await client.get(f"{BOARD}/calls", params={"around": "ghost"}), 404, "not_found")


async def test_team_board_ranks_members_among_themselves(client, service):
    for user_id, calls in (("a", 50), ("b", 40), ("c", 30), ("d", 20)):
        await event(client, service, user_id, calls)
    created = await client.post(
        "/api/teams", json={"teamId": "east", "name": "East"}, headers=service
    )
    assert created.status_code == 201, created.text
    for member in ("b", "d"):
        added = await client.put(f"/api/teams/east/members/{member}", headers=service)
        assert added.status_code == 201, added.text
    team = await fetch(client, team="east")
    assert team.headers["Leaderboard-Team"] == "east"
    assert [(e["rank"], e["userId"]) for e in team.json()] == [(1, "b"), (2, "d")]
    assert [e["rank"] for e in await board(client, team="east", around="d")] == [1, 2]
    assert [e["userId"] for e in await board(client, team="east", around="d", limit=1)] == ["d"]
    assert await board(client, team="east", around="a") == []
    assert_error(await client.get(f"{BOARD}/calls", params={"team": "west"}), 404, "not_found")


async def test_metadata_headers_are_percent_encoded_beyond_printable_ascii(client, service):
    created = await client.post(
        "/api/teams", json={"teamId": "Süd\nteam", "name": "Süd"}, headers=service
    )
    assert created.status_code == 201, created.text
    response = await client.get(f"{BOARD}/café 100%", params={"team": "Süd\nteam"})
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["Leaderboard-Metric"] == "caf%C3%A9 100%25"
    assert response.headers["Leaderboard-Team"] == "S%C3%BCd%0Ateam"
    assert unquote(response.headers["Leaderboard-Team"]) == "Süd\nteam"


async def test_openapi_shows_a_bare_array_and_the_headers(client):
    spec = (await client.get("/openapi.json")).json()
    get = spec["paths"]["/api/leaderboards/{metric}"]["get"]
    schema = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array"
    assert "Leaderboard-Period-Key" in get["description"]


async def test_sale_metrics_and_xp_have_boards(client, service):
    await event(client, service, "rep", 2500, type="sale")
    await event(client, service, "rep", 40, type="xp")
    assert (await board(client, "revenue", period="month"))[0]["value"] == 2500
    assert (await board(client, "sales"))[0]["value"] == 1
    assert (await board(client, "xp"))[0]["value"] == 40


@pytest.mark.parametrize(
    "params",
    [
        {"period": "decade"},
        {"limit": 0},
        {"limit": 101},
        {"period": "month", "periodKey": "2026-13"},
        {"period": "week", "periodKey": "2026-11"},
        {"period": "day", "at": "yesterday"},
        {"period": "day", "at": "2026-11-01", "periodKey": "2026-11-01"},
    ],
)
async def test_malformed_queries_are_422(client, params):
    assert_error(await client.get(f"{BOARD}/xp", params=params), 422, "validation_error")


@pytest.fixture
async def private_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with ACCOLADE_PUBLIC_DISPLAY off."""
    closed = settings.model_copy(update={"public_display": False})
    await empty_database(closed)
    async with running(create_app(closed)) as application:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://accolade.test") as c:
            yield c


async def test_without_public_display_a_board_needs_a_token(private_client, auth):
    assert_error(await private_client.get(f"{BOARD}/xp"), 401, "unauthorized")
    for role in ("display", "user", "service", "admin"):
        response = await private_client.get(f"{BOARD}/xp", headers=auth("tv", role))
        assert response.status_code == 200, response.text


async def test_a_batch_and_concurrent_events_add_up_on_every_board(client, service):
    batch = [
        {"userId": u, "type": "calls", "value": v} for u, v in [(1, 2), (2, 5), (1, 4), (1, 1)]
    ]
    answer = await client.post("/api/events/batch", json={"events": batch}, headers=service)
    assert answer.status_code == 201, answer.text
    places = [
        [(r["previousRank"], r["newRank"]) for r in result["ranks"] if r["metric"] == "calls"]
        for result in answer.json()["results"]
    ]
    # 1 enters first; 2 enters ahead of it; 1 passes 2 (6 > 5); 1 stays first.
    assert places == [[(None, 1)], [(None, 1)], [(2, 1)], []]
    await asyncio.gather(*(event(client, service, n % 5, 1) for n in range(40)))
    for period in ("all", "day", "week", "month", "year"):
        entries = await board(client, period=period)
        assert {e["userId"]: e["value"] for e in entries} == {
            0: 8,
            1: 15,
            2: 13,
            3: 8,
            4: 8,
        }
