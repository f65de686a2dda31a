"""Quests (seed 002): ordered steps, their requirements, statuses and deadlines. Pure; no I/O.

Decisions the seed leaves open:
- Steps are ordered by `order`. A required step may be completed only once every required step
  before it is complete; optional steps may be completed at any time and never hold a quest up.
  A quest completes when all its required steps are complete.
- `currentStep` is the 0-based position (in step order) of the first required step not yet
  complete, and the number of steps once all required steps are.
- A run's deadline is the earlier of `timeLimit` seconds after its start and the quest's
  `endDate` (as the quest is now, while the run lasts); a run still IN_PROGRESS at its deadline
  is EXPIRED. EXPIRED and FAILED quests may be started
  again (a fresh run: no steps complete); a COMPLETED quest may not.
- Step requirements without a timeframe count what the user did since the quest (re)started:
  the metric's total minus its total at the start. Gauges (`xp`, `level`, `streak`,
  `best_streak`) are read as they are; timeframed requirements use their trailing window.
- A quest's own requirements are prerequisites, read from the user's all-time values at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accolade.domain.achievements import Requirement
from accolade.domain.events import GAUGES
from accolade.domain.requirements import progress, value_key


class QuestStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


# Statuses from which a quest may be started (again).
STARTABLE = frozenset({QuestStatus.NOT_STARTED, QuestStatus.EXPIRED, QuestStatus.FAILED})


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    order: int
    optional: bool
    requirements: tuple[Requirement, ...]
    rewards: tuple[dict[str, Any], ...]


def ordered(steps: Iterable[Step]) -> list[Step]:
    """Steps by `order` (ties keep their given order)."""
    return sorted(steps, key=lambda step: step.order)


def next_required(steps: Sequence[Step], completed: Iterable[str]) -> Step | None:
    """The first required step (in order) not yet complete, or None when all are."""
    done = set(completed)
    return next((s for s in ordered(steps) if not s.optional and s.id not in done), None)


def blocking_step(steps: Sequence[Step], completed: Iterable[str], step: Step) -> Step | None:
    """For completing `step` now: the earlier required step still open, or None when free to.

    Optional steps are never blocked; a required step waits for the required steps before it.
    """
    if step.optional:
        return None
    first_open = next_required(steps, completed)
    if first_open is None or first_open.id == step.id:
        return None
    return first_open


def all_required_done(steps: Sequence[Step], completed: Iterable[str]) -> bool:
    return next_required(steps, completed) is None


def current_step(steps: Sequence[Step], completed: Iterable[str]) -> int:
    """0-based position of the first open required step; the step count when none is open."""
    first_open = next_required(steps, completed)
    in_order = ordered(steps)
    return len(in_order) if first_open is None else in_order.index(first_open)


def fraction_done(steps: Sequence[Step], completed: Iterable[str]) -> float:
    """The share of required steps complete, 0.0 to 1.0."""
    required = [s for s in steps if not s.optional]
    if not required:
        return 1.0
    done = set(completed)
    return sum(s.id in done for s in required) / len(required)


def deadline(
    started_at: datetime, time_limit_s: int | None, end_date: datetime | None
) -> datetime | None:
    """When a run started at `started_at` expires: the earlier of its time limit and end date."""
    candidates = [end_date] if end_date is not None else []
    if time_limit_s is not None:
        candidates.append(started_at + timedelta(seconds=time_limit_s))
    return min(candidates) if candidates else None


def effective_status(
    status: QuestStatus, expires_at: datetime | None, now: datetime
) -> QuestStatus:
    """`status` as of `now`: a run still IN_PROGRESS at its deadline is EXPIRED."""
    if status is QuestStatus.IN_PROGRESS and expires_at is not None and now >= expires_at:
        return QuestStatus.EXPIRED
    return status


def is_open(
    is_active: bool, start_date: datetime | None, end_date: datetime | None, now: datetime
) -> bool:
    """Whether a quest may be started at `now`: active, and inside its dates."""
    if not is_active:
        return False
    if start_date is not None and now < start_date:
        return False
    return end_date is None or now < end_date


def counted_metrics(requirements: Iterable[Requirement]) -> set[str]:
    """The counters whose growth since the start a quest's steps measure (untimed, not gauges)."""
    return {r.metric for r in requirements if r.timeframe is None and r.metric not in GAUGES}


def since_start(
    values: Mapping[str, float], baseline: Mapping[str, float], counted: Iterable[str]
) -> dict[str, float]:
    """`values` with each counted metric reduced by its total at the quest's start."""
    adjusted = dict(values)
    for metric in counted:
        adjusted[metric] = adjusted.get(metric, 0.0) - baseline.get(metric, 0.0)
    return adjusted


def step_fraction(step: Step, values: Mapping[str, float]) -> float:
    """How far along `step` is, 0.0 to 1.0: the mean of its requirements' progress bars."""
    if not step.requirements:
        return 0.0
    total = 0.0
    for requirement in step.requirements:
        value = values.get(value_key(requirement), values.get(requirement.metric, 0.0))
        total += progress(requirement, value).fraction
    return total / len(step.requirements)
