"""Replaying stored events reproduces what the live engine stored (on SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accolade.domain.achievements import Operator, Requirement, Timeframe, TimeUnit
from accolade.domain.events import GAUGES
from accolade.domain.requirements import all_hold, bucket_size_for, holds, value_key
from accolade.pipeline.replay import ReplayRules, UserReplay, replay, replay_user
from accolade.pipeline.rules import Rule, Rules
from accolade.storage.models import MetricBucket, User, UserAchievement, UserMetric, UserStats
from tests.pipeline.conftest import Engine, rule

ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"]
ACHIEVEMENTS: list[tuple[str, list[dict[str, Any]]]] = [
    ("XP 500", [rule("xp", "gte", 500)]),
    ("Level 4", [rule("level", "gte", 4)]),
    ("Streak 3", [rule("streak", "gte", 3)]),
    ("Best streak 4", [rule("best_streak", "gte", 4)]),
    ("Regular", [rule("login", "gte", 5), rule("xp", "gte", 300)]),
    ("Seller", [rule("revenue", "gte", 20000)]),
    ("Recruiter", [rule("signups", "gte", 5), rule("sales", "gte", 3)]),
    ("Exactly two sales", [rule("sales", "eq", 2)]),
    ("Caller", [rule("call", "gte", 12)]),
    ("Quiet start", [rule("call", "lt", 3), rule("deal", "gte", 1)]),
    ("Quizzer", [rule("quiz.completed", "gte", 2), rule("quiz.perfect", "gte", 1)]),
    ("Solver", [rule("problem.solved", "gte", 2)]),
    ("Busy hour", [rule("call", "gte", 5, duration=1, unit="hours")]),
    ("Ten minutes", [rule("call", "gte", 3, duration=10, unit="minutes")]),
    ("Deal day", [rule("deal", "gte", 2.5, duration=1, unit="days")]),
    ("Big days", [rule("revenue", "gte", 9000, duration=2, unit="days"), rule("sales", "gte", 2)]),
    ("Focused", [rule("deal", "gte", 3), rule("call", "gte", 3, duration=30, unit="minutes")]),
]


def _event(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["xp", "xp", "login", "login", "activity", "sale", "call", "call", "call"])
    kind = (
        rng.choice([kind, "deal", "quiz.completed", "problem.solved"])
        if rng.random() < 0.3
        else kind
    )
    event: dict[str, Any] = {"type": kind}
    if kind == "xp":
        event["value"] = rng.choice([15, 40, 120.7, 250, 0])
    elif kind == "sale":
        event["value"] = rng.choice([1500, 4000, 7250.5])
        if rng.random() < 0.6:
            event["data"] = {"signups": rng.randint(0, 3)}
    elif kind == "deal":
        if rng.random() < 0.5:
            event["value"] = rng.choice([0.5, 1, 2])
    elif kind == "quiz.completed":
        event["data"] = {"score": rng.choice([5, 9, 10]), "maxScore": 10}
    elif kind == "problem.solved" and rng.random() < 0.5:
        event["value"] = 80
    return event


def _history(rng: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    """One user's events in time order, all backfilled (the newest one to four hours old), with
    ties, bursts of seconds and minutes (for the windows) and gaps of days (to break streaks)."""
    steps = [0, 5, 40, 61, 170, 600, 1900, 3700, 5 * 3600, 20 * 3600, 86400, 90000, 3 * 86400]
    offsets_s, offset_s = [], 0.0
    for _ in range(count):
        offset_s += rng.choice(steps) + rng.randint(0, 999_999) / 1e6
        offsets_s.append(offset_s)
    end = now - timedelta(hours=1, seconds=rng.randint(0, 3 * 3600))
    return [
        {**_event(rng), "occurredAt": (end - timedelta(seconds=offset_s - o)).isoformat()}
        for o in offsets_s
    ]


def _interleave(rng: random.Random, histories: dict[Any, list[dict[str, Any]]]) -> list[Any]:
    """All users' events in one arrival order that keeps each user's own events in time order."""
    queues = {user: list(events) for user, events in histories.items()}
    arrival = []
    while queues:
        user = rng.choice(sorted(queues, key=str))
        arrival.append({"userId": user, **queues[user].pop(0)})
        if not queues[user]:
            del queues[user]
    return arrival


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def _send(engine: Engine, rng: random.Random, arrival: list[dict[str, Any]]) -> list[Any]:
    """Send the events (singly and in small batches); the answers in arrival order."""
    answers: list[Any] = []
    position = 0
    while position < len(arrival):
        if rng.random() < 0.2:
            group = arrival[position : position + rng.randint(2, 6)]
            response = await engine.client.post(
                "/api/events/batch", json={"events": group}, headers=engine.headers
            )
            assert response.status_code == 201, response.text
            answers.extend(response.json()["results"])
        else:
            group = arrival[position : position + 1]
            answers.append(await engine.event(**group[0]))
        position += len(group)
    return answers


async def _stored(app: Any) -> dict[Any, dict[str, Any]]:
    """What the engine stored, by external user id."""
    found: dict[Any, dict[str, Any]] = {}
    async with app.state.services.database.transaction() as session:
        users = {u.id: u for u in (await session.scalars(select(User))).all()}
        for user in users.values():
            found[user.external_id] = {"totals": {}, "unlocked": set()}
        for stats in (await session.scalars(select(UserStats))).all():
            found[users[stats.user_id].external_id]["stats"] = stats
        for metric in (await session.scalars(select(UserMetric))).all():
            if metric.metric not in GAUGES:
                found[users[metric.user_id].external_id]["totals"][metric.metric] = metric.value
        rows = await session.execute(
            select(UserAchievement.user_id, UserAchievement.achievement_id).where(
                UserAchievement.unlocked_at.is_not(None)
            )
        )
        for user_id, achievement_id in rows.all():
            found[users[user_id].external_id]["unlocked"].add(achievement_id)
        for bucket in (await session.scalars(select(MetricBucket))).all():
            found[users[bucket.user_id].external_id].setdefault("buckets", []).append(
                (bucket.metric, bucket.bucket_s, bucket.bucket_start, bucket.value)
            )
    return found


def _engine_holds(engine_state: dict[str, Any], rule: Rule, now: datetime) -> bool:
    """Whether `rule` holds on what the engine stored, its windows (bucket starts in
    [now - window_s, now]) summed from the stored buckets."""
    stats = engine_state["stats"]
    values = {
        **engine_state["totals"],
        "xp": stats.xp,
        "level": stats.level,
        "streak": stats.current_streak,
        "best_streak": stats.best_streak,
    }
    for requirement in rule.requirements:
        if requirement.timeframe is not None:
            bucket_s = bucket_size_for(requirement.timeframe)
            opens = now - timedelta(seconds=requirement.timeframe.window_s)
            values[value_key(requirement)] = sum(
                value
                for metric, size, start, value in engine_state.get("buckets", [])
                if metric == requirement.metric and size == bucket_s and opens <= start <= now
            )
    return all_hold(rule.requirements, values)


def _by_rule(stored: dict[Any, dict[str, Any]], rule_ids: set[int]) -> None:
    """Keep only the unlocks of rules (quiz mastery is awarded by hand, never by a rule)."""
    for engine_state in stored.values():
        engine_state["unlocked"] &= rule_ids


@pytest.fixture
def engine(client: Any, service: dict[str, str], app: Any) -> Engine:
    return Engine(client, service, app)


@pytest.mark.parametrize("seed", [7, 2026])
async def test_replay_reproduces_the_engine(engine: Engine, app: Any, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    ids = {
        achievement["name"]: achievement["id"]
        for achievement in [
            await engine.achievement(name, *requirements) for name, requirements in ACHIEVEMENTS
        ]
    }
    timeframed = {ids[name] for name, reqs in ACHIEVEMENTS if any("timeframe" in r for r in reqs)}
    users: list[Any] = [1, 2, 3, 40, "u-5", "u-6", "alice", 800, 9, "z"]
    for n, user in enumerate(users):
        response = await engine.client.post(
            "/api/users",
            json={"userId": user, "userName": f"User {n}", "timeZone": ZONES[n % len(ZONES)]},
            headers=engine.headers,
        )
        assert response.status_code == 201, response.text
    histories = {user: _history(rng, now, rng.randint(15, 40)) for user in users}
    arrival = _interleave(rng, histories)
    answers = await _send(engine, rng, arrival)
    unlocked_at = {
        (sent["userId"], unlocked["achievementId"]): _at(answer["occurredAt"])
        for sent, answer in zip(arrival, answers, strict=True)
        for unlocked in answer["unlocked"]
    }
    stored = await _stored(app)
    database = app.state.services.database
    async with database.transaction() as session:
        index = await Rules().current(session)
    assert set(index.rules) == set(ids.values())
    _by_rule(stored, set(ids.values()))
    unlocked_at = {key: at for key, at in unlocked_at.items() if key[1] in index.rules}

    replayed = await replay(database, index, chunk=13)  # pages end inside users' histories
    by_external = {state.external_id: state for state in replayed.users.values()}
    assert set(by_external) == set(users)
    assert replayed.events == len(arrival)
    for user in users:
        state, engine_state = by_external[user], stored[user]
        stats = engine_state["stats"]
        assert state.totals == pytest.approx(engine_state["totals"]), user
        assert (state.xp, state.level) == (stats.xp, stats.level), user
        assert (state.current_streak, state.best_streak) == (
            stats.current_streak,
            stats.best_streak,
        ), user
        assert state.last_active_day == (
            date.fromisoformat(stats.last_active_day) if stats.last_active_day else None
        )
        assert set(state.first_held) == engine_state["unlocked"], user
        for achievement_id, at in state.first_held.items():
            assert at == unlocked_at[(user, achievement_id)], (user, achievement_id)
    for achievement_id, holders in replayed.first_held.items():
        assert [at for _, at in holders] == sorted(at for _, at in holders)
        assert {replayed.users[u].external_id for u, _ in holders} == {
            user for user in users if achievement_id in stored[user]["unlocked"]
        }
    # Who meets each rule after the histories, windows ending at three times: now, and the
    # first and last moments a timeframed rule held (its window is full then).
    moments = sorted(at for a in timeframed for _, at in replayed.first_held[a])
    for as_of in (now, moments[0], moments[-1]):
        meeting = (await replay(database, index, holding_at=as_of)).holding
        for achievement_id, rule_now in index.rules.items():
            assert {replayed.users[u].external_id for u in meeting[achievement_id]} == {
                user for user in users if _engine_holds(stored[user], rule_now, as_of)
            }, (achievement_id, as_of)
        if as_of == now:
            meeting_now = meeting
        else:
            assert timeframed & {a for a, holders in meeting.items() if holders}
    # Not vacuous: the stream unlocked plenty, timeframed rules included, and left some locked.
    assert len(unlocked_at) >= 25
    assert timeframed & {achievement_id for _, achievement_id in unlocked_at}
    assert len(unlocked_at) < len(users) * len(ids)
    assert max(s["stats"].best_streak for s in stored.values()) >= 2
    held_once = {(u, a) for a, holders in replayed.first_held.items() for u, _ in holders}
    holding_now = {(u, a) for a, holders in meeting_now.items() for u in holders}
    assert holding_now < held_once  # windows closed since, `call lt 3` broke

    # The same from inside one session, in other page sizes, and for some users only.
    some = sorted(replayed.users)[:4]
    async with database.transaction() as session:
        again = await replay(session, index, chunk=1)
        only = await replay(session, index, users=some, chunk=5)
    assert {u: (s.totals, s.xp, s.first_held) for u, s in again.users.items()} == {
        u: (s.totals, s.xp, s.first_held) for u, s in replayed.users.items()
    }
    assert sorted(only.users) == some
    assert only.first_held == {
        a: [(u, at) for u, at in holders if u in some] for a, holders in replayed.first_held.items()
    }


async def test_late_backfills_leave_the_totals_as_the_engine_has_them(
    engine: Engine, app: Any
) -> None:
    """Arrival out of time order: replay re-applies in time order; totals, XP and level agree."""
    rng = random.Random(99)
    now = datetime.now(UTC)
    histories = {user: _history(rng, now, 30) for user in (1, 2, "three")}
    arrival = _interleave(rng, histories)
    rng.shuffle(arrival)
    await _send(engine, rng, arrival)
    stored = await _stored(app)
    replayed = await replay(app.state.services.database, [], chunk=17)
    assert len(replayed.users) == 3
    for state in replayed.users.values():
        engine_state = stored[state.external_id]
        assert state.totals == pytest.approx(engine_state["totals"])
        assert (state.xp, state.level) == (engine_state["stats"].xp, engine_state["stats"].level)


# --- the pure core ---------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def _rule(achievement_id: int, *requirements: Requirement) -> Rule:
    return Rule(
        achievement_id, f"r{achievement_id}", "", None, "common", False, 0, requirements, ()
    )


def _events(*events: tuple[str, float | None, timedelta]) -> list[Any]:
    return [(kind, value, T0 + offset, None) for kind, value, offset in events]


def test_window_counts_buckets_starting_inside_it() -> None:
    """A 5-minute window at 12:05:40 counts buckets starting from 12:00:40 on: not 12:00."""
    five = _rule(1, Requirement("call", Operator.GTE, 2, Timeframe(5, TimeUnit.MINUTES)))
    early = replay_user(
        _events(("call", 1, timedelta()), ("call", 1, timedelta(seconds=310))), [five]
    )
    assert early.first_held == {}
    inside = replay_user(
        _events(("call", 1, timedelta(seconds=40)), ("call", 1, timedelta(seconds=310))), [five]
    )
    assert inside.first_held == {1: T0 + timedelta(seconds=310)}


def test_day_window_slides_and_sums_only_its_hours() -> None:
    day = _rule(1, Requirement("deal", Operator.GTE, 3, Timeframe(1, TimeUnit.DAYS)))
    hours = [0, 10, 30, 40, 47]  # 2 in the first day, then 1, 1, 1: a window of 3 only at 47 h
    state = replay_user(_events(*[("deal", 1, timedelta(hours=h)) for h in hours]), [day])
    assert state.first_held == {1: T0 + timedelta(hours=47)}
    assert state.totals == {"deal": 5.0}


def test_rule_is_evaluated_only_when_an_event_moves_its_metrics() -> None:
    """`call lt 3` holds from the start, but only a `call` event evaluates it."""
    few = _rule(1, Requirement("call", Operator.LT, 3))
    state = replay_user(_events(("deal", 1, timedelta()), ("call", 1, timedelta(seconds=1))), [few])
    assert state.first_held == {1: T0 + timedelta(seconds=1)}


def test_xp_floors_at_zero_and_sets_the_level() -> None:
    state = replay_user(_events(("xp", -50, timedelta()), ("xp", 5000, timedelta(1))), [])
    assert (state.xp, state.level) == (5000, 10)


def test_streak_days_follow_the_users_time_zone() -> None:
    # 23:30 and 00:30 UTC are two days in UTC, one (08:30, 09:30) in Tokyo.
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    events = [("login", None, night, None), ("login", None, night + timedelta(hours=1), None)]
    assert replay_user(events, [], "UTC").current_streak == 2
    assert replay_user(events, [], "Asia/Tokyo").current_streak == 1


def test_events_out_of_time_order_are_refused() -> None:
    with pytest.raises(ValueError, match="occurred_at order"):
        replay_user(_events(("call", 1, timedelta(1)), ("call", 1, timedelta())), [])


def test_rules_without_requirements_never_hold() -> None:
    compiled = ReplayRules([_rule(1), _rule(2, Requirement("call", Operator.GTE, 1))])
    state = UserReplay(compiled)
    state.apply("call", None, T0)
    assert state.first_held == {2: T0}


_NEAR = st.sampled_from([0.0, 1e-10, 5e-10, 1e-9, 1.5e-9, 2e-9, 3e-9, 1e-8, 1e-6, 0.5, 1.0])


@settings(max_examples=400, deadline=None)
@given(
    operator=st.sampled_from(list(Operator)),
    threshold=st.one_of(
        st.sampled_from([0.0, 1.0, 0.3, -2.0, 1e-12, 1e12]),
        st.floats(allow_nan=False, allow_infinity=True, width=64),
    ),
    offset=_NEAR,
    relative=st.booleans(),
    below=st.booleans(),
)
def test_a_requirement_holds_in_replay_exactly_when_holds_says(
    operator: Operator, threshold: float, offset: float, relative: bool, below: bool
) -> None:
    """The replay compares outside the tolerance band itself; it must agree with `holds`."""
    delta = offset * (abs(threshold) if relative else 1.0) * (-1 if below else 1)
    value = threshold + delta
    requirement = Requirement("m", operator, threshold)
    state = UserReplay(ReplayRules([_rule(1, requirement)]))
    state.apply("m", value, T0)
    assert (1 in state.first_held) == holds(requirement, value)


def test_holding_asks_the_rules_at_a_given_time() -> None:
    busy = _rule(1, Requirement("call", Operator.GTE, 2, Timeframe(1, TimeUnit.HOURS)))
    total = _rule(2, Requirement("call", Operator.GTE, 3))
    few = _rule(3, Requirement("call", Operator.LT, 3))
    calls = [("call", 1, timedelta(minutes=m)) for m in (0, 10, 200)]
    state = replay_user(_events(*calls), [busy, total, few])
    assert state.first_held == {
        1: T0 + timedelta(minutes=10),
        2: T0 + timedelta(minutes=200),
        3: T0,
    }
    assert state.holding() == [2]  # at 200 min only one call in the hour; three in all
    assert state.holding(T0 + timedelta(minutes=30)) == [1, 2]  # the window of 10 min back
    assert state.holding(T0 + timedelta(days=1)) == [2]
