"""Evaluate: the rules that read a moved metric, checked against the user's values; those that
now hold unlock (once), with their rewards and celebrations, and the others' progress bars go
to the user's screen."""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import notices, rooms
from accolade.domain.events import GAUGES
from accolade.domain.requirements import (
    TOLERANCE,
    Progress,
    all_hold,
    bucket_size_for,
    holds,
    progress,
    value_key,
)
from accolade.pipeline import rules as rules_module
from accolade.pipeline.apply import UserState
from accolade.pipeline.award import Awarded, award
from accolade.pipeline.broadcaster import Broadcaster
from accolade.storage import metrics
from accolade.storage.models import User, UserAchievement, UserStats, utcnow
from accolade.storage.outbox import add_room_event

# A `progress:update` carries the bars nearest to completion, at most this many: what a
# player's screen can show moving. The whole list is `GET /api/users/achievements/progress/list`.
PROGRESS_BARS_MAX = 10


def unlocked(awarded: Awarded) -> dict[str, Any]:
    """An unlock as the event's answer lists it."""
    return {
        "achievementId": awarded.achievement_id,
        "name": awarded.name,
        "rewardDistributionIds": awarded.distribution_ids,
    }


class Evaluator:
    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster
        self.rules = rules_module.Rules()

    async def evaluate(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        moved: set[str],
        at: datetime,
        *,
        quiet: bool = False,
        only: set[int] | None = None,
        state: UserState | None = None,
        index: rules_module.RuleIndex | None = None,
    ) -> list[Awarded]:
        """Unlock the achievements reading a moved metric whose requirements now all hold.

        With `state` (an event of a batch) everything is read from memory; without it, from the
        database."""
        if index is None:
            index = await self.rules.current(session)
        # With `state` (the hot path), rules of the one-threshold kind are found on their
        # metric's ladder; every other rule is checked one by one.
        ladders = (
            {m: index.ladders[m] for m in moved if m in index.ladders}
            if state is not None and only is None
            else {}
        )
        if only is not None:
            candidates = [index.rules[i] for i in sorted(only) if i in index.rules]
        elif ladders:
            candidates = index.general_for(moved)
        else:
            candidates = index.for_metrics(moved)
        if not candidates and not ladders:
            return []
        if state is not None:
            done = state.unlocked
        else:
            done = set(
                (
                    await session.scalars(
                        select(UserAchievement.achievement_id).where(
                            UserAchievement.user_id == user.id,
                            UserAchievement.achievement_id.in_(
                                [r.achievement_id for r in candidates]
                            ),
                            UserAchievement.unlocked_at.is_not(None),
                        )
                    )
                ).all()
            )
        open_rules = [r for r in candidates if r.achievement_id not in done]
        if not open_rules and not ladders:
            return []
        untimed = {q.metric for r in open_rules for q in r.requirements if q.timeframe is None}
        untimed |= set(ladders)
        values: dict[str, float] = (
            await metrics.totals(session, user.id, untimed - GAUGES)
            if state is None
            else {m: state.totals.get(m, 0.0) for m in untimed - GAUGES}
        )
        values.update(
            {
                "xp": stats.xp,
                "level": stats.level,
                "streak": stats.current_streak,
                "best_streak": stats.best_streak,
            }
        )
        holding: list[rules_module.Rule] = []
        bars: list[tuple[Progress, rules_module.Rule]] = []
        for metric, ladder in ladders.items():
            reached, next_up = _climb(ladder, values.get(metric, 0.0), done)
            holding += reached
            bars += [(progress(r.requirements[0], values.get(metric, 0.0)), r) for r in next_up]
        windows: dict[tuple[str, int, int], float] = {}  # one query per (metric, bucket, window)
        for rule in open_rules:
            for requirement in rule.requirements:
                if requirement.timeframe is not None:
                    bucket_s = bucket_size_for(requirement.timeframe)
                    window_s = requirement.timeframe.window_s
                    key = (requirement.metric, bucket_s, window_s)
                    start = at - timedelta(seconds=window_s)
                    if key in windows:
                        pass
                    elif state is not None:
                        windows[key] = state.window_sum(requirement.metric, bucket_s, start, at)
                    else:
                        windows[key] = await metrics.window_sum(
                            session, user.id, requirement.metric, bucket_s, start, at
                        )
                    values[value_key(requirement)] = windows[key]
            if all_hold(rule.requirements, values):
                holding.append(rule)
            elif not rule.secret:
                first = rule.requirements[0]
                bar = progress(first, values.get(value_key(first), values.get(first.metric, 0.0)))
                bars.append((bar, rule))
        awarded: list[Awarded] = []
        for rule in sorted(holding, key=lambda r: r.achievement_id):
            _, result = await award(session, self.broadcaster, user, rule, quiet=quiet)
            if result is not None:
                awarded.append(result)
                if state is not None:
                    state.unlocked.add(result.achievement_id)
        if bars and not quiet:
            # One message for the bars this event moved (they update together): the nearest to
            # completion first, at most PROGRESS_BARS_MAX (100 rules on one metric would
            # otherwise put 100 bars in every event's message).
            nearest = sorted(bars, key=lambda b: -b[0].fraction)[:PROGRESS_BARS_MAX]
            add_room_event(
                session,
                rooms.user(user.external_id),
                notices.PROGRESS_UPDATE,
                notices.PROGRESS_UPDATE(
                    user_id=user.external_id,
                    achievements=[
                        {
                            "achievementId": rule.achievement_id,
                            "name": rule.name,
                            "current": bar.current,
                            "target": bar.target,
                        }
                        for bar, rule in nearest
                    ],
                    timestamp=utcnow(),
                ),
            )
        return awarded


def _climb(
    ladder: rules_module.Ladder, value: float, done: set[int]
) -> tuple[list[rules_module.Rule], list[rules_module.Rule]]:
    """The ladder's rules that `value` reaches and are not unlocked yet, and the next ones up
    that show a progress bar (at most PROGRESS_BARS_MAX, secret ones left out)."""
    # Every rule that could hold lies below this index (thresholds within TOLERANCE included).
    stop = bisect.bisect_right(ladder.thresholds, value + abs(value) * TOLERANCE + TOLERANCE)
    reached: list[rules_module.Rule] = []
    next_up: list[rules_module.Rule] = []
    for position in range(stop):
        rule = ladder.rules[position]
        if rule.achievement_id in done:
            continue
        if holds(rule.requirements[0], value):
            reached.append(rule)
        elif not rule.secret:
            next_up.append(rule)
    for rule in ladder.rules[stop:]:
        if len(next_up) >= PROGRESS_BARS_MAX:
            break
        if not rule.secret and rule.achievement_id not in done:
            next_up.append(rule)
    return reached, next_up
