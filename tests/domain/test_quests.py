"""Quest rules: step order, what blocks a step, deadlines, counting since the start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accolade.domain.achievements import Operator, Requirement, Timeframe, TimeUnit
from accolade.domain.quests import (
    QuestStatus,
    Step,
    blocking_step,
    counted_metrics,
    current_step,
    deadline,
    effective_status,
    fraction_done,
    is_open,
    next_required,
    since_start,
    step_fraction,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def make(step_id: str, order: int, *, optional: bool = False, **req: float) -> Step:
    requirements = tuple(Requirement(m, Operator.GTE, t) for m, t in req.items())
    return Step(step_id, step_id, order, optional, requirements, ())


STEPS = [make("c", 3), make("a", 1), make("opt", 2, optional=True), make("d", 4)]


def test_next_required_follows_order_and_skips_optional_steps():
    assert next_required(STEPS, []).id == "a"
    assert next_required(STEPS, ["a"]).id == "c"
    assert next_required(STEPS, ["a", "c", "d"]) is None


def test_a_required_step_is_blocked_by_the_first_open_one_before_it():
    by_id = {s.id: s for s in STEPS}
    assert blocking_step(STEPS, [], by_id["c"]).id == "a"
    assert blocking_step(STEPS, ["a"], by_id["c"]) is None


def test_optional_steps_are_never_blocked():
    assert blocking_step(STEPS, [], make("opt", 2, optional=True)) is None


def test_current_step_is_a_position_and_the_step_count_when_done():
    assert current_step(STEPS, []) == 0
    assert current_step(STEPS, ["a"]) == 2  # a, opt, c, d: c is at 2
    assert current_step(STEPS, ["a", "c", "d"]) == 4


def test_fraction_done_counts_required_steps_only():
    assert fraction_done(STEPS, ["opt"]) == 0.0
    assert fraction_done(STEPS, ["a", "opt"]) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("limit_s", "end", "expected"),
    [
        (None, None, None),
        (60, None, T0 + timedelta(seconds=60)),
        (None, T0 + timedelta(hours=1), T0 + timedelta(hours=1)),
        (7200, T0 + timedelta(hours=1), T0 + timedelta(hours=1)),
        (60, T0 + timedelta(hours=1), T0 + timedelta(seconds=60)),
    ],
)
def test_deadline_is_the_earlier_of_time_limit_and_end_date(limit_s, end, expected):
    assert deadline(T0, limit_s, end) == expected


def test_in_progress_run_is_expired_at_its_deadline():
    assert effective_status(QuestStatus.IN_PROGRESS, T0, T0) is QuestStatus.EXPIRED
    assert effective_status(QuestStatus.IN_PROGRESS, T0, T0 - timedelta(seconds=1)) is (
        QuestStatus.IN_PROGRESS
    )
    assert effective_status(QuestStatus.COMPLETED, T0, T0 + timedelta(days=1)) is (
        QuestStatus.COMPLETED
    )


def test_a_quest_is_open_inside_its_dates_when_active():
    assert is_open(True, T0, T0 + timedelta(days=1), T0)
    assert not is_open(True, T0, T0 + timedelta(days=1), T0 - timedelta(seconds=1))
    assert not is_open(True, None, T0, T0)
    assert not is_open(False, None, None, T0)


def test_counters_are_measured_since_the_start_but_gauges_and_windows_are_not():
    requirements = [
        Requirement("deal", Operator.GTE, 2),
        Requirement("level", Operator.GTE, 2),
        Requirement("call", Operator.GTE, 2, Timeframe(1, TimeUnit.DAYS)),
    ]
    assert counted_metrics(requirements) == {"deal"}
    values = since_start({"deal": 7.0, "level": 3.0}, {"deal": 5.0, "level": 1.0}, {"deal"})
    assert values == {"deal": 2.0, "level": 3.0}


def test_step_fraction_is_the_mean_of_its_requirements():
    assert step_fraction(make("s", 1, deal=4, call=2), {"deal": 1.0, "call": 2.0}) == 0.625
    assert step_fraction(make("s", 1), {}) == 0.0
