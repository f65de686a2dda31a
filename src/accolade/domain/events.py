"""What an event means: the metrics it moves and the XP it earns. Pure; no I/O.

Built-in types (the contract's "Events"):
- `xp`: `value` XP.
- `activity`, `login`: one day of the daily streak; counts 1 in the metric of that name.
- `sale`: `value` revenue and `data.signups` signups; metrics `revenue`, `signups` and `sales` (1).
- `quiz.completed`: XP by score (`data.score` of `data.maxScore`, up to QUIZ_MAX_XP); metrics
  `quiz.completed` (1) and `quiz.perfect` (1 for a perfect score).
- `problem.solved`: `value` XP (default PROBLEM_XP); metric `problem.solved` (1).
Any other type is a custom metric: it adds `value` (default 1) to the metric of that name.

Gauges, set rather than added and readable by requirements: `xp` (total), `level`, `streak`,
`best_streak`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

XP = "xp"
ACTIVITY_TYPES = frozenset({"activity", "login"})
BUILT_IN = frozenset({"xp", "activity", "login", "sale", "quiz.completed", "problem.solved"})
GAUGES = frozenset({"xp", "level", "streak", "best_streak"})
QUIZ_MAX_XP = 100
PROBLEM_XP = 50


@dataclass(frozen=True, slots=True)
class Meaning:
    """The counters an event adds to, and the XP it earns."""

    deltas: dict[str, float]
    xp: int
    streak_day: bool
    perfect_quiz: bool = False


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def quiz_xp(score: float, max_score: float) -> int:
    """XP for a quiz: the share of the maximum score, of QUIZ_MAX_XP, rounded down."""
    if max_score <= 0:
        return 0
    share = min(max(score / max_score, 0.0), 1.0)
    return math.floor(share * QUIZ_MAX_XP)


def meaning_of(event_type: str, value: float | None, data: Mapping[str, Any]) -> Meaning:
    if event_type == "xp":
        return Meaning({}, int(value or 0), False)
    if event_type in ACTIVITY_TYPES:
        return Meaning({event_type: 1.0}, 0, True)
    if event_type == "sale":
        deltas = {"sales": 1.0, "revenue": float(value or 0)}
        signups = _number(data, "signups")
        if signups:
            deltas["signups"] = signups
        return Meaning(deltas, 0, False)
    if event_type == "quiz.completed":
        score = _number(data, "score") or 0.0
        max_score = _number(data, "maxScore") or 0.0
        perfect = max_score > 0 and score >= max_score
        deltas = {"quiz.completed": 1.0}
        if perfect:
            deltas["quiz.perfect"] = 1.0
        return Meaning(deltas, quiz_xp(score, max_score), False, perfect_quiz=perfect)
    if event_type == "problem.solved":
        return Meaning(
            {"problem.solved": 1.0}, int(value if value is not None else PROBLEM_XP), False
        )
    return Meaning({event_type: float(value if value is not None else 1.0)}, 0, False)


# Metrics that built-in types move under another name than their own.
_MOVED_BY = {
    "sales": "sale",
    "revenue": "sale",
    "signups": "sale",
    "quiz.perfect": "quiz.completed",
}


def types_moving(metric: str) -> frozenset[str] | None:
    """The event types whose `meaning_of` can move `metric`; None for a gauge (XP and the
    streak move with many types). Kept beside `meaning_of`: the two change together."""
    if metric in GAUGES:
        return None
    return frozenset({_MOVED_BY.get(metric, metric)})
