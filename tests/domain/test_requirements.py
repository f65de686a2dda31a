from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accolade.domain.achievements import Operator, Requirement, Timeframe, TimeUnit
from accolade.domain.requirements import (
    Progress,
    all_hold,
    bucket_size_for,
    bucket_start,
    holds,
    metrics_of,
    progress,
    value_key,
    window_start,
    window_sum,
)

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
NOW = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)


def req(operator: Operator, threshold: float, metric: str = "sales") -> Requirement:
    return Requirement(metric=metric, operator=operator, threshold=threshold)


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        (Operator.GT, False),
        (Operator.GTE, True),
        (Operator.LT, False),
        (Operator.LTE, True),
        (Operator.EQ, True),
    ],
)
def test_value_exactly_at_threshold(operator: Operator, expected: bool) -> None:
    assert holds(req(operator, 10), 10) is expected


@pytest.mark.parametrize(
    ("operator", "below", "above"),
    [
        (Operator.GT, False, True),
        (Operator.GTE, False, True),
        (Operator.LT, True, False),
        (Operator.LTE, True, False),
        (Operator.EQ, False, False),
    ],
)
def test_values_either_side_of_threshold(operator: Operator, below: bool, above: bool) -> None:
    assert holds(req(operator, 10), 9) is below
    assert holds(req(operator, 10), 11) is above


def test_float_sum_a_hair_off_threshold_counts_as_equal() -> None:
    total = 0.1 + 0.2
    assert holds(req(Operator.EQ, 0.3), total)
    assert holds(req(Operator.LTE, 0.3), total)
    assert not holds(req(Operator.GT, 0.3), total)


def test_nan_satisfies_no_operator() -> None:
    assert not any(holds(req(op, 1), float("nan")) for op in Operator)


@given(finite, finite)
def test_exactly_one_of_lt_eq_gt_holds(value: float, threshold: float) -> None:
    results = [holds(req(op, threshold), value) for op in (Operator.LT, Operator.EQ, Operator.GT)]
    assert results.count(True) == 1


@given(finite, finite)
def test_gte_is_gt_or_eq(value: float, threshold: float) -> None:
    gte = holds(req(Operator.GTE, threshold), value)
    assert gte == (
        holds(req(Operator.GT, threshold), value) or holds(req(Operator.EQ, threshold), value)
    )


@given(finite, finite)
def test_lte_is_lt_or_eq(value: float, threshold: float) -> None:
    lte = holds(req(Operator.LTE, threshold), value)
    assert lte == (
        holds(req(Operator.LT, threshold), value) or holds(req(Operator.EQ, threshold), value)
    )


@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6))
def test_operators_match_python_comparisons_on_integers(value: int, threshold: int) -> None:
    assert holds(req(Operator.GT, threshold), value) == (value > threshold)
    assert holds(req(Operator.GTE, threshold), value) == (value >= threshold)
    assert holds(req(Operator.LT, threshold), value) == (value < threshold)
    assert holds(req(Operator.LTE, threshold), value) == (value <= threshold)
    assert holds(req(Operator.EQ, threshold), value) == (value == threshold)


def test_all_hold_when_every_requirement_holds() -> None:
    rules = [req(Operator.GTE, 5, "sales"), req(Operator.LT, 3, "refunds")]
    assert all_hold(rules, {"sales": 5, "refunds": 2})


def test_all_hold_fails_when_one_requirement_fails() -> None:
    rules = [req(Operator.GTE, 5, "sales"), req(Operator.LT, 3, "refunds")]
    assert not all_hold(rules, {"sales": 5, "refunds": 3})


def test_missing_metric_counts_as_zero() -> None:
    assert all_hold([req(Operator.EQ, 0, "refunds")], {})
    assert not all_hold([req(Operator.GTE, 1, "sales")], {})


def test_no_requirements_never_hold() -> None:
    assert not all_hold([], {"sales": 100})


def test_timeframed_requirement_reads_its_windowed_key() -> None:
    daily = Requirement("sales", Operator.GTE, 3, Timeframe(1, TimeUnit.DAYS))
    assert value_key(daily) == "sales@86400s"
    assert all_hold([daily], {"sales": 1, "sales@86400s": 3})
    assert not all_hold([daily], {"sales": 10, "sales@86400s": 2})


