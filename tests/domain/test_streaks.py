from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accolade.domain.streaks import StreakState, check_streak, local_day, record_activity

NEW_YORK = "America/New_York"


def at(day: date, hour: int = 12, tz: str = "UTC") -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(tz))


D = date(2025, 6, 10)


def test_first_activity_starts_a_streak_of_1() -> None:
    update = record_activity(StreakState(), at(D))
    assert update.state == StreakState(current=1, best=1, last_day=D)
    assert (update.changed, update.reset, update.milestone) == (True, False, None)


def test_same_day_activity_changes_nothing() -> None:
    state = StreakState(current=3, best=5, last_day=D)
    update = record_activity(state, at(D, hour=23))
    assert update.state is state
    assert not update.changed


def test_next_day_extends_the_streak() -> None:
    update = record_activity(StreakState(current=3, best=5, last_day=D), at(D + timedelta(days=1)))
    assert update.state == StreakState(current=4, best=5, last_day=D + timedelta(days=1))
    assert update.changed and not update.reset


def test_extending_past_best_raises_best() -> None:
    update = record_activity(StreakState(current=5, best=5, last_day=D), at(D + timedelta(days=1)))
    assert update.state.best == 6


def test_missed_day_resets_to_1_and_keeps_best() -> None:
    update = record_activity(StreakState(current=9, best=9, last_day=D), at(D + timedelta(days=2)))
    assert update.state == StreakState(current=1, best=9, last_day=D + timedelta(days=2))
    assert update.changed and update.reset


def test_activity_after_reported_loss_is_not_a_second_reset() -> None:
    update = record_activity(StreakState(current=0, best=9, last_day=D), at(D + timedelta(days=5)))
    assert update.state.current == 1
    assert not update.reset


def test_backfilled_older_day_is_ignored() -> None:
    state = StreakState(current=4, best=4, last_day=D)
    update = record_activity(state, at(D - timedelta(days=1)))
    assert update.state is state
    assert not update.changed and not update.reset


def test_reaching_7_days_is_a_milestone() -> None:
    update = record_activity(StreakState(current=6, best=6, last_day=D), at(D + timedelta(days=1)))
    assert update.milestone == 7


def test_reaching_14_days_is_a_milestone() -> None:
    update = record_activity(StreakState(13, 13, D), at(D + timedelta(days=1)))
    assert update.milestone == 14


def test_8_days_is_no_milestone() -> None:
    update = record_activity(StreakState(7, 7, D), at(D + timedelta(days=1)))
    assert update.milestone is None


def test_state_is_immutable() -> None:
    state = StreakState(1, 1, D)
    with pytest.raises(FrozenInstanceError):
        state.current = 2  # type: ignore[misc]


def test_day_is_taken_in_the_given_time_zone() -> None:
    # 03:00 UTC on 11 June is still the evening of 10 June in New York.
    instant = datetime(2025, 6, 11, 3, 0, tzinfo=UTC)
    assert local_day(instant) == date(2025, 6, 11)
    assert local_day(instant, NEW_YORK) == date(2025, 6, 10)


def test_late_evening_local_is_same_day_though_utc_date_differs() -> None:
    state = record_activity(StreakState(), datetime(2025, 6, 10, 14, tzinfo=UTC), NEW_YORK).state
    update = record_activity(state, datetime(2025, 6, 11, 3, tzinfo=UTC), NEW_YORK)
    assert not update.changed


def test_naive_datetime_is_taken_as_utc() -> None:
    assert local_day(datetime(2025, 6, 11, 3, 0), NEW_YORK) == date(2025, 6, 10)


def test_unknown_time_zone_is_an_error() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        record_activity(StreakState(), at(D), "Mars/Olympus_Mons")


