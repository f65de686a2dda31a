"""Reversing a stored event (`POST /api/events/{eventId}/reverse`): everything it moved goes back,
as if it had never been sent, in one transaction; a second reverse is 409."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from accolade.app import create_app
from accolade.domain.periods import PERIODS
from accolade.storage.models import Event, EventReversal, RewardDistribution
from tests.conftest import running
from tests.pipeline.conftest import rule

PERIODS_ = list(PERIODS)


async def reverse(client: Any, headers: dict[str, str], event_id: int, **body: Any) -> Any:
    return await client.post(f"/api/events/{event_id}/reverse", json=body, headers=headers)


async def board(client: Any, headers: dict[str, str], metric: str, period: str) -> list[Any]:
    response = await client.get(
        f"/api/leaderboards/{metric}", params={"period": period}, headers=headers
    )
    assert response.status_code == 200, response.text
    return [(e["userId"], e["value"]) for e in response.json()]


async def live_contest(client: Any, headers: dict[str, str], *entrants: Any) -> int:
    created = await client.post(
        "/api/contests", json={"name": "Q4 Sales Challenge", "metric": "revenue"}, headers=headers
    )
    assert created.status_code == 201, created.text
    cid: int = created.json()["id"]
    for user_id in entrants:
        entered = await client.post(
            f"/api/contests/{cid}/enter", json={"userId": user_id}, headers=headers
        )
        assert entered.status_code == 201, entered.text
    live = await client.patch(f"/api/contests/{cid}", json={"status": "LIVE"}, headers=headers)
    assert live.status_code == 200, live.text
    return cid


async def test_a_refunded_sale_is_as_if_never_sent(engine, client, service):
    cid = await live_contest(client, service, 7, 8)
    # Reaching 41,000 in a day: only with the refunded sale in the window.
    big_day = await engine.achievement(
        "Big Day", rule("revenue", "gte", 41_000, duration=1, unit="days")
    )
    await engine.event(8, "sale", value=30_000)
    sale = await engine.event(7, "sale", value=40_000)
    assert sale["ranks"][0]["newRank"] == 1
    response = await reverse(client, service, sale["eventId"], reason="refund")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["eventId"] == sale["eventId"]
    effects = answer["effects"]
    assert effects["metrics"] == {"revenue": -40_000, "sales": -1}
    assert {(b["metric"], b["period"]) for b in effects["boards"]} == {
        (m, p) for m in ("revenue", "sales") for p in PERIODS_
    }
    assert effects["ranks"][0]["previousRank"] == 1
    # Every revenue board of every period: as if the sale had never been sent.
    for period in PERIODS_:
        assert await board(client, service, "revenue", period) == [(8, 30_000)], period
        assert await board(client, service, "sales", period) == [(8, 1)], period
    standings = (await client.get(f"/api/contests/{cid}/leaderboard", headers=service)).json()
    assert [(s["userId"], s["value"]) for s in standings] == [(8, 30_000), (7, 0)]
    assert [c["contestId"] for c in effects["contests"]] == [cid]
    # The rep's place change went out as for any move, to the rep and the TV display.
    for room in ("user:7", "tv-display"):
        updates = [e.payload for e in await engine.room_events(room, "rankings:update")]
        assert (updates[-1]["previousRank"], updates[-1]["newRank"]) == (1, 2), room
    # The day window holds 1,000 now, not 41,000: the buckets went back too.
    later = await engine.event(7, "sale", value=1_000)
    assert later["unlocked"] == []
    assert later["ranks"][0]["value"] == 1_000
    assert big_day["id"] not in await engine.unlocked(7)


async def test_a_row_with_other_events_keeps_what_they_counted(engine, client, service):
    await engine.event(9, "sale", value=1_000)
    second = await engine.event(9, "sale", value=2_000)
    assert (await reverse(client, service, second["eventId"])).status_code == 200
    for period in PERIODS_:
        assert await board(client, service, "revenue", period) == [(9, 1_000)]


async def test_a_reversed_event_stays_stored_with_its_ledger_entry(engine, client, service, app):
    sale = await engine.event(7, "sale", value=500)
    answer = (await reverse(client, service, sale["eventId"], reason="refund")).json()
    async with app.state.services.database.transaction() as session:
        event = await session.get(Event, sale["eventId"])
        entry = (await session.scalars(select(EventReversal))).one()
    assert event is not None and event.reversed_at is not None
    assert event.reversed_at.isoformat().startswith(answer["reversedAt"][:19])
    assert (entry.event_id, entry.reason, entry.actor) == (sale["eventId"], "refund", "host-app")
    assert entry.effects["metrics"] == {"revenue": -500, "sales": -1}


async def test_reversing_xp_lowers_xp_and_level(engine, client, service):
    big = await engine.event(3, "xp", value=5_000)
    await engine.event(3, "xp", value=100)
    assert big["xp"]["level"] == 10
    effects = (await reverse(client, service, big["eventId"])).json()["effects"]
    assert effects["xp"]["before"] == 5_100
    assert effects["xp"]["after"] == 100
    assert effects["xp"]["levelBefore"] == 10
    assert effects["xp"]["levelAfter"] < 10
    profile = (await client.get("/api/users/3/profile", headers=service)).json()
    assert (profile["xp"], profile["level"]) == (100, effects["xp"]["levelAfter"])
    assert await board(client, service, "xp", "all") == [(3, 100)]


async def test_reversing_a_streak_day_recomputes_the_streak(engine, client, service):
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    days = [
        await engine.event(4, "login", occurredAt=(today - timedelta(days=n)).isoformat())
        for n in (2, 1, 0)
    ]
    assert days[-1]["streak"]["current"] == 3
    effects = (await reverse(client, service, days[1]["eventId"])).json()["effects"]
    # Day 1 and day 3 are not consecutive: the streak restarted on day 3.
    assert effects["streak"]["before"]["current"] == 3
    assert effects["streak"]["after"] == {
        "current": 1,
        "best": 1,
        "lastActiveDay": today.date().isoformat(),
    }


async def test_a_second_reverse_is_409(engine, client, service):
    sale = await engine.event(7, "sale", value=100)
    assert (await reverse(client, service, sale["eventId"])).status_code == 200
    again = await reverse(client, service, sale["eventId"])
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "conflict"
    assert await board(client, service, "revenue", "all") == []


async def test_an_unknown_event_is_404(client, service):
    response = await reverse(client, service, 999_999)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_user_token_may_not_reverse(engine, client, auth):
    sale = await engine.event(7, "sale", value=100)
    response = await reverse(client, auth("7", "user"), sale["eventId"])
    assert response.status_code == 403


async def test_concurrent_reverses_make_one_reversal(engine, client, service):
    sale = await engine.event(7, "sale", value=100)
    answers = await asyncio.gather(*(reverse(client, service, sale["eventId"]) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    assert await board(client, service, "sales", "all") == []


@pytest.mark.backends("postgresql")
async def test_concurrent_reverses_on_two_nodes_make_one_reversal(settings, service):
    """Two app instances on one PostgreSQL database, each asked to reverse the same event at
    once: the unique ledger key lets exactly one through."""
    from tests.conftest import empty_database

    await empty_database(settings)
    async with running(create_app(settings)) as one, running(create_app(settings)) as two:
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://node")
            for a in (one, two)
        ]
        try:
            sales = []
            for n in range(5):
                sent = await clients[0].post(
                    "/api/events",
                    json={"userId": 7, "type": "sale", "value": 100 + n},
                    headers=service,
                )
                sales.append(sent.json()["eventId"])
            for event_id in sales:
                answers = await asyncio.gather(
                    *(reverse(c, service, event_id, reason="refund") for c in clients)
                )
                assert sorted(a.status_code for a in answers) == [200, 409], [
                    a.text for a in answers
                ]
            assert await board(clients[1], service, "revenue", "all") == []
            async with one.state.services.database.transaction() as session:
                assert len((await session.scalars(select(EventReversal))).all()) == 5
        finally:
            for c in clients:
                await c.aclose()


async def test_a_resent_key_after_the_reversal_answers_as_before_and_applies_nothing(
    engine, client, service
):
    body = {"userId": 7, "type": "sale", "value": 40_000, "idempotencyKey": "order-1138"}
    first = await client.post("/api/events", json=body, headers=service)
    assert first.status_code == 201
    event_id = first.json()["eventId"]
    assert (await reverse(client, service, event_id)).status_code == 200
    again = await client.post("/api/events", json=body, headers=service)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    for period in PERIODS_:
        assert await board(client, service, "revenue", period) == []
    assert (await reverse(client, service, event_id)).status_code == 409


async def test_revocable_unlocks_are_revoked_and_others_kept(engine, client, service, app):
    revocable = await engine.achievement(
        "Ten Grand",
        rule("revenue", "gte", 10_000),
        revocable=True,
        rewards=[{"type": "XP", "value": 100}],
    )
    kept = await engine.achievement("Ten Grand Forever", rule("revenue", "gte", 10_000))
    sale = await engine.event(7, "sale", value=20_000)
    assert {u["achievementId"] for u in sale["unlocked"]} == {revocable["id"], kept["id"]}
    effects = (await reverse(client, service, sale["eventId"])).json()["effects"]
    assert [r["achievementId"] for r in effects["revoked"]] == [revocable["id"]]
    assert await engine.unlocked(7) == [kept["id"]]
    [told] = await engine.room_events("user:7", "achievement:revoked")
    assert told.payload["achievementId"] == revocable["id"]
    assert not await engine.room_events("tv-display", "achievement:revoked")
    async with app.state.services.database.transaction() as session:
        rewards = (await session.scalars(select(RewardDistribution))).all()
    assert [r.status for r in rewards] == ["REVOKED"]


async def test_a_revocable_unlock_still_held_is_kept(engine, client, service):
    revocable = await engine.achievement(
        "Ten Grand", rule("revenue", "gte", 10_000), revocable=True
    )
    await engine.event(7, "sale", value=15_000)
    extra = await engine.event(7, "sale", value=5_000)
    effects = (await reverse(client, service, extra["eventId"])).json()["effects"]
    assert effects["revoked"] == []
    assert await engine.unlocked(7) == [revocable["id"]]


async def test_a_timeframed_revocable_unlock_held_once_is_kept(engine, client, service):
    """The window held at an earlier event of the remaining history: never sending the
    reversed event would have unlocked it too."""
    hot = await engine.achievement(
        "Hot Hour", rule("calls", "gte", 2, duration=1, unit="hours"), revocable=True
    )
    start = datetime.now(UTC) - timedelta(days=2)
    for minutes in (0, 1):
        await engine.event(7, "calls", occurredAt=(start + timedelta(minutes=minutes)).isoformat())
    late = await engine.event(7, "calls", occurredAt=(start + timedelta(hours=5)).isoformat())
    effects = (await reverse(client, service, late["eventId"])).json()["effects"]
    assert effects["revoked"] == []
    assert await engine.unlocked(7) == [hot["id"]]


async def test_quest_steps_in_progress_go_down_and_completed_ones_stay(engine, client, service):
    quest = (
        await client.post(
            "/api/quests",
            json={
                "title": "Dialer",
                "steps": [
                    {"id": "one", "title": "One call", "requirements": [rule("calls", "gte", 1)]},
                    {"id": "four", "title": "Four", "requirements": [rule("calls", "gte", 4)]},
                ],
            },
            headers=service,
        )
    ).json()
    started = await client.post(
        f"/api/quests/{quest['id']}/start", json={"userId": 5}, headers=service
    )
    assert started.status_code in (200, 201), started.text
    first = await engine.event(5, "calls")
    await engine.event(5, "calls")
    effects = (await reverse(client, service, first["eventId"])).json()["effects"]
    assert effects["quests"][0]["questId"] == quest["id"]
    progress = (
        await client.get(
            f"/api/quests/{quest['id']}/progress", params={"userId": 5}, headers=service
        )
    ).json()
    assert progress["completedSteps"] == ["one"]  # completed steps are kept
    assert progress["stepProgress"]["four"] == 0.25  # 1 of 4 calls, not 2


async def test_the_redis_copy_of_a_board_loses_the_emptied_row(settings, redis_url, service):
    """With Redis keeping a copy of the boards (multi-node mode), a row the reversal deleted
    leaves the copy too, and a row it lowered moves there."""
    from tests.conftest import empty_database

    await empty_database(settings)
    redis_settings = settings.model_copy(update={"redis_url": redis_url})
    async with (
        running(create_app(redis_settings)) as node,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=node), base_url="http://node"
        ) as client,
    ):
        sent = [
            (
                await client.post(
                    "/api/events",
                    json={"userId": user, "type": "sale", "value": value},
                    headers=service,
                )
            ).json()["eventId"]
            for user, value in ((7, 40_000), (8, 30_000), (8, 20_000))
        ]
        assert await board(client, service, "revenue", "month") == [
            (8, 50_000),
            (7, 40_000),
        ]
        for event_id in (sent[0], sent[1]):
            assert (await reverse(client, service, event_id)).status_code == 200
        leaderboards = node.state.services.leaderboards
        assert leaderboards.store.keeps_copy
        for period in PERIODS_:
            assert await board(client, service, "revenue", period) == [(8, 20_000)]


async def test_a_reversal_empties_the_month_a_week_it_shares_with_another_month_keeps(
    engine, client, service
):
    # 2026-11-30 (a Monday) and 2026-12-01 lie in one ISO week (2026-W49) but two months: the
    # week keeps the other sale, the December board must lose the rep's row all the same.
    await engine.event(7, "sale", value=500, occurredAt="2026-11-30T12:00:00Z")
    december = await engine.event(7, "sale", value=300, occurredAt="2026-12-01T12:00:00Z")
    assert (await reverse(client, service, december["eventId"])).status_code == 200

    async def rows(period: str, key: str) -> list[Any]:
        response = await client.get(
            "/api/leaderboards/revenue",
            params={"period": period, "periodKey": key},
            headers=service,
        )
        assert response.status_code == 200, response.text
        return [(e["userId"], e["value"]) for e in response.json()]

    assert await rows("week", "2026-W49") == [(7, 500)]
    assert await rows("month", "2026-11") == [(7, 500)]
    assert await rows("month", "2026-12") == []
    assert await rows("day", "2026-12-01") == []
