"""The reversal property: any sequence of events followed by reversing a random subset leaves
the same metrics, buckets, boards, XP, level, streak and unlocks as never sending that subset
(for non-revocable rules, a superset of the unlocks), and the boards' bucket counts right."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accolade.domain import buckets
from accolade.domain.events import GAUGES
from accolade.domain.identity import user_key
from accolade.storage.models import (
    LeaderboardBucket,
    LeaderboardEntry,
    MetricBucket,
    User,
    UserAchievement,
    UserMetric,
    UserStats,
)
from tests.pipeline.conftest import Engine, rule

KINDS = ("sale", "xp", "calls", "login")
USERS = 2
# (user, type, value, days ago, hour): past days across month (and often year) boundaries.
EVENT = st.tuples(
    st.integers(0, USERS - 1),
    st.sampled_from(KINDS),
    st.integers(1, 3_000),
    st.integers(0, 40),
    st.integers(0, 23),
)
SEQUENCE = st.lists(st.tuples(EVENT, st.booleans()), min_size=1, max_size=8)
_EXAMPLES = itertools.count()


@pytest.fixture
async def rules(engine: Engine) -> dict[str, set[int]]:
    """Achievements of both kinds (created once: hypothesis runs every example on this app)."""
    revocable = [
        await engine.achievement("R revenue", rule("revenue", "gte", 2_500), revocable=True),
        await engine.achievement("R xp", rule("xp", "gte", 3_000), revocable=True),
        await engine.achievement("R level", rule("level", "gte", 5), revocable=True),
        await engine.achievement("R calls", rule("calls", "gte", 3), revocable=True),
    ]
    kept = [
        await engine.achievement("K revenue", rule("revenue", "gte", 4_000)),
        await engine.achievement("K calls a day", rule("calls", "gte", 2, duration=1, unit="days")),
    ]
    return {"revocable": {a["id"] for a in revocable}, "kept": {a["id"] for a in kept}}


async def state_of(app: Any, external_id: str) -> dict[str, Any]:
    async with app.state.services.database.transaction() as session:
        user = await session.scalar(select(User).where(User.user_key == user_key(external_id)))
        if user is None:
            return {}
        uid = user.id
        totals = {
            m: v
            for m, v in (
                await session.execute(
                    select(UserMetric.metric, UserMetric.value).where(UserMetric.user_id == uid)
                )
            ).all()
            if m not in GAUGES and v != 0
        }
        series = {
            (m, size, start): v
            for m, size, start, v in (
                await session.execute(
                    select(
                        MetricBucket.metric,
                        MetricBucket.bucket_s,
                        MetricBucket.bucket_start,
                        MetricBucket.value,
                    ).where(MetricBucket.user_id == uid)
                )
            ).all()
            if v != 0
        }
        rows = {
            (m, p, k): v
            for m, p, k, v in (
                await session.execute(
                    select(
                        LeaderboardEntry.metric,
                        LeaderboardEntry.period,
                        LeaderboardEntry.period_key,
                        LeaderboardEntry.value,
                    ).where(LeaderboardEntry.user_id == uid)
                )
            ).all()
        }
        stats = await session.get(UserStats, uid)
        assert stats is not None
        unlocked = set(
            (
                await session.scalars(
                    select(UserAchievement.achievement_id).where(
                        UserAchievement.user_id == uid, UserAchievement.unlocked_at.is_not(None)
                    )
                )
            ).all()
        )
    return {
        "totals": totals,
        "buckets": series,
        "boards": rows,
        "stats": (stats.xp, stats.level, stats.current_streak, stats.best_streak),
        "last_day": stats.last_active_day,
        "unlocked": unlocked,
    }


async def assert_bucket_counts_match_the_rows(app: Any) -> None:
    """What every place is counted from (`leaderboard_buckets`) agrees with the rows."""
    async with app.state.services.database.transaction() as session:
        entries = (
            await session.execute(
                select(
                    LeaderboardEntry.metric,
                    LeaderboardEntry.period,
                    LeaderboardEntry.period_key,
                    LeaderboardEntry.value,
                )
            )
        ).all()
        kept = (
            await session.execute(
                select(
                    LeaderboardBucket.metric,
                    LeaderboardBucket.period,
                    LeaderboardBucket.period_key,
                    LeaderboardBucket.level,
                    LeaderboardBucket.bucket,
                    LeaderboardBucket.n,
                )
            )
        ).all()
    expected: Counter[tuple[Any, ...]] = Counter()
    for metric, period, key, value in entries:
        for level, bucket in buckets.buckets_of(value):
            expected[(metric, period, key, level, bucket)] += 1
    counted = {row[:5]: row[5] for row in kept if row[5] != 0}
    assert counted == dict(expected)


async def check(engine: Engine, app: Any, rules: dict[str, set[int]], sequence: list[Any]) -> None:
    example = next(_EXAMPLES)
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)

    def body(world: str, event: tuple[int, str, int, int, int]) -> dict[str, Any]:
        user, kind, value, days_ago, hour = event
        at = (now - timedelta(days=days_ago)).replace(hour=hour)
        fields: dict[str, Any] = {"occurredAt": at.isoformat()}
        if kind in ("sale", "xp", "calls"):
            fields["value"] = value
        return {"user_id": f"e{example}{world}{user}", "type": kind, **fields}

    reversed_ids = []
    for event, undo in sequence:
        answer = await engine.event(**body("a", event))
        if undo:
            reversed_ids.append(answer["eventId"])
    for event_id in reversed_ids:
        response = await engine.client.post(
            f"/api/events/{event_id}/reverse", json={}, headers=engine.headers
        )
        assert response.status_code == 200, response.text
    for event, undo in sequence:
        if not undo:
            await engine.event(**body("b", event))
    for user in range(USERS):
        reversal = await state_of(app, f"e{example}a{user}")
        never = await state_of(app, f"e{example}b{user}")
        if not never:  # every event of this user was reversed
            never = {
                "totals": {},
                "buckets": {},
                "boards": {},
                "stats": (0, 1, 0, 0),
                "last_day": None,
                "unlocked": set(),
            }
        if not reversal:
            continue  # the user had no events at all
        for part in ("totals", "buckets", "boards", "stats", "last_day"):
            assert reversal[part] == never[part], (part, sequence)
        revocable, kept = rules["revocable"], rules["kept"]
        assert reversal["unlocked"] & revocable == never["unlocked"] & revocable, sequence
        assert reversal["unlocked"] & kept >= never["unlocked"] & kept, sequence
    await assert_bucket_counts_match_the_rows(app)


@pytest.mark.backends("sqlite")
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=SEQUENCE)
async def test_reversing_a_subset_is_as_if_never_sent(
    engine: Engine, app: Any, rules: dict[str, set[int]], sequence: list[Any]
) -> None:
    await check(engine, app, rules, sequence)


@pytest.mark.backends("postgresql")
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=SEQUENCE)
async def test_reversing_a_subset_is_as_if_never_sent_on_postgresql(
    engine: Engine, app: Any, rules: dict[str, set[int]], sequence: list[Any]
) -> None:
    await check(engine, app, rules, sequence)
