"""Daily streaks, counted by calendar day in the user's IANA time zone.

A day with activity extends the streak when it is the day after the last active day, leaves it as
it is on the same day, and restarts it at 1 after a missed day. Days are compared as calendar
dates in the zone, never as 24-hour spans, so DST changes (23- and 25-hour days) change nothing.

Backfills: activity dated before the last active day is ignored. The state keeps only the last day,
so it cannot tell whether an older day fills a gap or was already counted; ignoring it never
inflates a streak and never breaks one. Naive datetimes are taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

STREAK_MILESTONE_DAYS = 7
DEFAULT_TZ = "UTC"


@dataclass(frozen=True, slots=True)
class StreakState:
    """`current` consecutive days up to `last_day`, and the `best` run ever."""

    current: int = 0
    best: int = 0
    last_day: date | None = None


@dataclass(frozen=True, slots=True)
class StreakUpdate:
    """The state after an activity. `reset` is True when a gap broke a running streak;
    `milestone` is the new length when it reached a multiple of 7 days, else None."""

    state: StreakState
    changed: bool
    reset: bool = False
    milestone: int | None = None


def local_day(at: datetime, tz: str = DEFAULT_TZ) -> date:
    """The calendar date of `at` in the IANA zone `tz` (raises ZoneInfoNotFoundError if unknown)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return aware.astimezone(ZoneInfo(tz)).date()


def record_activity(state: StreakState, at: datetime, tz: str = DEFAULT_TZ) -> StreakUpdate:
    """The streak after activity at `at`, with what changed; `state` itself is not touched."""
    day = local_day(at, tz)
    last_day = state.last_day
    if last_day is not None and day <= last_day:
        return StreakUpdate(state=state, changed=False)  # same day, or a backfill: see module doc
    reset = False
    if last_day is not None and day == last_day + timedelta(days=1):
        current = state.current + 1
    else:
        current = 1
        # A streak already reported as lost (check_streak's 0) is not broken a second time.
        reset = last_day is not None and state.current > 0
    new_state = StreakState(current=current, best=max(state.best, current), last_day=day)
    milestone = current if current % STREAK_MILESTONE_DAYS == 0 else None
    return StreakUpdate(state=new_state, changed=True, reset=reset, milestone=milestone)


def check_streak(state: StreakState, now: datetime, tz: str = DEFAULT_TZ) -> StreakState:
    """The streak as of `now`: unchanged while the last active day is today or yesterday (it can
    still be extended), else with `current` 0. `best` and `last_day` are kept."""
    if state.last_day is None or state.current == 0:
        return state
    if state.last_day >= local_day(now, tz) - timedelta(days=1):
        return state
    return replace(state, current=0)
