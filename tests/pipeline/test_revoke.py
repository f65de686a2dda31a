"""Revoking an unlock: the row goes back to locked (progress kept), pending rewards are REVOKED,
claimed ones stay claimed, the holder count falls, and only the user is told."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.revoke import Revoked, revoke, revoke_many
from accolade.storage import metrics, rarity
from accolade.storage import users as users_repo
from accolade.storage.models import Notification, UserAchievement, utcnow
from tests.pipeline.conftest import Engine, rule

REWARDS = [{"type": "XP", "value": 100}, {"type": "CURRENCY", "value": 5, "currency": "coins"}]


async def revoke_for(engine: Engine, user_id: Any, achievement_id: int) -> Revoked | None:
    async with engine.app.state.services.database.transaction() as session:
        user = await users_repo.get(session, user_id)
        assert user is not None
        await metrics.lock_stats(session, user)
        return await revoke(session, Broadcaster(), user, achievement_id, reason="refund")


async def holders(engine: Engine, achievement_id: int, *, padded: int = 0) -> int:
    """The achievement's holder count, after counting `padded` more (so a fall shows above 0,
    whoever counted the unlocks themselves)."""
    async with engine.app.state.services.database.transaction() as session:
        for _ in range(padded):
            await rarity.unlocked(session, achievement_id, utcnow())
        return (await rarity.counts(session, [achievement_id]))[achievement_id]


async def rewards(engine: Engine, user_id: Any) -> list[dict[str, Any]]:
    response = await engine.client.get(
        "/api/rewards", params={"userId": user_id}, headers=engine.headers
    )
    assert response.status_code == 200, response.text
    return sorted(response.json(), key=lambda reward: reward["id"])


async def test_revoke_takes_the_unlock_back_and_keeps_the_progress_row(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event(1, "deal")
    assert await engine.unlocked(1) == [closer["id"]]
    revoked = await revoke_for(engine, 1, closer["id"])
    assert revoked is not None
    assert (revoked.achievement_id, revoked.user_id) == (closer["id"], 1)
    assert await engine.unlocked(1) == []
    async with engine.app.state.services.database.transaction() as session:
        rows = (await session.scalars(select(UserAchievement))).all()
    assert [(row.achievement_id, row.unlocked_at) for row in rows] == [(closer["id"], None)]


async def test_revoking_what_the_user_does_not_hold_is_none_and_changes_nothing(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 2))
    await engine.event(1, "deal")  # progress, no unlock
    await engine.event(2, "deal")
    await engine.event(2, "deal")
    before = await holders(engine, closer["id"], padded=1)
    assert await revoke_for(engine, 1, closer["id"]) is None
    assert await holders(engine, closer["id"]) == before
    assert await engine.room_events("user:1", "achievement:revoked") == []


async def test_pending_rewards_are_revoked_and_claimed_ones_stay_claimed(engine):
    paid = await engine.achievement("Paid", rule("deal", "gte", 1), rewards=REWARDS)
    answer = await engine.event(1, "deal")
    xp_id, coins_id = answer["unlocked"][0]["rewardDistributionIds"]
    claim = await engine.client.post(f"/api/rewards/{xp_id}/claim", headers=engine.headers)
    assert claim.status_code == 200, claim.text
    revoked = await revoke_for(engine, 1, paid["id"])
    assert revoked is not None and revoked.distribution_ids == [coins_id]
    statuses = {reward["id"]: reward["status"] for reward in await rewards(engine, 1)}
    assert statuses == {xp_id: "CLAIMED", coins_id: "REVOKED"}
    refused = await engine.client.post(f"/api/rewards/{coins_id}/claim", headers=engine.headers)
    assert refused.status_code == 409


async def test_other_achievements_rewards_are_untouched(engine):
    paid = await engine.achievement("Paid", rule("deal", "gte", 1), rewards=REWARDS[:1])
    await engine.achievement("Also paid", rule("deal", "gte", 1), rewards=REWARDS[1:])
    await engine.event(1, "deal")
    await revoke_for(engine, 1, paid["id"])
    statuses = sorted(reward["status"] for reward in await rewards(engine, 1))
    assert statuses == ["PENDING", "REVOKED"]


async def test_the_holder_count_falls_by_one(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event(1, "deal")
    await engine.event(2, "deal")
    before = await holders(engine, closer["id"], padded=2)
    await revoke_for(engine, 1, closer["id"])
    assert await holders(engine, closer["id"]) == before - 1


async def test_the_user_is_told_in_their_room_and_the_tv_hears_nothing(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event("u-7", "deal", userName="Ada")
    tv_before = await engine.room_events("tv-display")
    await revoke_for(engine, "u-7", closer["id"])
    sent = await engine.room_events("user:u-7", "achievement:revoked")
    assert len(sent) == 1
    payload = sent[0].payload
    assert payload["userId"] == "u-7" and payload["userName"] == "Ada"
    assert payload["achievementId"] == closer["id"]
    assert payload["title"] == "Closer" and payload["reason"] == "refund"
    assert len(await engine.room_events("tv-display")) == len(tv_before)
    async with engine.app.state.services.database.transaction() as session:
        told = (
            await session.scalars(
                select(Notification).where(Notification.type == "achievement.revoked")
            )
        ).all()
    assert [(n.title, n.body) for n in told] == [("Closer was taken back", "refund")]
    live = await engine.room_events("user:u-7", "notification")
    assert live[-1].payload["type"] == "achievement.revoked"


async def test_a_revoked_achievement_unlocks_again_when_the_rule_holds_again(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event(1, "deal")
    await revoke_for(engine, 1, closer["id"])
    answer = await engine.event(1, "deal")
    assert answer["unlocked"][0]["achievementId"] == closer["id"]


async def test_revoke_many_revokes_holders_only_set_wise(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1), rewards=REWARDS[:1])
    for user_id in (1, 2):
        await engine.event(user_id, "deal")
    await engine.event(3, "call")  # no unlock
    before = await holders(engine, closer["id"], padded=2)
    async with engine.app.state.services.database.transaction() as session:
        users = [await users_repo.get(session, user_id) for user_id in (3, 2, 1)]
        assert all(user is not None for user in users)
        await metrics.lock_stats_many(session, [user.id for user in users if user])
        done = await revoke_many(
            session, Broadcaster(), [u for u in users if u], closer["id"], reason="rule fixed"
        )
    assert [revoked.user_id for revoked in done] == [2, 1]
    assert all(len(revoked.distribution_ids) == 1 for revoked in done)
    assert await holders(engine, closer["id"]) == before - 2
    assert await engine.unlocked(1) == await engine.unlocked(2) == []
