"""Calendar periods of a leaderboard, in UTC: every value counts toward `all` and toward the
day, ISO week (Monday to Sunday), month and year its event occurred in.

A period is named by a key that sorts in time order: `all`, `2026-11-23`, `2026-W48`, `2026-11`,
`2026`. Past keys stay readable (archived boards)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args

Period = Literal["all", "day", "week", "month", "year"]
PERIODS: tuple[Period, ...] = get_args(Period)
ALL_TIME_KEY = "all"

_KEY_PATTERNS: dict[Period, re.Pattern[str]] = {
    "all": re.compile(r"^all$"),
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "week": re.compile(r"^\d{4}-W\d{2}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
    "year": re.compile(r"^\d{4}$"),
}


def period_key(period: Period, at: datetime) -> str:
    """The key of the `period` that contains the instant `at` (calendar boundaries in UTC)."""
    day = at.astimezone(UTC).date()
    if period == "all":
        return ALL_TIME_KEY
    if period == "day":
        return day.isoformat()
    if period == "week":
        iso_year, iso_week, _ = day.isocalendar()
        return f"{iso_year:04d}-W{iso_week:02d}"
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return f"{day.year:04d}"


def period_keys(at: datetime) -> dict[Period, str]:
    """Every period's key at `at`: the rows one metric move touches."""
    return {period: period_key(period, at) for period in PERIODS}


def period_start(period: Period, key: str) -> datetime | None:
    """When the period named `key` began (None for all time); raises ValueError for a bad key."""
    check_key(period, key)
    if period == "all":
        return None
    if period == "day":
        start = date.fromisoformat(key)
    elif period == "week":
        start = date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
    elif period == "month":
        start = date(int(key[:4]), int(key[5:]), 1)
    else:
        start = date(int(key), 1, 1)
    return datetime.combine(start, time(), tzinfo=UTC)


def period_end(period: Period, key: str) -> datetime | None:
    """When the period named `key` ends (exclusive; None for all time)."""
    start = period_start(period, key)
    if start is None:
        return None
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def check_key(period: Period, key: str) -> str:
    """`key` if it names a real `period` (e.g. `2026-W48` for a week), else ValueError."""
    if not _KEY_PATTERNS[period].match(key):
        raise ValueError(f"{key!r} is not a {period} key (e.g. {period_key(period, _EXAMPLE)})")
    try:
        if period == "day":
            date.fromisoformat(key)
        elif period == "week":
            date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
        elif period == "month":
            date(int(key[:4]), int(key[5:]), 1)
        elif period == "year":
            date(int(key), 1, 1)
    except ValueError as exc:
        raise ValueError(f"{key!r} is not a {period} key: {exc}") from None
    return key


_EXAMPLE = datetime(2026, 11, 23, tzinfo=UTC)
