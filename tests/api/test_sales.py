"""`POST /api/sales-reps/{id}/sales`: seed 000's `analyzeSalesRepUpdate` on monthly revenue.

The highest threshold crossed is celebrated once; the rep's place on this month's revenue board
goes out as `rankings:update` (rep's room and TV) on every change, and is celebrated only in the
top 10 or 5+ places up; `leaderboard:refresh` reaches the TV at most once a second per metric.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from accolade.app import create_app
from accolade.storage.models import RoomEvent
from tests.api.test_auth import assert_error
from tests.conftest import running

SALES = "/api/sales-reps/{}/sales"


async def sell(
    client: httpx.AsyncClient, headers: dict[str, str], rep: Any, amount: float, **extra: Any
) -> httpx.Response:
    response = await client.post(
        SALES.format(rep), json={"amount": amount, **extra}, headers=headers
    )
    assert response.status_code in (200, 201), response.text
    return response


class Room:
    """Room events written since the last look (the outbox: what the screens are sent)."""

    def __init__(self, app: FastAPI) -> None:
        self.database = app.state.services.database
        self.seen = 0

    async def new(self) -> list[tuple[str, str, dict[str, Any]]]:
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    select(RoomEvent).where(RoomEvent.id > self.seen).order_by(RoomEvent.id)
                )
            ).scalars()
            found = [(r.room, r.event, r.payload, r.id) for r in rows]
        if found:
            self.seen = found[-1][3]
        return [(room, event, payload) for room, event, payload, _ in found]


def rank_updates(events: list[tuple[str, str, dict[str, Any]]], room: str) -> list[tuple[Any, Any]]:
    return [
        (p["previousRank"], p["newRank"])
        for r, e, p in events
        if r == room and e == "rankings:update"
    ]


def celebrations(events: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [
        p["title"] for r, e, p in events if r == "tv-display" and e == "achievement:celebration"
    ]


async def test_a_sale_adds_revenue_and_signups_for_the_month_and_all_time(client, service):
    answer = (await sell(client, service, 7, 1200.5, signups=3, userName="Ada")).json()
    assert answer["userId"] == 7 and answer["metrics"]["revenue"] == 1200.5
    await sell(client, service, 7, 800, signups=1)
    for period in ("month", "all"):
        revenue = (await client.get("/api/leaderboards/revenue", params={"period": period})).json()
        assert revenue == [{"rank": 1, "userId": 7, "userName": "Ada", "value": 2000.5}]
        signups = (await client.get("/api/leaderboards/signups", params={"period": period})).json()
        assert signups[0]["value"] == 4


async def test_a_repeated_idempotency_key_records_the_sale_once(client, service):
    first = await sell(client, service, "r1", 500, idempotencyKey="sale-1")
    again = await sell(client, service, "r1", 500, idempotencyKey="sale-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["eventId"] == first.json()["eventId"]
    revenue = (await client.get("/api/leaderboards/revenue")).json()
    assert revenue[0]["value"] == 500


async def test_only_the_highest_threshold_crossed_is_celebrated(app, client, service):
    room = Room(app)
    await sell(client, service, "big", 9_000)
    assert [t for t in celebrations(await room.new()) if "Milestone" in t] == []
    answer = (await sell(client, service, "big", 51_000, signups=120)).json()
    assert sorted(t for t in celebrations(await room.new()) if "Milestone" in t) == [
        "💰 $50,000 Revenue Milestone!",
        "📈 100 Signups Milestone!",
    ]
    revenue = next(r for r in answer["ranks"] if r["metric"] == "revenue")
    assert "💰 $50,000 Revenue Milestone!" in revenue["milestones"]
    await sell(client, service, "big", 1_000)  # 61,000: no new threshold
    assert [t for t in celebrations(await room.new()) if "Milestone" in t] == []


async def test_rank_changes_are_sent_always_and_celebrated_at_the_rule_edges(app, client, service):
    # Reps 1..20 with 100 x n: rep n is at place 21 - n.
    for n in range(1, 21):
        await sell(client, service, n, 100 * n)
    room = Room(app)
    await room.new()

    # Exactly 5 places up, outside the top 10: 20th -> 15th, celebrated.
    await sell(client, service, 1, 550)  # 650: passes reps 2..6
    events = await room.new()
    assert rank_updates(events, "user:1") == [(20, 15)]
    assert rank_updates(events, "tv-display") == [(20, 15)]
    assert celebrations(events) == ["🚀 Climbed to #15 in revenue!"]

    # 4 places up outside the top 10: sent, not celebrated.
    await sell(client, service, 2, 410)  # 610: passes reps 3..6, still behind rep 1
    events = await room.new()
    assert rank_updates(events, "user:2") == [(20, 16)]
    assert celebrations(events) == []

    # 11th -> 10th: into the top 10, celebrated.
    await sell(client, service, 10, 150)  # 1,150 passes rep 11
    events = await room.new()
    assert rank_updates(events, "user:10") == [(11, 10)]
    assert celebrations(events) == ["🚀 Climbed to #10 in revenue!"]

    # No change of place: nothing sent, nothing celebrated.
    answer = (await sell(client, service, 20, 1)).json()
    events = await room.new()
    assert rank_updates(events, "user:20") == [] and celebrations(events) == []
    assert [r for r in answer["ranks"] if r["metric"] == "revenue" and "newRank" in r] == []


async def test_refresh_reaches_the_tv_at_most_once_a_second_per_metric(app, client, service):
    leaderboards = app.state.services.leaderboards
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    leaderboards.clock = lambda: now
    room = Room(app)

    def refreshes(events: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
        return sorted(
            p["metric"] for r, e, p in events if r == "tv-display" and e == "leaderboard:refresh"
        )

    for n in range(30):
        await sell(client, service, n % 4, 10, signups=1)
    # 30 sales in the same second: one refresh for each metric they moved.
    assert refreshes(await room.new()) == ["revenue", "sales", "signups"]

    now += timedelta(seconds=0.5)
    await sell(client, service, 1, 10)
    assert await leaderboards.flush_refreshes() == []  # not yet: the second is not over
    assert refreshes(await room.new()) == []

    # The second is over: the changes that were held back get one trailing refresh.
    now += timedelta(seconds=0.5)
    await leaderboards.flush_refreshes()
    assert refreshes(await room.new()) == ["revenue", "sales", "signups"]
    assert await leaderboards.flush_refreshes() == []
    assert refreshes(await room.new()) == []

    now += timedelta(seconds=1)
    await sell(client, service, 2, 10)
    assert refreshes(await room.new()) == ["revenue", "sales"]


async def test_sales_need_a_privileged_token_and_a_sane_amount(client, service, auth):
    body = {"amount": 10}
    user = auth("7", "user")
    assert_error(await client.post(SALES.format(7), json=body, headers=user), 403, "forbidden")
    for bad in ({"amount": -5}, {"amount": "lots"}, {}, {"amount": 5, "signups": -1}):
        response = await client.post(SALES.format(7), json=bad, headers=service)
        assert_error(response, 422, "validation_error")


async def test_two_nodes_send_one_refresh_per_second_between_them(app, client, service, settings):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    async with running(create_app(settings)) as other_app:
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node-b") as other:
            for node in (app, other_app):
                node.state.services.leaderboards.clock = lambda: now
            room = Room(app)
            for n in range(10):
                await sell(client if n % 2 else other, service, n, 10)
            events = await room.new()
    assert sorted(
        p["metric"] for r, e, p in events if r == "tv-display" and e == "leaderboard:refresh"
    ) == ["revenue", "sales"]
