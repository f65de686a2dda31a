from datetime import UTC, datetime, timedelta, timezone

from accolade.domain.wire import iso


def test_a_moment_is_spelled_in_utc_with_a_z_whatever_zone_it_came_in() -> None:
    paris = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 12, 3, 11, 15, tzinfo=paris)) == "2026-12-03T10:15:00Z"
    assert (
        iso(datetime(2026, 12, 3, 10, 15, 0, 123456, tzinfo=UTC)) == "2026-12-03T10:15:00.123456Z"
    )


def test_a_naive_moment_is_taken_as_utc_and_none_stays_none() -> None:
    assert iso(datetime(2026, 12, 3, 10, 15)) == "2026-12-03T10:15:00Z"
    assert iso(None) is None
