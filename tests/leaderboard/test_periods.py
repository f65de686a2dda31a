"""Calendar periods in UTC: keys, boundaries, and refused keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from accolade.domain.periods import check_key, period_end, period_keys, period_start


def test_keys_change_at_utc_midnight_not_local_midnight():
    sunday_night = datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC)
    assert period_keys(sunday_night) == {
        "all": "all",
        "day": "2026-11-22",
        "week": "2026-W47",
        "month": "2026-11",
        "year": "2026",
    }
    monday = sunday_night + timedelta(microseconds=1)
    assert period_keys(monday)["week"] == "2026-W48"
    # 23:30 on the 22nd in New York is already the 23rd in UTC.
    new_york = datetime(2026, 11, 22, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert period_keys(new_york)["day"] == "2026-11-23"


def test_iso_weeks_cross_the_new_year():
    assert period_keys(datetime(2027, 1, 1, tzinfo=UTC))["week"] == "2026-W53"
    assert period_keys(datetime(2025, 12, 29, tzinfo=UTC))["week"] == "2026-W01"


@pytest.mark.parametrize(
    ("period", "key", "start", "end"),
    [
        ("day", "2026-02-28", datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        (
            "week",
            "2026-W48",
            datetime(2026, 11, 23, tzinfo=UTC),
            datetime(2026, 11, 30, tzinfo=UTC),
        ),
        ("month", "2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("year", "2026", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("all", "all", None, None),
    ],
)
def test_a_key_names_its_boundaries(period, key, start, end):
    assert (period_start(period, key), period_end(period, key)) == (start, end)


@pytest.mark.parametrize(
    ("period", "key"),
    [
        ("month", "2026-13"),
        ("day", "2026-02-30"),
        ("week", "2026-W54"),
        ("week", "2026-11"),
        ("year", "26"),
        ("all", "2026"),
    ],
)
def test_bad_keys_are_refused(period, key):
    with pytest.raises(ValueError):
        check_key(period, key)