def test_spring_forward_day_keeps_the_streak() -> None:
    # 9 March 2025 has 23 hours in New York; late on the 8th and early on the 10th are 2 days on.
    tz = NEW_YORK
    saturday_night = datetime(2025, 3, 8, 23, 30, tzinfo=ZoneInfo(tz))
    sunday = datetime(2025, 3, 9, 23, 59, tzinfo=ZoneInfo(tz))
    monday_early = datetime(2025, 3, 10, 0, 1, tzinfo=ZoneInfo(tz))
    state = record_activity(StreakState(), saturday_night, tz).state
    state = record_activity(state, sunday, tz).state
    state = record_activity(state, monday_early, tz).state
    assert state.current == 3


def test_fall_back_day_counts_once() -> None:
    # 2 November 2025 has 25 hours in New York: 00:30 and 23:30 local are 24 h apart, same day.
    tz = NEW_YORK
    early = datetime(2025, 11, 2, 0, 30, tzinfo=ZoneInfo(tz))
    late = early.astimezone(UTC) + timedelta(hours=24)  # 23:30 EST, still 2 November
    assert local_day(late, tz) == date(2025, 11, 2)
    state = record_activity(StreakState(1, 1, date(2025, 11, 1)), early, tz).state
    update = record_activity(state, late, tz)
    assert not update.changed
    assert update.state.current == 2


def test_24_hours_apart_across_fall_back_can_still_be_the_next_day() -> None:
    tz = NEW_YORK
    start = datetime(2025, 11, 1, 23, 30, tzinfo=ZoneInfo(tz))
    state = record_activity(StreakState(), start, tz).state
    update = record_activity(state, start.astimezone(UTC) + timedelta(hours=24), tz)
    # 24 h after 23:30 EDT on 1 Nov is 22:30 EST on 2 Nov: the next calendar day.
    assert update.state.current == 2


def test_check_streak_keeps_streak_last_active_today() -> None:
    state = StreakState(5, 5, D)
    assert check_streak(state, at(D, hour=20)) == state


def test_check_streak_keeps_streak_last_active_yesterday() -> None:
    state = StreakState(5, 5, D)
    assert check_streak(state, at(D + timedelta(days=1), hour=23)) == state


def test_check_streak_zeroes_streak_after_a_missed_day() -> None:
    state = StreakState(5, 7, D)
    assert check_streak(state, at(D + timedelta(days=2))) == StreakState(0, 7, D)


def test_check_streak_does_not_mutate_state() -> None:
    state = StreakState(5, 7, D)
    check_streak(state, at(D + timedelta(days=10)))
    assert state == StreakState(5, 7, D)


def test_check_streak_of_empty_state_is_empty() -> None:
    assert check_streak(StreakState(), at(D)) == StreakState()


def test_check_streak_uses_local_today() -> None:
    # 02:00 UTC on 12 June is 11 June in New York: activity on the 10th is still "yesterday".
    state = StreakState(3, 3, D)
    now = datetime(2025, 6, 12, 2, 0, tzinfo=UTC)
    assert check_streak(state, now, NEW_YORK) == state
    assert check_streak(state, now).current == 0


zones = st.sampled_from(["UTC", NEW_YORK, "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"])
activity = st.lists(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31), timezones=st.just(UTC)
    ),
    max_size=40,
)


@given(activity, zones)
def test_streak_invariants_hold_for_any_activity(times: list[datetime], tz: str) -> None:
    state = StreakState()
    for instant in sorted(times):
        update = record_activity(state, instant, tz)
        new = update.state
        assert 1 <= new.current <= new.best
        assert new.best >= state.best
        if update.milestone is not None:
            assert update.milestone == new.current and new.current % 7 == 0
        state = new


@given(activity, zones)
def test_sorted_activity_streak_equals_trailing_run_of_consecutive_days(
    times: list[datetime], tz: str
) -> None:
    state = StreakState()
    for instant in sorted(times):
        state = record_activity(state, instant, tz).state
    days = sorted({local_day(t, tz) for t in times})
    run = 0
    for i in range(len(days) - 1, -1, -1):
        if i == len(days) - 1 or days[i] + timedelta(days=1) == days[i + 1]:
            run += 1
        else:
            break
    assert state.current == run