def test_timeframed_requirement_falls_back_to_metric_value() -> None:
    daily = Requirement("sales", Operator.GTE, 3, Timeframe(1, TimeUnit.DAYS))
    assert all_hold([daily], {"sales": 3})


def test_metrics_of_lists_each_metric_once() -> None:
    rules = [req(Operator.GTE, 1, "sales"), req(Operator.GT, 2, "sales"), req(Operator.LT, 1, "x")]
    assert metrics_of(rules) == {"sales", "x"}


def test_progress_below_threshold_shows_value() -> None:
    assert progress(req(Operator.GTE, 10), 4) == Progress(current=4, target=10, met=False)


def test_progress_past_threshold_is_clamped_to_target() -> None:
    result = progress(req(Operator.GTE, 10), 25)
    assert (result.current, result.target, result.met, result.fraction) == (10, 10, True, 1.0)


def test_progress_never_goes_below_zero() -> None:
    assert progress(req(Operator.GTE, 10), -3).current == 0


def test_progress_exactly_at_gt_threshold_is_not_met() -> None:
    result = progress(req(Operator.GT, 10), 10)
    assert not result.met


def test_progress_of_lte_is_full_while_it_holds() -> None:
    assert progress(req(Operator.LTE, 3), 1) == Progress(current=3, target=3, met=True)


def test_progress_of_lte_is_empty_once_broken() -> None:
    assert progress(req(Operator.LTE, 3), 4) == Progress(current=0, target=3, met=False)


def test_progress_eq_overshoot_is_full_but_not_met() -> None:
    result = progress(req(Operator.EQ, 5), 7)
    assert (result.current, result.met) == (5, False)


@given(st.sampled_from(list(Operator)), finite, finite)
def test_progress_fraction_is_between_0_and_1(op: Operator, threshold: float, value: float) -> None:
    result = progress(req(op, threshold), value)
    assert 0.0 <= result.fraction <= 1.0
    assert result.met == holds(req(op, threshold), value)


@pytest.mark.parametrize(
    ("unit", "bucket_s"),
    [(TimeUnit.MINUTES, 60), (TimeUnit.HOURS, 60), (TimeUnit.DAYS, 3600)],
)
def test_bucket_size_for_each_unit(unit: TimeUnit, bucket_s: int) -> None:
    assert bucket_size_for(Timeframe(1, unit)) == bucket_s


def test_bucket_start_floors_to_the_minute() -> None:
    assert bucket_start(NOW, 60) == datetime(2025, 3, 14, 15, 9, tzinfo=UTC)


def test_bucket_start_floors_to_the_utc_hour_for_other_offsets() -> None:
    ts = datetime(2025, 3, 14, 20, 39, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert bucket_start(ts, 3600) == datetime(2025, 3, 14, 15, 0, tzinfo=UTC)


def test_bucket_start_keeps_naive_datetimes_naive() -> None:
    assert bucket_start(datetime(2025, 1, 1, 0, 0, 59), 60) == datetime(2025, 1, 1)


def test_bucket_start_rejects_non_positive_size() -> None:
    with pytest.raises(ValueError):
        bucket_start(NOW, 0)


def test_window_sum_counts_buckets_inside_the_window() -> None:
    five_minutes = Timeframe(5, TimeUnit.MINUTES)
    now = datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC)
    buckets = {
        datetime(2025, 1, 1, 12, 0, tzinfo=UTC): 1.0,
        datetime(2025, 1, 1, 11, 56, tzinfo=UTC): 2.0,
        # Holds 11:55:00-11:55:59; the window opens at 11:55:30, so it overlaps.
        datetime(2025, 1, 1, 11, 55, tzinfo=UTC): 4.0,
        datetime(2025, 1, 1, 11, 54, tzinfo=UTC): 8.0,
    }
    assert window_sum(buckets, now, five_minutes) == 7.0


def test_window_sum_excludes_bucket_ending_at_window_start() -> None:
    one_minute = Timeframe(1, TimeUnit.MINUTES)
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    # The window is (11:59, 12:00]; the 11:58 bucket holds 11:58:00-11:58:59.
    buckets = {
        datetime(2025, 1, 1, 11, 58, tzinfo=UTC): 1.0,
        datetime(2025, 1, 1, 11, 59, tzinfo=UTC): 2.0,
    }
    assert window_sum(buckets, now, one_minute) == 2.0


