"""Evaluating achievement requirements: operators, progress bars and trailing time windows.

Comparisons
-----------
Metric values are sums of event values, so a float total may land a hair off its threshold
(0.1 + 0.2 != 0.3). Values within `TOLERANCE` (relative, with the same absolute floor) of the
threshold count as equal, and the operators stay consistent with that: exactly one of lt, eq, gt
holds for any number, gte is "gt or eq" and lte is "lt or eq". NaN satisfies nothing.

Timeframed requirements and buckets
-----------------------------------
Events for a timeframed requirement are counted into fixed buckets aligned to the Unix epoch (so to
whole UTC minutes and hours): 60-second buckets for windows in minutes or hours, 3,600-second
buckets for windows in days. A trailing window of `window_s` ending at `now` is summed from every
bucket that overlaps `(now - window_s, now]`. The sum therefore never misses an event inside the
window, and may include events up to one bucket (just under 60 s, or 3,600 s for day windows)
older than the window's start: a "5 minutes" window counts between 5 and 6 minutes of history, a
"1 day" window between 24 and 25 hours. Buckets that start after `now` (future-dated events) are
left out.

Naive datetimes are taken as UTC throughout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from accolade.domain.achievements import Operator, Requirement, Timeframe, TimeUnit

TOLERANCE = 1e-9

MINUTE_BUCKET_S = 60
HOUR_BUCKET_S = 3600

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UPWARD = frozenset({Operator.GT, Operator.GTE, Operator.EQ})


def _close(value: float, threshold: float) -> bool:
    return math.isclose(value, threshold, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def holds(requirement: Requirement, value: float) -> bool:
    """Whether `value` satisfies `requirement.operator` against its threshold."""
    threshold = requirement.threshold
    equal = _close(value, threshold)
    match requirement.operator:
        case Operator.EQ:
            return equal
        case Operator.GT:
            return value > threshold and not equal
        case Operator.GTE:
            return value > threshold or equal
        case Operator.LT:
            return value < threshold and not equal
        case Operator.LTE:
            return value < threshold or equal
    raise ValueError(f"unknown operator {requirement.operator!r}")  # pragma: no cover


def value_key(requirement: Requirement) -> str:
    """The key under which `all_hold` looks for this requirement's value.

    The metric name for an untimed requirement; for a timeframed one `metric@{window_s}s` (e.g.
    `sales@86400s`), so a lifetime total and a windowed sum of one metric can sit side by side.
    """
    if requirement.timeframe is None:
        return requirement.metric
    return f"{requirement.metric}@{requirement.timeframe.window_s}s"


def all_hold(requirements: Iterable[Requirement], values: Mapping[str, float]) -> bool:
    """Whether every requirement holds for `values`; False for an empty list.

    A requirement's value is `values[value_key(req)]`, falling back to `values[req.metric]` (a
    caller that already windowed the metric may key it by name), and 0 for a metric never
    recorded. An empty list does not hold: an achievement without requirements is awarded by
    hand, never unlocked by itself.
    """
    any_requirement = False
    for requirement in requirements:
        any_requirement = True
        value = values.get(value_key(requirement))
        if value is None:
            value = values.get(requirement.metric, 0.0)
        if not holds(requirement, value):
            return False
    return any_requirement


def metrics_of(requirements: Iterable[Requirement]) -> set[str]:
    """The metric names the requirements read, for indexing rules by metric."""
    return {requirement.metric for requirement in requirements}


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress bar: `current` out of `target` (the threshold), and whether the rule holds."""

    current: float
    target: float
    met: bool = False

    @property
    def fraction(self) -> float:
        """0.0 to 1.0; 1.0 whenever the requirement holds."""
        if self.met:
            return 1.0
        if self.target <= 0:
            return 0.0
        return min(1.0, max(0.0, self.current / self.target))


def progress(requirement: Requirement, value: float) -> Progress:
    """Progress towards `requirement` for a bar: `current` runs from 0 up to `target`.

    For gt, gte and eq `current` is the value clamped to `[0, threshold]` (an eq overshoot shows a
    full bar with `met` False). For lt and lte, where lower is better, there is nothing to fill:
    `current` is the threshold while the requirement holds and 0 once it is broken.
    """
    target = requirement.threshold
    met = holds(requirement, value)
    if met:
        current = target
    elif requirement.operator in _UPWARD and not math.isnan(value):
        current = min(max(value, 0.0), max(target, 0.0))
    else:
        current = 0.0
    return Progress(current=current, target=target, met=met)


def _as_utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def bucket_size_for(timeframe: Timeframe) -> int:
    """Bucket length in seconds for `timeframe`: 60 for minute and hour windows, 3,600 for days."""
    if timeframe.unit is TimeUnit.DAYS:
        return HOUR_BUCKET_S
    return MINUTE_BUCKET_S


def bucket_start(ts: datetime, bucket_s: int) -> datetime:
    """Start of the `bucket_s`-second bucket holding `ts`, aligned to the Unix epoch.

    An aware `ts` gives an aware UTC datetime; a naive one (taken as UTC) gives a naive one, so
    the result compares with whatever the caller stores.
    """
    if bucket_s <= 0:
        raise ValueError(f"bucket_s must be positive, got {bucket_s}")
    size = timedelta(seconds=bucket_s)
    start = _EPOCH + ((_as_utc(ts) - _EPOCH) // size) * size
    return start.replace(tzinfo=None) if ts.tzinfo is None else start


def window_start(now: datetime, timeframe: Timeframe, bucket_s: int | None = None) -> datetime:
    """The earliest bucket start that `window_sum` counts at `now`: a lower bound for queries."""
    size = bucket_size_for(timeframe) if bucket_s is None else bucket_s
    return bucket_start(now - timedelta(seconds=timeframe.window_s), size)


def window_sum(
    buckets: Mapping[datetime, float],
    now: datetime,
    timeframe: Timeframe,
    bucket_s: int | None = None,
) -> float:
    """Sum of the buckets (keyed by bucket start) that overlap the window ending at `now`.

    `bucket_s` is the length the buckets were counted with; `bucket_size_for(timeframe)` if
    omitted. See the module docstring for the precision this gives.
    """
    size = timedelta(seconds=bucket_size_for(timeframe) if bucket_s is None else bucket_s)
    now_utc = _as_utc(now)
    window_opens = now_utc - timedelta(seconds=timeframe.window_s)
    total = 0.0
    for start, amount in buckets.items():
        start_utc = _as_utc(start)
        if start_utc + size > window_opens and start_utc <= now_utc:
            total += amount
    return total
