"""Seed 000's broadcaster over a real database: what each entry point records and queues.

Each call runs inside a transaction of the test's database (SQLite and PostgreSQL); the tests
read back the celebration rows, the notifications and the outbox (`room_events`) rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.pipeline.broadcaster import Broadcaster, Celebrated
from accolade.storage import users
from accolade.storage.models import CelebrationRecord, Notification, RoomEvent, User

TV = "tv-display"
JOHN = (123, "John Doe")

Call = Callable[[Broadcaster, AsyncSession, User], Awaitable[Celebrated]]


async def run(app: FastAPI, call: Call, user_id: int | str = 123, name: str = "John Doe") -> User:
    """Run `call` for the user in one transaction, as domain services do; returns the user."""
    async with app.state.services.database.transaction() as session:
        user, _ = await users.ensure(session, user_id, name)
        await call(Broadcaster(), session, user)
    return user


async def rows(app: FastAPI, model: Any) -> list[Any]:
    async with app.state.services.database.transaction() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def queued(app: FastAPI, room: str, event: str) -> list[dict[str, Any]]:
    """Payloads of the room events queued for `room` and `event`, in the order written."""
    return [r.payload for r in await rows(app, RoomEvent) if r.room == room and r.event == event]


async def celebrated_titles(app: FastAPI) -> list[str]:
    return [r.title for r in await rows(app, CelebrationRecord)]


async def tv_titles(app: FastAPI) -> list[str]:
    return [p["title"] for p in await queued(app, TV, "achievement:celebration")]


def badge(**kwargs: Any) -> Call:
    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        return await b.badge(
            session,
            user,
            kwargs.pop("name", "Master Trainer"),
            kwargs.pop("description", "Completed all training modules"),
            **kwargs,
        )

    return call


def training(**kwargs: Any) -> Call:
    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        return await b.training_milestone(session, user, **kwargs)

    return call


def sales(**kwargs: Any) -> Call:
    values = {"old_revenue": 0, "new_revenue": 0, "old_signups": 0, "new_signups": 0, **kwargs}

    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        return await b.sales_milestone(session, user, **values)

    return call


def rank(previous: int | None, new: int) -> Call:
    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        return await b.rank_change(
            session,
            user,
            previous_rank=previous,
            new_rank=new,
            metric="monthly revenue",
            value=52000.0,
        )

    return call


def assert_achievement_event(payload: dict[str, Any], user_id: int | str, name: str) -> None:
    assert payload["userId"] == user_id
    assert type(payload["userId"]) is type(user_id)
    assert payload["userName"] == name
    assert payload["achievementType"] in ("rank", "milestone", "streak", "contest")
    for field in ("title", "description"):
        assert isinstance(payload[field], str)
    assert "icon" in payload
    stamp = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


# --- every entry point: recorded, notified, queued on both rooms --------------------------------

ENTRY_POINTS: dict[str, tuple[Call, str]] = {
    "badge": (badge(), "🏅 Master Trainer Badge Earned!"),
    "training_milestone": (
        training(old_xp=4000, new_xp=4500, old_level=9, new_level=10),
        "🎖 Level 10 Achieved!",
    ),
    "rank_change": (rank(15, 8), "🚀 Climbed to #8 in monthly revenue!"),
    "sales_milestone": (
        sales(old_revenue=45000, new_revenue=52000),
        "💰 $50,000 Revenue Milestone!",
    ),
}


async def _contest_winner(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
    return await b.contest_achievement(session, "Q4", [(user, 1, "$5000")])


ENTRY_POINTS["contest_achievement"] = (_contest_winner, "🏆 Q4 - 1st Place")


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
async def test_each_entry_point_records_one_celebration_for_the_user(app, entry):
    call, title = ENTRY_POINTS[entry]
    user = await run(app, call)
    [record] = await rows(app, CelebrationRecord)
    assert record.user_id == user.id
    assert record.title == title
    assert record.payload["title"] == title


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
async def test_each_entry_point_notifies_the_user(app, entry):
    call, title = ENTRY_POINTS[entry]
    user = await run(app, call)
    [notification] = await rows(app, Notification)
    assert notification.user_id == user.id
    assert notification.title == title
    assert notification.read_at is None


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
async def test_each_entry_point_queues_celebration_on_tv_display(app, entry):
    call, title = ENTRY_POINTS[entry]
    await run(app, call)
    [payload] = await queued(app, TV, "achievement:celebration")
    assert payload["title"] == title
    assert_achievement_event(payload, *JOHN)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
async def test_each_entry_point_queues_earned_on_the_user_room(app, entry):
    call, title = ENTRY_POINTS[entry]
    await run(app, call)
    [payload] = await queued(app, "user:123", "achievement:earned")
    assert payload["title"] == title
    assert_achievement_event(payload, *JOHN)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
async def test_tv_and_user_room_get_the_same_payload(app, entry):
    call, _ = ENTRY_POINTS[entry]
    await run(app, call)
    [tv] = await queued(app, TV, "achievement:celebration")
    [mine] = await queued(app, "user:123", "achievement:earned")
    assert tv == mine


async def test_a_string_user_id_stays_a_string_in_payloads(app):
    await run(app, badge(), user_id="u-7", name="Jane Smith")
    [tv] = await queued(app, TV, "achievement:celebration")
    [mine] = await queued(app, "user:u-7", "achievement:earned")
    assert_achievement_event(tv, "u-7", "Jane Smith")
    assert_achievement_event(mine, "u-7", "Jane Smith")


async def test_a_numeric_looking_string_user_id_stays_a_string(app):
    await run(app, badge(), user_id="42", name="Ann")
    [tv] = await queued(app, TV, "achievement:celebration")
    assert tv["userId"] == "42"


# --- badge ---------------------------------------------------------------------------------------


async def test_badge_is_a_milestone_with_its_description_icon_and_rarity(app):
    await run(app, badge(name="Closer", description="Closed 3 deals", icon="🤝", rarity="rare"))
    [payload] = await queued(app, TV, "achievement:celebration")
    assert payload["title"] == "🏅 Closer Badge Earned!"
    assert payload["achievementType"] == "milestone"
    assert payload["description"] == "Closed 3 deals"
    assert payload["icon"] == "🤝"
    assert payload["rarity"] == "rare"


async def test_badge_without_icon_shows_the_medal(app):
    await run(app, badge())
    [payload] = await queued(app, TV, "achievement:celebration")
    assert payload["icon"] == "🏅"


async def test_quiet_badge_does_not_reach_tv_display(app):
    await run(app, badge(quiet=True))
    assert [r for r in await rows(app, RoomEvent) if r.room == TV] == []


async def test_quiet_badge_still_reaches_the_user_and_is_recorded(app):
    await run(app, badge(quiet=True))
    [payload] = await queued(app, "user:123", "achievement:earned")
    assert payload["title"] == "🏅 Master Trainer Badge Earned!"
    assert len(await rows(app, CelebrationRecord)) == 1
    assert len(await rows(app, Notification)) == 1


# --- training milestones -------------------------------------------------------------------------


async def test_level_up_title_and_description(app):
    await run(app, training(old_xp=4900, new_xp=5000, old_level=9, new_level=10))
    payloads = await queued(app, TV, "achievement:celebration")
    [payload] = [p for p in payloads if p["title"].startswith("🎖")]
    assert payload["title"] == "🎖 Level 10 Achieved!"
    assert payload["achievementType"] == "milestone"
    assert payload["description"] == "Reached level 10 with 5,000 total XP"


async def test_same_level_is_not_a_level_up(app):
    await run(app, training(old_xp=4100, new_xp=4200, old_level=9, new_level=9))
    assert await celebrated_titles(app) == []
    assert await rows(app, RoomEvent) == []


async def test_xp_milestone_title_uses_thousands_separators(app):
    await run(app, training(old_xp=9900, new_xp=10000, old_level=14, new_level=14))
    assert await tv_titles(app) == ["⭐ 10,000 XP Milestone!"]


async def test_each_thousand_xp_crossed_is_its_own_milestone(app):
    await run(app, training(old_xp=900, new_xp=3100, old_level=3, new_level=3))
    assert await tv_titles(app) == [
        "⭐ 1,000 XP Milestone!",
        "⭐ 2,000 XP Milestone!",
        "⭐ 3,000 XP Milestone!",
    ]


async def test_streak_of_seven_days_is_a_streak_celebration(app):
    await run(app, training(old_xp=10, new_xp=10, old_level=1, new_level=1, streak_days=7))
    [payload] = await queued(app, TV, "achievement:celebration")
    assert payload["title"] == "🔥 7-Day Streak!"
    assert payload["achievementType"] == "streak"


@pytest.mark.parametrize("days", [1, 6, 8, 13])
async def test_streak_off_a_multiple_of_seven_is_not_celebrated(app, days):
    await run(app, training(old_xp=10, new_xp=10, old_level=1, new_level=1, streak_days=days))
    assert await celebrated_titles(app) == []


async def test_level_xp_and_streak_in_one_update_each_celebrated_and_notified(app):
    await run(app, training(old_xp=4900, new_xp=5000, old_level=9, new_level=10, streak_days=14))
    titles = ["🎖 Level 10 Achieved!", "⭐ 5,000 XP Milestone!", "🔥 14-Day Streak!"]
    assert await celebrated_titles(app) == titles
    assert [n.title for n in await rows(app, Notification)] == titles
    assert await tv_titles(app) == titles


# --- sales milestones ----------------------------------------------------------------------------


async def test_revenue_milestone_title(app):
    await run(app, sales(old_revenue=45000, new_revenue=52000))
    [payload] = await queued(app, TV, "achievement:celebration")
    assert payload["title"] == "💰 $50,000 Revenue Milestone!"
    assert payload["achievementType"] == "milestone"


async def test_revenue_crossing_several_thresholds_celebrates_only_the_highest(app):
    await run(app, sales(old_revenue=5000, new_revenue=120000))
    assert await celebrated_titles(app) == ["💰 $100,000 Revenue Milestone!"]
    assert len(await rows(app, Notification)) == 1
    assert len(await queued(app, TV, "achievement:celebration")) == 1
    assert len(await queued(app, "user:123", "achievement:earned")) == 1


async def test_revenue_reaching_a_threshold_exactly_is_celebrated(app):
    await run(app, sales(old_revenue=999_999, new_revenue=1_000_000))
    assert await celebrated_titles(app) == ["💰 $1,000,000 Revenue Milestone!"]


async def test_revenue_between_thresholds_is_not_celebrated(app):
    await run(app, sales(old_revenue=51000, new_revenue=99000))
    assert await celebrated_titles(app) == []
    assert await rows(app, RoomEvent) == []


async def test_signups_milestone_title(app):
    await run(app, sales(old_signups=95, new_signups=100))
    assert await tv_titles(app) == ["📈 100 Signups Milestone!"]


async def test_signups_crossing_several_thresholds_celebrates_only_the_highest(app):
    await run(app, sales(old_signups=0, new_signups=300))
    assert await celebrated_titles(app) == ["📈 250 Signups Milestone!"]


async def test_revenue_and_signups_in_one_update_are_two_celebrations(app):
    await run(app, sales(old_revenue=45000, new_revenue=52000, old_signups=9, new_signups=10))
    assert await celebrated_titles(app) == [
        "💰 $50,000 Revenue Milestone!",
        "📈 10 Signups Milestone!",
    ]


# --- rank changes --------------------------------------------------------------------------------


async def test_rank_improving_exactly_five_places_is_celebrated(app):
    await run(app, rank(20, 15))
    [payload] = await queued(app, TV, "achievement:celebration")
    assert payload["achievementType"] == "rank"
    assert len(await rows(app, Notification)) == 1


async def test_rank_improving_four_places_outside_top_ten_is_not_celebrated(app):
    await run(app, rank(20, 16))
    assert await celebrated_titles(app) == []
    assert await rows(app, Notification) == []
    assert await queued(app, TV, "achievement:celebration") == []
    assert await queued(app, "user:123", "achievement:earned") == []


async def test_rank_from_eleventh_to_tenth_is_celebrated(app):
    await run(app, rank(11, 10))
    [payload] = await queued(app, "user:123", "achievement:earned")
    assert payload["achievementType"] == "rank"
    assert len(await celebrated_titles(app)) == 1


async def test_unchanged_rank_writes_nothing_at_all(app):
    await run(app, rank(7, 7))
    assert await rows(app, RoomEvent) == []
    assert await rows(app, CelebrationRecord) == []
    assert await rows(app, Notification) == []


@pytest.mark.parametrize(
    ("previous", "new"),
    [(20, 16), (3, 5), (12, 11), (None, 30), (20, 15), (11, 10)],
    ids=["up4-outside", "drop-in-top10", "up1-outside", "first-entry-outside", "up5", "into10"],
)
async def test_every_rank_change_sends_rankings_update_to_user_room_and_tv(app, previous, new):
    await run(app, rank(previous, new))
    for room in ("user:123", TV):
        [update] = await queued(app, room, "rankings:update")
        assert update["userId"] == 123
        assert update["userName"] == "John Doe"
        assert update["previousRank"] == previous
        assert update["newRank"] == new


# --- contests ------------------------------------------------------------------------------------


async def test_contest_title_names_the_contest_and_the_place(app):
    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        second, _ = await users.ensure(session, 2, "Bob")
        third, _ = await users.ensure(session, 3, "Cy")
        return await b.contest_achievement(
            session, "Q4", [(user, 1, "$5000"), (second, 2, None), (third, 3, None)]
        )

    await run(app, call)
    assert await tv_titles(app) == ["🏆 Q4 - 1st Place", "🏆 Q4 - 2nd Place", "🏆 Q4 - 3rd Place"]
    assert {p["achievementType"] for p in await queued(app, TV, "achievement:celebration")} == {
        "contest"
    }


async def test_contest_celebrates_only_the_top_three_finishers_given(app):
    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        finishers = [(user, 1, None)]
        for place in range(2, 6):
            other, _ = await users.ensure(session, place * 100, f"Rep {place}")
            finishers.append((other, place, None))
        return await b.contest_achievement(session, "Q4", finishers)

    await run(app, call)
    celebrated = [p["userId"] for p in await queued(app, TV, "achievement:celebration")]
    assert celebrated == [123, 200, 300]
    assert await queued(app, "user:400", "achievement:earned") == []
    assert await queued(app, "user:500", "achievement:earned") == []
    assert len(await rows(app, Notification)) == 3


async def test_each_contest_finisher_gets_its_own_notification_and_room_event(app):
    async def call(b: Broadcaster, session: AsyncSession, user: User) -> Celebrated:
        second, _ = await users.ensure(session, "u-2", "Bob")
        return await b.contest_achievement(session, "Q4", [(user, 1, None), (second, 2, None)])

    await run(app, call)
    notified = {n.title for n in await rows(app, Notification)}
    assert notified == {"🏆 Q4 - 1st Place", "🏆 Q4 - 2nd Place"}
    [bob] = await queued(app, "user:u-2", "achievement:earned")
    assert bob["title"] == "🏆 Q4 - 2nd Place"
    assert bob["userId"] == "u-2"