def test_window_sum_ignores_future_buckets() -> None:
    buckets = {bucket_start(NOW + timedelta(minutes=2), 60): 5.0}
    assert window_sum(buckets, NOW, Timeframe(1, TimeUnit.HOURS)) == 0.0


def test_window_sum_uses_hour_buckets_for_day_windows() -> None:
    now = datetime(2025, 1, 2, 10, 30, tzinfo=UTC)
    buckets = {
        datetime(2025, 1, 1, 10, 0, tzinfo=UTC): 1.0,  # overlaps 10:30 yesterday
        datetime(2025, 1, 1, 9, 0, tzinfo=UTC): 2.0,
    }
    assert window_sum(buckets, now, Timeframe(1, TimeUnit.DAYS)) == 1.0


def test_window_sum_accepts_naive_bucket_keys_as_utc() -> None:
    buckets = {bucket_start(NOW.replace(tzinfo=None), 60): 3.0}
    assert window_sum(buckets, NOW, Timeframe(10, TimeUnit.MINUTES)) == 3.0


def test_window_start_is_the_earliest_counted_bucket() -> None:
    now = datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC)
    start = window_start(now, Timeframe(5, TimeUnit.MINUTES))
    assert start == datetime(2025, 1, 1, 11, 55, tzinfo=UTC)


timeframes = st.builds(
    Timeframe,
    duration=st.integers(min_value=1, max_value=48),
    unit=st.sampled_from(list(TimeUnit)),
)
events = st.lists(
    st.tuples(
        st.integers(min_value=-4 * 86400 * 10**6, max_value=60 * 10**6),  # offset from now, µs
        st.integers(min_value=0, max_value=1000),
    ),
    max_size=60,
)


def _bucketize(
    offsets_and_values: list[tuple[int, int]], now: datetime, bucket_s: int
) -> dict[datetime, float]:
    buckets: dict[datetime, float] = {}
    for offset_us, value in offsets_and_values:
        key = bucket_start(now + timedelta(microseconds=offset_us), bucket_s)
        buckets[key] = buckets.get(key, 0.0) + value
    return buckets


def _exact_sum(offsets_and_values: list[tuple[int, int]], earliest_s: int) -> float:
    # Events with offset in (-earliest_s, 0] seconds from now.
    return float(sum(v for o, v in offsets_and_values if -earliest_s * 10**6 < o <= 0))


@given(events, timeframes)
def test_window_sum_never_misses_an_event_in_the_window(
    offsets_and_values: list[tuple[int, int]], timeframe: Timeframe
) -> None:
    buckets = _bucketize(offsets_and_values, NOW, bucket_size_for(timeframe))
    assert window_sum(buckets, NOW, timeframe) >= _exact_sum(offsets_and_values, timeframe.window_s)


@given(events, timeframes)
def test_window_sum_overcounts_at_most_one_bucket_of_history(
    offsets_and_values: list[tuple[int, int]], timeframe: Timeframe
) -> None:
    bucket_s = bucket_size_for(timeframe)
    past = [(o, v) for o, v in offsets_and_values if o <= 0]  # later ones share now's bucket
    buckets = _bucketize(past, NOW, bucket_s)
    upper = _exact_sum(past, timeframe.window_s + bucket_s)
    assert window_sum(buckets, NOW, timeframe) <= upper


@given(events, timeframes)
def test_window_sum_counts_exactly_the_buckets_from_window_start(
    offsets_and_values: list[tuple[int, int]], timeframe: Timeframe
) -> None:
    buckets = _bucketize(offsets_and_values, NOW, bucket_size_for(timeframe))
    earliest = window_start(NOW, timeframe)
    expected = sum(v for k, v in buckets.items() if earliest <= k <= NOW)
    assert window_sum(buckets, NOW, timeframe) == expected


@given(st.datetimes(timezones=st.just(UTC)), st.sampled_from([1, 60, 300, 3600, 86400]))
def test_bucket_start_is_aligned_and_contains_the_timestamp(ts: datetime, bucket_s: int) -> None:
    start = bucket_start(ts, bucket_s)
    assert start <= ts < start + timedelta(seconds=bucket_s)
    assert int(start.timestamp()) % bucket_s == 0
