"""XP, levels, tiers, streaks, idempotency, batches, anti-cheat and the training endpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import TEST_SECRET


def day(n: int, hour: int = 12) -> str:
    """Noon UTC `n` days ago."""
    at = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(days=n)
    return at.isoformat()


async def test_xp_event_raises_xp_and_level(engine):
    answer = await engine.event(1, "xp", value=5000)
    assert answer["xp"] == {
        "gained": 5000,
        "total": 5000,
        "level": 10,
        "previousLevel": 1,
        "tier": "Bronze I",
    }
    assert "🎖 Level 10 Achieved!" in answer["celebrations"]
    assert "⭐ 5,000 XP Milestone!" in answer["celebrations"]


async def test_level_up_and_xp_milestones_reach_the_screens(engine):
    await engine.event(3, "xp", value=1200, userName="Bo")
    level_up = await engine.room_events("user:3", "level:up")
    assert [(e.payload["previousLevel"], e.payload["newLevel"]) for e in level_up] == [(1, 4)]
    gained = await engine.room_events("user:3", "xp:gained")
    assert gained[0].payload["amount"] == 1200 and gained[0].payload["newTotal"] == 1200
    titles = [
        e.payload["title"]
        for e in await engine.room_events("tv-display", "achievement:celebration")
    ]
    assert titles == ["🎖 Level 4 Achieved!", "⭐ 1,000 XP Milestone!"]


async def test_no_level_up_celebration_without_a_new_level(engine):
    await engine.event(1, "xp", value=10)
    assert (await engine.event(1, "xp", value=10))["celebrations"] == []


async def test_tier_upgrade_is_sent_at_silver(engine):
    await engine.event(1, "xp", value=5000)  # level 10, Bronze I
    answer = await engine.event(1, "xp", value=1100)  # 6,100 XP: level 11
    assert answer["xp"]["tier"] == "Silver III"
    upgrades = await engine.room_events("user:1", "player:tier-upgrade")
    # Divisions count as upgrades too (Bronze III -> Bronze I on the way to level 10).
    assert [(u.payload["previousTier"], u.payload["newTier"]) for u in upgrades] == [
        ("Bronze III", "Bronze I"),
        ("Bronze I", "Silver III"),
    ]


async def test_xp_requirement_reads_total_xp(engine):
    veteran = await engine.achievement(
        "Veteran", {"metric": "level", "operator": "gte", "threshold": 5}
    )
    assert (await engine.event(1, "xp", value=1300))["unlocked"][0]["achievementId"] == veteran[
        "id"
    ]


async def test_consecutive_days_build_a_streak(engine):
    for n in (2, 1, 0):
        answer = await engine.event(1, "login", occurredAt=day(n))
    assert answer["streak"]["current"] == 3
    assert answer["streak"]["best"] == 3


async def test_same_day_twice_counts_once(engine):
    await engine.event(1, "activity", occurredAt=day(0, hour=8))
    answer = await engine.event(1, "activity", occurredAt=day(0, hour=9))
    assert answer["streak"]["current"] == 1


async def test_a_missed_day_resets_but_keeps_the_best(engine):
    for n in (5, 4, 3):
        await engine.event(1, "login", occurredAt=day(n))
    answer = await engine.event(1, "login", occurredAt=day(1))
    assert answer["streak"]["current"] == 1
    assert answer["streak"]["best"] == 3
    assert answer["streak"]["reset"] is True


async def test_seventh_day_is_a_streak_milestone(engine):
    for n in range(6, 0, -1):
        await engine.event(1, "login", occurredAt=day(n))
    answer = await engine.event(1, "login", occurredAt=day(0))
    assert answer["streak"]["current"] == 7
    assert "🔥 7-Day Streak!" in answer["celebrations"]
    tv = await engine.room_events("tv-display", "achievement:celebration")
    assert tv[-1].payload["achievementType"] == "streak"


async def test_streak_days_follow_the_users_time_zone(engine, client, service):
    await client.post("/api/users", json={"userId": 5, "timeZone": "Asia/Tokyo"}, headers=service)
    yesterday_utc = datetime.now(UTC).replace(
        hour=10, minute=0, second=0, microsecond=0
    ) - timedelta(days=1)
    await engine.event(5, "login", occurredAt=yesterday_utc.isoformat())  # 19:00 in Tokyo
    # 16:00 UTC the same UTC day is 01:00 the next day in Tokyo: a second streak day.
    answer = await engine.event(
        5, "login", occurredAt=(yesterday_utc + timedelta(hours=6)).isoformat()
    )
    assert answer["streak"]["current"] == 2


async def test_repeated_idempotency_key_answers_the_first_result_and_changes_nothing(
    engine, client, service
):
    body = {"userId": 1, "type": "xp", "value": 100, "idempotencyKey": "order-42"}
    first = await client.post("/api/events", json=body, headers=service)
    again = await client.post("/api/events", json={**body, "value": 999}, headers=service)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (await engine.event(1, "xp", value=1))["xp"]["total"] == 101


async def test_concurrent_retries_with_one_key_store_one_event(engine, client, service):
    body = {"userId": 1, "type": "xp", "value": 100, "idempotencyKey": "retry-me"}
    answers = await asyncio.gather(
        *(client.post("/api/events", json=body, headers=service) for _ in range(8))
    )
    assert {r.json()["eventId"] for r in answers} == {answers[0].json()["eventId"]}
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201]
    assert (await engine.event(1, "xp", value=1))["xp"]["total"] == 101


async def test_batch_applies_events_in_order(client, service):
    events = [{"userId": 1, "type": "xp", "value": 600}, {"userId": 1, "type": "xp", "value": 600}]
    response = await client.post("/api/events/batch", json={"events": events}, headers=service)
    assert response.status_code == 201
    totals = [r["xp"]["total"] for r in response.json()["results"]]
    assert totals == [600, 1200]


async def test_batch_with_one_bad_event_stores_nothing(engine, client, service):
    events = [{"userId": 1, "type": "xp", "value": 600}, {"userId": 1, "type": ""}]
    response = await client.post("/api/events/batch", json={"events": events}, headers=service)
    assert response.status_code == 422
    assert (await engine.event(1, "xp", value=1))["xp"]["total"] == 1


async def test_negative_value_is_refused_and_flagged(client, service, admin):
    response = await client.post(
        "/api/events", json={"userId": 1, "type": "xp", "value": -50}, headers=service
    )
    assert response.status_code == 422
    assert "negative" in response.json()["error"]["message"]
    flagged = (await client.get("/api/admin/flagged-events", headers=admin)).json()
    assert flagged[0]["userId"] == 1 and flagged[0]["value"] == -50


# Value and rate limits by token role: tests/api/test_anti_cheat.py.


async def test_a_backfill_batch_of_one_users_history_is_not_rate_limited(client, service, admin):
    history = [
        {"userId": 2, "type": "tap", "occurredAt": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"}
        for n in range(120)
    ]
    response = await client.post("/api/events/batch", json={"events": history}, headers=service)
    assert response.status_code == 201, response.text
    assert (await client.get("/api/admin/flagged-events", headers=admin)).json() == []
    live = [{"userId": 2, "type": "tap"} for _ in range(120)]
    response = await client.post("/api/events/batch", json={"events": live}, headers=service)
    assert response.status_code == 201  # the host application's: applied, and flagged
    assert (await client.get("/api/admin/flagged-events", headers=admin)).json()[0]["userId"] == 2


@pytest.fixture
def no_anti_cheat_app(settings):
    from accolade.app import create_app
    from accolade.config import Settings

    return create_app(Settings(**{**settings.model_dump(), "anti_cheat": False}, _env_file=None))


async def test_anti_cheat_can_be_switched_off(no_anti_cheat_app, service):
    import httpx

    async with no_anti_cheat_app.router.lifespan_context(no_anti_cheat_app):
        transport = httpx.ASGITransport(app=no_anti_cheat_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            response = await client.post(
                "/api/events",
                json={"userId": "off", "type": "refund", "value": -5},
                headers=service,
            )
    assert response.status_code == 201
    assert TEST_SECRET  # same secret as the other app


async def test_award_xp_endpoint_levels_up(client, service):
    response = await client.post(
        "/api/training/gamification/award-xp",
        json={"userId": 1, "xpAmount": 1000, "action": "module_complete"},
        headers=service,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["leveledUp"] is True and body["level"] == 4 and body["totalXP"] == 1000


async def test_check_streak_records_today(client, service):
    first = await client.post(
        "/api/training/gamification/check-streak", json={"userId": 1}, headers=service
    )
    again = await client.post(
        "/api/training/gamification/check-streak", json={"userId": 1}, headers=service
    )
    assert first.json()["currentStreak"] == again.json()["currentStreak"] == 1


async def test_quiz_xp_follows_the_score(client, service):
    response = await client.post(
        "/api/training/quiz-complete",
        json={"userId": 1, "quizId": "q1", "score": 7, "maxScore": 10},
        headers=service,
    )
    assert response.json()["xpAwarded"] == 70
    assert response.json()["perfect"] is False


async def test_perfect_quiz_earns_quiz_mastery_once(engine, client, service):
    quiz = {"userId": 1, "quizId": 1, "score": 10, "maxScore": 10}
    first = await client.post("/api/training/quiz-complete", json=quiz, headers=service)
    second = await client.post("/api/training/quiz-complete", json=quiz, headers=service)
    assert [u["name"] for u in first.json()["effects"]["unlocked"]] == ["Quiz Mastery"]
    assert second.json()["effects"]["unlocked"] == []
    completed = await engine.room_events("user:1", "quiz:completed")
    assert [c.payload["perfect"] for c in completed] == [True, True]


async def test_roleplay_relays_typing_chunks_and_response_in_order(engine, client, service):
    response = await client.post(
        "/api/training/roleplay/s-1/messages",
        json={"userId": 4, "chunks": ["Hel", "lo"], "response": "Hello"},
        headers=service,
    )
    assert response.json()["eventsQueued"] == 4
    events = await engine.room_events("user:4")
    assert [e.event for e in events] == [
        "roleplay:typing",
        "roleplay:chunk",
        "roleplay:chunk",
        "roleplay:response",
    ]
    assert [e.payload.get("text") for e in events[1:3]] == ["Hel", "lo"]
    assert all(e.payload["sessionId"] == "s-1" for e in events)
