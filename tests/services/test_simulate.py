"""Asking "what if": POST /api/achievements/simulate answers from stored history who a proposed
achievement would go to, and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from accolade.domain.achievements import Operator, Requirement
from accolade.pipeline import rules as rules_module
from accolade.pipeline.replay import event_types_for, replay
from accolade.storage import rarity
from accolade.storage.models import (
    Achievement,
    AchievementStats,
    CelebrationRecord,
    Notification,
    RewardDistribution,
    RoomEvent,
    UserAchievement,
)
from tests.pipeline.conftest import Engine, rule

SIMULATE = "/api/achievements/simulate"
TABLES = (
    Achievement,
    AchievementStats,
    CelebrationRecord,
    Notification,
    RewardDistribution,
    RoomEvent,
    UserAchievement,
)


@pytest.fixture
def engine(client: Any, admin: dict[str, str], app: Any) -> Engine:
    return Engine(client, admin, app)


def at(days_ago: int, hour: int) -> datetime:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days_ago) + timedelta(hours=hour)


async def simulate(engine: Engine, body: dict[str, Any]) -> Any:
    return await engine.client.post(SIMULATE, json=body, headers=engine.headers)


async def rows(engine: Engine) -> dict[str, int]:
    async with engine.app.state.services.database.transaction() as session:
        return {
            table.__tablename__: int(await session.scalar(select(func.count()).select_from(table)))
            for table in TABLES
        }


async def test_answers_who_would_hold_it_their_rarity_the_first_and_per_day(engine):
    await engine.event("a", "deal", userName="Ada", occurredAt=at(3, 9).isoformat())
    await engine.event("a", "deal", userName="Ada", occurredAt=at(3, 10).isoformat())
    await engine.event("b", "deal", userName="Bo", occurredAt=at(2, 9).isoformat())
    await engine.event("b", "deal", userName="Bo", occurredAt=at(1, 9).isoformat())
    await engine.event("c", "deal", occurredAt=at(1, 11).isoformat())  # one deal: not yet
    answer = await simulate(engine, {"name": "Two deals", "requirements": [rule("deal", "gte", 2)]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    async with engine.app.state.services.database.transaction() as session:
        active = await rarity.active_users(session)
    assert body["qualifying"] == 2
    assert body["activeUsers"] == active
    assert body["rarityPercent"] == rarity.percent(2, active)
    assert [(f["userId"], f["userName"]) for f in body["firstUnlocks"]] == [
        ("a", "Ada"),
        ("b", "Bo"),
    ]
    assert datetime.fromisoformat(body["firstUnlocks"][0]["at"]) == at(3, 10)
    assert body["perDay"] == [
        {"day": at(3, 0).date().isoformat(), "unlocks": 1},
        {"day": at(1, 0).date().isoformat(), "unlocks": 1},
    ]


async def test_first_unlocks_are_the_earliest_ten(engine):
    for n in range(12):
        await engine.event(n + 1, "deal", occurredAt=at(12 - n, 8).isoformat())
    body = (
        await simulate(engine, {"name": "First deal", "requirements": [rule("deal", "gte", 1)]})
    ).json()
    assert body["qualifying"] == 12
    assert [first["userId"] for first in body["firstUnlocks"]] == list(range(1, 11))
    assert sum(day["unlocks"] for day in body["perDay"]) == 12


async def test_a_timeframed_rule_counts_now_in_qualifying_and_ever_in_per_day(engine):
    burst = [rule("deal", "gte", 2, duration=1, unit="hours")]
    await engine.event(1, "deal", occurredAt=at(5, 9).isoformat())
    await engine.event(1, "deal", occurredAt=(at(5, 9) + timedelta(minutes=5)).isoformat())
    await engine.event(2, "deal")
    await engine.event(2, "deal")
    body = (await simulate(engine, {"name": "Burst", "requirements": burst})).json()
    assert body["qualifying"] == 1  # user 2, within the last hour
    assert [first["userId"] for first in body["firstUnlocks"]] == [1, 2]


async def test_simulating_writes_nothing(engine):
    await engine.event(1, "deal")
    before = await rows(engine)
    body = {
        "name": "Paid",
        "requirements": [rule("deal", "gte", 1)],
        "rewards": [{"type": "XP", "value": 10}],
    }
    assert (await simulate(engine, body)).json()["qualifying"] == 1
    assert await rows(engine) == before


async def test_an_achievement_without_requirements_would_go_to_nobody(engine):
    await engine.event(1, "deal")
    body = (await simulate(engine, {"name": "By hand"})).json()
    assert (body["qualifying"], body["firstUnlocks"], body["perDay"]) == (0, [], [])


async def test_what_it_says_is_what_a_launch_then_unlocks(engine):
    for user_id, n in {1: 3, 2: 1, 3: 2, 4: 5}.items():
        for _ in range(n):
            await engine.event(user_id, "deal")
    proposal = {"name": "Closer", "requirements": [rule("deal", "gte", 2)]}
    said = (await simulate(engine, proposal)).json()
    launched = await engine.achievement(proposal["name"], *proposal["requirements"])
    recomputed = await engine.client.post(
        f"/api/achievements/{launched['id']}/recompute", headers=engine.headers
    )
    assert recomputed.json()["unlocked"] == 0  # the launch unlocked them all already
    holders = [u for u in (1, 2, 3, 4) if launched["id"] in await engine.unlocked(u)]
    assert said["qualifying"] == len(holders) == 3
    assert sorted(first["userId"] for first in said["firstUnlocks"]) == holders


@pytest.mark.parametrize(
    "body",
    [
        {"requirements": [rule("deal", "gte", 1)]},  # no name
        {"name": "x", "requirements": [{"metric": "deal", "operator": "about", "threshold": 1}]},
        {"name": "x", "requirements": [{**rule("deal", "gte", 1), "extra": 1}]},
        {"name": "x", "requirements": [rule("deal", "gte", 1, duration=0, unit="hours")]},
        {"name": "x", "rewards": [{"type": "CURRENCY", "value": 1}]},
    ],
    ids=["no-name", "bad-operator", "unknown-field", "zero-window", "currency-unnamed"],
)
async def test_a_body_post_refuses_is_refused_the_same_way(engine, body):
    created = await engine.client.post("/api/achievements", json=body, headers=engine.headers)
    simulated = await simulate(engine, body)
    assert 400 <= simulated.status_code < 500
    assert simulated.status_code == created.status_code
    assert simulated.json()["error"]["code"] == created.json()["error"]["code"]


async def test_a_user_token_may_not_simulate(engine, auth):
    response = await engine.client.post(SIMULATE, json={"name": "x"}, headers=auth("42", "user"))
    assert response.status_code == 403


async def test_an_at_most_rule_counts_users_without_any_such_event(engine):
    await engine.event(1, "login")
    await engine.event(2, "deal")
    body = {"name": "No deals yet", "requirements": [rule("deal", "lt", 1)]}
    assert (await simulate(engine, body)).json()["qualifying"] == 1  # user 1, by the login


async def test_reading_only_the_rules_event_types_answers_as_reading_them_all(engine, app):
    for user_id, kinds in {1: ["deal", "login", "deal"], 2: ["sale", "deal"], 3: ["xp"]}.items():
        for kind in kinds:
            await engine.event(user_id, kind, value=900 if kind == "sale" else None)
    rules = [
        rules_module.Rule(1, "r", "", None, "common", False, 0, (requirement,), ())
        for requirement in (
            Requirement("deal", Operator.GTE, 2),
            Requirement("revenue", Operator.GT, 500),
        )
    ]
    database = app.state.services.database
    now = datetime.now(UTC)
    for one in rules:
        types = event_types_for([one])
        assert types is not None
        narrow = await replay(database, [one], keep_users=False, holding_at=now, event_types=types)
        wide = await replay(database, [one], keep_users=False, holding_at=now)
        assert (narrow.first_held, narrow.holding) == (wide.first_held, wide.holding)
        assert narrow.events < wide.events
    assert event_types_for([rules[0]]) == ["deal"] and event_types_for([rules[1]]) == ["sale"]
    gauge = rules_module.Rule(
        2, "g", "", None, "common", False, 0, (Requirement("xp", Operator.GTE, 1),), ()
    )
    assert event_types_for([gauge]) is None
