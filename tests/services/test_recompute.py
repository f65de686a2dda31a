"""Fixing a rule: PATCH new requirements (or POST .../recompute) re-evaluates every user from
stored history; quiet unlocks, revocable holders revoked, others kept, with the counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from accolade.services.recompute import RecomputeService
from accolade.storage.models import Notification
from tests.pipeline.conftest import Engine, rule

ACHIEVEMENTS = "/api/achievements"


@pytest.fixture
def engine(client: Any, admin: dict[str, str], app: Any) -> Engine:
    return Engine(client, admin, app)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def patch(engine: Engine, achievement_id: int, **fields: Any) -> dict[str, Any]:
    response = await engine.client.patch(
        f"{ACHIEVEMENTS}/{achievement_id}", json=fields, headers=engine.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def recompute(engine: Engine, achievement_id: int) -> Any:
    return await engine.client.post(
        f"{ACHIEVEMENTS}/{achievement_id}/recompute", headers=engine.headers
    )


async def deals(engine: Engine, counts: dict[int, int]) -> None:
    for user_id, n in counts.items():
        for _ in range(n):
            await engine.event(user_id, "deal")


async def test_revocable_is_set_on_create_and_patch_and_shown(engine):
    made = await engine.achievement("Closer", rule("deal", "gte", 1), revocable=True)
    assert made["revocable"] is True
    assert (await engine.achievement("Other"))["revocable"] is False
    changed = await patch(engine, made["id"], revocable=False)
    assert changed["revocable"] is False
    got = await engine.client.get(f"{ACHIEVEMENTS}/{made['id']}", headers=engine.headers)
    assert got.json()["revocable"] is False


async def test_a_raised_threshold_revokes_revocable_holders_who_no_longer_meet_it(engine):
    closer = await engine.achievement(
        "Closer", rule("deal", "gte", 1), revocable=True, rewards=[{"type": "XP", "value": 50}]
    )
    await deals(engine, {1: 2, 2: 1})
    answer = await patch(engine, closer["id"], requirements=[rule("deal", "gte", 2)])
    assert answer["recompute"] == {"unlocked": 0, "revoked": 1, "kept": 0}
    assert answer["requirements"][0]["threshold"] == 2
    assert await engine.unlocked(1) == [closer["id"]]
    assert await engine.unlocked(2) == []
    revoked = await engine.room_events("user:2", "achievement:revoked")
    assert [event.payload["achievementId"] for event in revoked] == [closer["id"]]
    rewards = await engine.client.get("/api/rewards", params={"userId": 2}, headers=engine.headers)
    assert [reward["status"] for reward in rewards.json()] == ["REVOKED"]


async def test_holders_of_a_non_revocable_achievement_are_kept(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await deals(engine, {1: 2, 2: 1})
    answer = await patch(engine, closer["id"], requirements=[rule("deal", "gte", 2)])
    assert answer["recompute"] == {"unlocked": 0, "revoked": 0, "kept": 1}
    assert await engine.unlocked(2) == [closer["id"]]
    assert await engine.room_events("user:2", "achievement:revoked") == []


async def test_a_lowered_threshold_unlocks_quietly_on_the_users_screen_not_the_tv(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 3))
    await deals(engine, {1: 2, 2: 1})
    tv_before = len(await engine.room_events("tv-display", "achievement:celebration"))
    answer = await patch(engine, closer["id"], requirements=[rule("deal", "gte", 2)])
    assert answer["recompute"] == {"unlocked": 1, "revoked": 0, "kept": 0}
    assert await engine.unlocked(1) == [closer["id"]]
    assert await engine.unlocked(2) == []
    assert len(await engine.room_events("tv-display", "achievement:celebration")) == tv_before
    earned = await engine.room_events("user:1", "achievement:earned")
    assert earned[-1].payload["title"] == "🏅 Closer Badge Earned!"
    async with engine.app.state.services.database.transaction() as session:
        told = await session.scalar(
            select(func.count(Notification.id)).where(Notification.type.like("celebration.%"))
        )
    assert told == 1


async def test_a_timeframed_rule_met_in_the_past_qualifies_though_its_window_has_passed(engine):
    burst = await engine.achievement("Burst", rule("deal", "gte", 3, duration=1, unit="hours"))
    for minutes in (30, 20):
        await engine.event(1, "deal", occurredAt=ago(days=10, minutes=minutes))
    await engine.event(2, "deal", occurredAt=ago(days=10))
    answer = await patch(
        engine, burst["id"], requirements=[rule("deal", "gte", 2, duration=1, unit="hours")]
    )
    assert answer["recompute"] == {"unlocked": 1, "revoked": 0, "kept": 0}
    assert await engine.unlocked(1) == [burst["id"]]


async def test_a_patch_that_leaves_the_rule_alone_recomputes_nothing(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    assert (await patch(engine, closer["id"], points=5))["recompute"] is None
    same = await patch(engine, closer["id"], requirements=[rule("deal", "gte", 1)])
    assert same["recompute"] is None


async def test_recompute_on_demand_revokes_an_unlock_the_history_does_not_justify(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 5), revocable=True)
    await deals(engine, {1: 1})
    unlocked = await engine.client.put(  # by hand: no event justifies it
        "/api/users/achievements/progress/unlock",
        json={"userId": 1, "achievementId": closer["id"]},
        headers=engine.headers,
    )
    assert unlocked.status_code in (200, 201), unlocked.text
    answer = await recompute(engine, closer["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"unlocked": 0, "revoked": 1, "kept": 0}
    assert (await recompute(engine, closer["id"])).json() == {
        "unlocked": 0,
        "revoked": 0,
        "kept": 0,
    }


async def test_recompute_of_a_missing_achievement_is_404_and_of_a_disabled_one_409(engine):
    assert (await recompute(engine, 4242)).status_code == 404
    off = await engine.achievement("Off", rule("deal", "gte", 1), isEnabled=False)
    refused = await recompute(engine, off["id"])
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"


async def test_a_user_token_may_not_recompute(engine, auth):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    response = await engine.client.post(
        f"{ACHIEVEMENTS}/{closer['id']}/recompute", headers=auth("42", "user")
    )
    assert response.status_code == 403


async def test_writes_go_in_chunks_of_users_and_add_up(engine, app):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1), revocable=True)
    await deals(engine, {1: 1, 2: 1, 3: 1, 4: 2})
    await patch(engine, closer["id"], isEnabled=False)
    # A disabled achievement's rule changes without a recompute; enabling it backfills only.
    changed = await patch(engine, closer["id"], requirements=[rule("deal", "gte", 2)])
    assert changed["recompute"] is None
    assert (await patch(engine, closer["id"], isEnabled=True))["recompute"] is None
    services = app.state.services
    service = RecomputeService(services.database, services.achievements.broadcaster)
    done = await service.recompute(closer["id"], chunk=1)
    assert (done.unlocked, done.revoked, done.kept) == (0, 3, 0)
    assert [await engine.unlocked(user_id) for user_id in (1, 2, 3, 4)] == [
        [],
        [],
        [],
        [closer["id"]],
    ]
