"""Achievements unlock by themselves when their requirements hold: once, with rewards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from accolade.app import create_app
from tests.pipeline.conftest import rule


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def test_unlocks_the_moment_the_threshold_is_reached(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 3))
    answers = [await engine.event(1, "deal") for _ in range(3)]
    assert [a["unlocked"] for a in answers[:2]] == [[], []]
    assert answers[2]["unlocked"][0]["achievementId"] == closer["id"]
    assert "🏅 Closer Badge Earned!" in answers[2]["celebrations"]
    assert await engine.unlocked(1) == [closer["id"]]


async def test_unlocks_only_once(engine):
    await engine.achievement("Closer", rule("deal", "gte", 1))
    first = await engine.event(1, "deal")
    second = await engine.event(1, "deal")
    assert len(first["unlocked"]) == 1
    assert second["unlocked"] == []
    assert len(await engine.room_events("tv-display", "achievement:celebration")) == 1


async def test_custom_metric_adds_value(engine):
    big = await engine.achievement("Big Talker", rule("minutes", "gt", 100))
    assert (await engine.event(1, "minutes", value=60))["unlocked"] == []
    assert (await engine.event(1, "minutes", value=41))["unlocked"][0]["achievementId"] == big["id"]


async def test_all_requirements_must_hold(engine):
    both = await engine.achievement("Both", rule("calls", "gte", 2), rule("deal", "gte", 1))
    await engine.event(1, "calls")
    await engine.event(1, "calls")
    assert await engine.unlocked(1) == []
    assert (await engine.event(1, "deal"))["unlocked"][0]["achievementId"] == both["id"]


async def test_disabled_achievement_does_not_unlock(engine):
    await engine.achievement("Off", rule("deal", "gte", 1), isEnabled=False)
    assert (await engine.event(1, "deal"))["unlocked"] == []


async def test_achievement_without_requirements_never_unlocks_by_itself(engine):
    await engine.achievement("Manual")
    assert (await engine.event(1, "deal"))["unlocked"] == []


async def test_sale_moves_revenue_signups_and_sales(engine):
    rich = await engine.achievement(
        "Rainmaker",
        rule("revenue", "gte", 10000),
        rule("signups", "gte", 5),
        rule("sales", "eq", 2),
    )
    await engine.event(1, "sale", value=6000, data={"signups": 2})
    answer = await engine.event(1, "sale", value=4000, data={"signups": 3})
    assert answer["metrics"] == {"sales": 1.0, "revenue": 4000.0, "signups": 3.0}
    assert answer["unlocked"][0]["achievementId"] == rich["id"]


async def test_timeframe_counts_only_events_inside_the_window(engine):
    hot = await engine.achievement("Hot Streak", rule("deal", "gte", 3, duration=1, unit="days"))
    await engine.event(1, "deal", occurredAt=ago(days=3))
    await engine.event(1, "deal", occurredAt=ago(days=2))
    assert (await engine.event(1, "deal"))["unlocked"] == []  # 1 inside the last day
    await engine.event(1, "deal", occurredAt=ago(hours=5))
    answer = await engine.event(1, "deal", occurredAt=ago(minutes=1))
    assert answer["unlocked"][0]["achievementId"] == hot["id"]


async def test_minute_timeframe(engine):
    quick = await engine.achievement("Quick", rule("click", "gte", 2, duration=5, unit="minutes"))
    await engine.event(1, "click", occurredAt=ago(minutes=30))
    assert (await engine.event(1, "click"))["unlocked"] == []
    assert (await engine.event(1, "click"))["unlocked"][0]["achievementId"] == quick["id"]


async def test_backfilled_events_in_the_past_unlock_timeframed_rules(engine):
    past = await engine.achievement("Busy Day", rule("deal", "gte", 2, duration=1, unit="hours"))
    await engine.event(1, "deal", occurredAt=ago(days=10, minutes=5))
    answer = await engine.event(1, "deal", occurredAt=ago(days=10))
    assert answer["unlocked"][0]["achievementId"] == past["id"]


async def test_rewards_are_distributed_pending_on_unlock(engine):
    await engine.achievement(
        "Paid",
        rule("deal", "gte", 1),
        rewards=[
            {"type": "XP", "value": 100},
            {"type": "CURRENCY", "value": 5, "currency": "coins"},
        ],
    )
    answer = await engine.event(1, "deal")
    assert len(answer["unlocked"][0]["rewardDistributionIds"]) == 2


async def test_unlock_reaches_the_tv_and_the_users_room(engine):
    await engine.achievement("Closer", rule("deal", "gte", 1), icon="🤝", rarity="epic")
    await engine.event("u-9", "deal", userName="Ada")
    tv = await engine.room_events("tv-display", "achievement:celebration")
    mine = await engine.room_events("user:u-9", "achievement:earned")
    assert len(tv) == len(mine) == 1
    payload = tv[0].payload
    assert payload["userId"] == "u-9"
    assert payload["userName"] == "Ada"
    assert payload["title"] == "🏅 Closer Badge Earned!"
    assert payload["achievementType"] == "milestone"
    assert payload["icon"] == "🤝"


async def test_progress_update_is_sent_while_not_yet_unlocked(engine):
    target = await engine.achievement("Ten Deals", rule("deal", "gte", 10))
    await engine.event(1, "deal")
    await engine.event(1, "deal")
    updates = await engine.room_events("user:1", "progress:update")
    bars = [u.payload["achievements"] for u in updates]
    assert bars == [
        [{"achievementId": target["id"], "name": "Ten Deals", "current": 1.0, "target": 10.0}],
        [{"achievementId": target["id"], "name": "Ten Deals", "current": 2.0, "target": 10.0}],
    ]


async def test_secret_achievement_sends_no_progress(engine):
    await engine.achievement("Hidden", rule("deal", "gte", 10), secret=True)
    await engine.event(1, "deal")
    assert await engine.room_events("user:1", "progress:update") == []


async def test_new_achievement_unlocks_for_users_who_already_qualify_quietly(engine):
    await engine.event(1, "deal", value=5)
    await engine.event(2, "deal", value=1)
    late = await engine.achievement("Late", rule("deal", "gte", 3))
    assert await engine.unlocked(1) == [late["id"]]
    assert await engine.unlocked(2) == []
    assert await engine.room_events("tv-display", "achievement:celebration") == []
    assert len(await engine.room_events("user:1", "achievement:earned")) == 1


async def test_enabling_an_achievement_backfills(engine, client, service):
    off = await engine.achievement("Off", rule("deal", "gte", 1), isEnabled=False)
    await engine.event(1, "deal")
    assert await engine.unlocked(1) == []
    await client.patch(f"/api/achievements/{off['id']}", json={"isEnabled": True}, headers=service)
    assert await engine.unlocked(1) == [off["id"]]


async def test_twenty_concurrent_events_unlock_exactly_once(engine):
    await engine.achievement("Five", rule("deal", "gte", 5))
    answers = await asyncio.gather(*(engine.event(7, "deal") for _ in range(20)))
    assert sum(len(a["unlocked"]) for a in answers) == 1
    assert len(await engine.unlocked(7)) == 1
    assert len(await engine.room_events("user:7", "achievement:earned")) == 1


async def test_twenty_events_on_two_nodes_unlock_exactly_once(engine, settings, service):
    """Two app instances (two nodes) on one database, ten events each at once."""
    import httpx

    await engine.achievement("Five", rule("deal", "gte", 5))
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://node-b") as node_b:

            async def on_b() -> dict:
                response = await node_b.post(
                    "/api/events", json={"userId": 8, "type": "deal"}, headers=service
                )
                assert response.status_code == 201, response.text
                return response.json()

            answers = await asyncio.gather(
                *(engine.event(8, "deal") for _ in range(10)), *(on_b() for _ in range(10))
            )
    assert sum(len(a["unlocked"]) for a in answers) == 1
    assert len(await engine.room_events("user:8", "achievement:earned")) == 1


async def test_progress_update_carries_the_ten_bars_nearest_to_completion(engine):
    """With many rules on one metric, an event's progress:update lists the ten nearest bars,
    nearest first, not one bar per rule."""
    targets = {
        n: await engine.achievement(f"Deals {n}", rule("deal", "gte", n)) for n in range(2, 30)
    }
    await engine.event(1, "deal")
    (update,) = await engine.room_events("user:1", "progress:update")
    bars = update.payload["achievements"]
    assert [bar["achievementId"] for bar in bars] == [targets[n]["id"] for n in range(2, 12)]
    assert [bar["target"] for bar in bars] == [float(n) for n in range(2, 12)]


async def test_threshold_rules_and_other_rules_on_one_metric_unlock_together_once(engine):
    """One-threshold rules (found by bisection) and every other kind on the same metric unlock
    in one answer, by achievement id, each once; a threshold met exactly counts (gte), a gt
    threshold met exactly does not."""
    three = await engine.achievement("Three", rule("deal", "gte", 3))
    over_three = await engine.achievement("Over three", rule("deal", "gt", 3))
    both = await engine.achievement("Both", rule("deal", "gte", 2), rule("xp", "gte", 0))
    today = await engine.achievement("Today", rule("deal", "gte", 3, duration=1, unit="days"))
    secret = await engine.achievement("Hidden", rule("deal", "gte", 2), secret=True)
    exact = await engine.achievement("Exactly three", rule("deal", "eq", 3))
    await engine.event(1, "deal", value=1)
    second = await engine.event(1, "deal", value=1)
    assert [u["name"] for u in second["unlocked"]] == ["Both", "Hidden"]
    third = await engine.event(1, "deal", value=1)
    assert [u["achievementId"] for u in third["unlocked"]] == [
        three["id"],
        today["id"],
        exact["id"],
    ]
    fourth = await engine.event(1, "deal", value=1)
    assert [u["name"] for u in fourth["unlocked"]] == ["Over three"]
    assert sorted(await engine.unlocked(1)) == sorted(
        a["id"] for a in (three, over_three, both, today, secret, exact)
    )
    updates = await engine.room_events("user:1", "progress:update")
    shown = {bar["name"] for u in updates for bar in u.payload["achievements"]}
    assert "Hidden" not in shown and {"Three", "Over three", "Exactly three"} <= shown
