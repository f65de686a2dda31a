"""Reversal: one stored event undone, in one transaction, through the engine's own stages.

A reversal is an entry of its own in the ledger (`event_reversals`: reason, actor, effects; at
most one per event, the unique `event_id` decides between concurrent reverses on any nodes),
not a delete: the event stays stored with `reversed_at` set, and every reader of history
(`replay`, recompute, simulate) skips it. What it moved is moved back by the same stages an
event goes through, with the event's deltas negated at the event's own `occurred_at`:

- apply: the metric totals and the time buckets it was added to (`apply.Batch`), so every
  timeframed requirement reads as if it had never been sent;
- progression: its XP is taken back (never below 0; the level follows, down too); a streak day
  is recomputed from the user's remaining streak events, in the order they were taken in (the
  engine's order: `domain.streaks.record_activity` over them), never guessed;
- the metric listeners: every board of every period it counted in moves down (a row left at 0
  with no other event of the user in that period goes: `MetricMove.vacates`), its place change
  goes out as for any move (`rankings:update` for revenue); the contests its stored answer lists
  move down (`MetricMove.contests`; one already paid out keeps its standings);
- evaluate: rules reading a moved metric are checked (an `lt` rule may now hold), progress bars
  go to the user's screen;
- quests: a run started after the event counted it in its baseline, which goes down with it;
  in-progress steps go down. Completed steps, completed quests and their rewards are kept.
- revocation: each unlocked `revocable` achievement whose rule reads a moved metric is kept
  when its requirements hold now (live values) or would have held at some point of the user's
  remaining history (`replay`, the engine's rules); else it is revoked (`pipeline.revoke`).
  Non-revocable unlocks are kept.

Not undone: what a reaction of the event's type did besides its metrics (a quiz's mastery
award), celebrations already shown, and rewards already claimed. A repeated idempotency key of
a reversed event is still answered with its first answer and applies nothing (intake finds the
stored row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import streaks
from accolade.domain.errors import Conflict, NotFound
from accolade.domain.events import ACTIVITY_TYPES, meaning_of
from accolade.domain.identity import user_key
from accolade.domain.periods import PERIODS, Period, period_end, period_keys, period_start
from accolade.domain.requirements import all_hold
from accolade.domain.wire import iso
from accolade.pipeline.apply import Batch, UserState
from accolade.pipeline.commands import MetricMove
from accolade.pipeline.evaluate import unlocked
from accolade.pipeline.intake import BUCKET_SIZES_S, Engine
from accolade.pipeline.progression import gain_xp, streak_moved
from accolade.pipeline.replay import ReplayRules, replay
from accolade.pipeline.revoke import revoke
from accolade.pipeline.rules import RuleIndex
from accolade.storage import audit, metrics
from accolade.storage.models import Achievement, Event, EventReversal, User, UserStats, utcnow

XP_SOURCE = "reversal"
# Remaining events read per page when looking for another one on a board (usually the first).
SCAN_PAGE = 500
# The built-in types that move a metric besides a custom type of the metric's own name.
_TYPES_MOVING = {
    "revenue": ("sale",),
    "sales": ("sale",),
    "signups": ("sale",),
    "xp": ("xp", "quiz.completed", "problem.solved"),
    "quiz.perfect": ("quiz.completed",),
}


@dataclass(frozen=True, slots=True)
class Reversal:
    """A committed reversal, as the API answers it."""

    event_id: int
    reversed_at: datetime
    effects: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "reversedAt": iso(self.reversed_at),
            "effects": self.effects,
        }


async def reverse_event(
    engine: Engine, event_id: int, *, reason: str | None = None, actor: str | None = None
) -> Reversal:
    """Undo stored event `event_id` (see the module's docstring) in one transaction. Raises
    NotFound for an unknown id and Conflict when it is reversed already (or concurrently)."""
    try:
        async with engine.database.transaction() as session:
            reversal = await _reverse(engine, session, event_id, reason, actor)
            await _audit(session, reversal, reason)
            return reversal
    except IntegrityError:
        # The unique `event_reversals.event_id`: a concurrent reverse (this node or another)
        # committed first. Anything else is not ours to name.
        async with engine.database.transaction() as session:
            taken = await session.scalar(
                select(EventReversal.id).where(EventReversal.event_id == event_id)
            )
        if taken is None:
            raise
        raise _twice(event_id) from None


async def _audit(session: AsyncSession, reversal: Reversal, reason: str | None) -> None:
    """The audit log's entry for the reversal, in its transaction (the rows are in the
    session already: no query)."""
    event = await session.get(Event, reversal.event_id)
    user = None if event is None else await session.get(User, event.user_id)
    await audit.record(
        session,
        "event.reverse",
        f"event:{reversal.event_id}",
        userId=None if user is None else user.external_id,
        reason=reason,
        after=reversal.as_json(),
    )


def _twice(event_id: int) -> Conflict:
    return Conflict(f"event {event_id} is reversed already", {"eventId": event_id})


async def _reverse(
    engine: Engine,
    session: AsyncSession,
    event_id: int,
    reason: str | None,
    actor: str | None,
) -> Reversal:
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound(f"event {event_id} not found")
    user = await session.get(User, event.user_id)
    if user is None:  # deleted with the user (the cascade), between the two reads
        raise NotFound(f"event {event_id} not found")
    now = utcnow()
    index = await engine.evaluator.rules.current(session)
    key = user_key(user.external_id)
    # Locks the user's stats first, as every event of the user does: this reversal and the
    # user's events (on any node) are applied one after the other.
    batch = await Batch.load(
        session, index, {key: (user.external_id, None)}, [event.occurred_at, now], BUCKET_SIZES_S
    )
    state = batch.users[key]
    stats = state.stats
    await session.refresh(event)  # as committed before the lock was ours
    if event.reversed_at is not None:
        raise _twice(event_id)
    # The ledger entry first: a concurrent reverse of the same event fails here, on its key.
    reversal = EventReversal(
        event_id=event.id, user_id=user.id, reason=reason, actor=actor, reversed_at=now, effects={}
    )
    session.add(reversal)
    event.reversed_at = now
    await session.flush()

    meaning = meaning_of(event.type, event.value, event.data or {})
    deltas = {metric: -value for metric, value in meaning.deltas.items() if value}
    batch.add(state, deltas, event.occurred_at)
    moved = set(deltas)
    effects: dict[str, Any] = {
        "type": event.type,
        "occurredAt": iso(event.occurred_at),
        "metrics": deltas,
        "xp": None,
        "streak": None,
    }
    old = (stats.xp, stats.level, stats.current_streak, stats.best_streak)
    if meaning.xp:
        old_xp, old_level = stats.xp, stats.level
        gain_xp(session, engine.curve, user, stats, -meaning.xp, XP_SOURCE)
        effects["xp"] = {
            "before": old_xp,
            "after": stats.xp,
            "levelBefore": old_level,
            "levelAfter": stats.level,
        }
        moved |= {"xp", "level"}
    if meaning.streak_day:
        effects["streak"] = await _recompute_streak(session, user, stats, now)
        moved |= {"streak", "best_streak"}
    if (stats.xp, stats.level, stats.current_streak, stats.best_streak) != old:
        batch.set_stat_gauges(state)
    gained = stats.xp - old[0]
    board_deltas = {**deltas, **({"xp": float(gained)} if gained else {})}

    awarded = await engine.evaluator.evaluate(
        session, user, stats, moved, now, state=state, index=batch.rules
    )
    effects["unlocked"] = [unlocked(a) for a in awarded]
    await batch.write(session)  # quest steps and the revocation check read the database
    effects["quests"] = await engine.quests.on_reversal(
        session, user, stats, deltas, event.received_at, now
    )

    ranks: list[dict[str, Any]] = []
    if board_deltas:
        move = MetricMove(
            user,
            board_deltas,
            event.occurred_at,
            contests=frozenset(_contests_of(event.result)),
            vacates=frozenset(await _vacated(session, event, board_deltas)),
        )
        (ranks,) = await engine.tell_listeners(session, [move])
    keys = period_keys(event.occurred_at)
    effects["boards"] = [
        {"metric": metric, "period": period, "periodKey": keys[period], "delta": delta}
        for metric, delta in sorted(board_deltas.items())
        for period in PERIODS
    ]
    effects["ranks"] = [r for r in ranks if "contestId" not in r]
    effects["contests"] = [r for r in ranks if "contestId" in r]

    effects["revoked"] = await _revoke_unheld(engine, session, user, stats, state, index, moved)
    await batch.write(session)
    reversal.effects = effects
    return Reversal(event.id, now, effects)


def _contests_of(result: Any) -> set[int]:
    """The contests an event's stored answer says it counted in."""
    ranks = result.get("ranks") if isinstance(result, dict) else None
    return {
        r["contestId"]
        for r in ranks or ()
        if isinstance(r, dict) and isinstance(r.get("contestId"), int)
    }


async def _recompute_streak(
    session: AsyncSession, user: User, stats: UserStats, now: datetime
) -> dict[str, Any]:
    """The streak from the user's remaining streak days, in the order they were taken in (the
    engine's order, so its backfill rule applies as it did); tells the user's screens."""
    before: dict[str, Any] = {
        "current": stats.current_streak,
        "best": stats.best_streak,
        "lastActiveDay": stats.last_active_day,
    }
    times = await session.scalars(
        select(Event.occurred_at)
        .where(
            Event.user_id == user.id,
            Event.type.in_(ACTIVITY_TYPES),
            Event.reversed_at.is_(None),
        )
        .order_by(Event.id)
    )
    zone = user.time_zone or streaks.DEFAULT_TZ
    streak = streaks.StreakState()
    for at in times:
        streak = streaks.record_activity(streak, at, zone).state
    stats.current_streak = streak.current
    stats.best_streak = streak.best
    stats.last_active_day = streak.last_day.isoformat() if streak.last_day else None
    stats.updated_at = now
    after = {
        "current": stats.current_streak,
        "best": stats.best_streak,
        "lastActiveDay": stats.last_active_day,
    }
    if after != before:
        reset = stats.current_streak < int(before["current"])
        streak_moved(session, user, stats, reset=reset, at=now)
    return {"before": before, "after": after}


def _moves(metric: str, event_type: str, value: float | None, data: Any) -> bool:
    meaning = meaning_of(event_type, value, data if isinstance(data, dict) else {})
    return bool(meaning.xp) if metric == "xp" else bool(meaning.deltas.get(metric))


async def _vacated(
    session: AsyncSession, event: Event, deltas: dict[str, float]
) -> set[tuple[str, str]]:
    """The (metric, period) boards of the event where no other remaining event of the user
    moves the metric: their row goes if the reversal leaves it at 0."""
    vacated: set[tuple[str, str]] = set()
    keys = period_keys(event.occurred_at)
    for metric in deltas:
        types = (metric, *_TYPES_MOVING.get(metric, ()))
        held: set[Period] = set()  # periods known to keep another event of the user
        for period in ("day", "week", "month", "year", "all"):
            if period in held:
                continue
            if await _another(session, event, metric, types, period, keys[period]):
                held |= {period, *_WITHIN[period]}
            else:
                vacated.add((metric, period))
    return vacated


# The periods that hold all of a period's events: a day lies in its week, month and year, a
# month in its year. Not a chain: a week can straddle two months, or two years.
_WITHIN: dict[Period, tuple[Period, ...]] = {
    "day": ("week", "month", "year", "all"),
    "week": ("all",),
    "month": ("year", "all"),
    "year": ("all",),
    "all": (),
}


async def _another(
    session: AsyncSession,
    event: Event,
    metric: str,
    types: tuple[str, ...],
    period: Period,
    key: str,
) -> bool:
    """Whether a remaining event of the user in the period moves `metric`."""
    query = select(Event.id, Event.type, Event.value, Event.data).where(
        Event.user_id == event.user_id,
        Event.id != event.id,
        Event.reversed_at.is_(None),
        Event.type.in_(types),
    )
    start, end = period_start(period, key), period_end(period, key)
    if start is not None and end is not None:
        query = query.where(Event.occurred_at >= start, Event.occurred_at < end)
    after = 0
    while True:
        page = (
            await session.execute(query.where(Event.id > after).order_by(Event.id).limit(SCAN_PAGE))
        ).all()
        if any(_moves(metric, t, v, d) for _, t, v, d in page):
            return True
        if len(page) < SCAN_PAGE:
            return False
        after = page[-1][0]


async def _revoke_unheld(
    engine: Engine,
    session: AsyncSession,
    user: User,
    stats: UserStats,
    state: UserState,
    index: RuleIndex,
    moved: set[str],
) -> list[dict[str, Any]]:
    """Revoke the user's revocable unlocks whose rule reads a moved metric and no longer holds:
    neither now (live values: rewards' XP included) nor at any point of the remaining history
    (replayed with the engine's rules: timeframes that held once count)."""
    candidates = [
        rule
        for rule in index.for_metrics(moved)
        if rule.achievement_id in state.unlocked and rule.requirements
    ]
    if not candidates:
        return []
    revocable = set(
        (
            await session.scalars(
                select(Achievement.id).where(
                    Achievement.id.in_([r.achievement_id for r in candidates]),
                    Achievement.revocable.is_(True),
                )
            )
        ).all()
    )
    now = utcnow()
    unheld = []
    for rule in candidates:
        if rule.achievement_id not in revocable:
            continue
        values = await metrics.requirement_values(session, stats, rule.requirements, now)
        if not all_hold(rule.requirements, values):
            unheld.append(rule)
    if not unheld:
        return []
    history = await replay(
        session, ReplayRules(unheld), users=[user.id], curve=engine.curve, keep_users=False
    )
    revoked: list[dict[str, Any]] = []
    for rule in unheld:
        if history.first_held.get(rule.achievement_id):
            continue
        done = await revoke(
            session,
            engine.broadcaster,
            user,
            rule.achievement_id,
            reason="an event it counted was reversed",
        )
        if done is not None:
            state.unlocked.discard(rule.achievement_id)
            revoked.append(
                {
                    "achievementId": rule.achievement_id,
                    "name": rule.name,
                    "rewardDistributionIds": done.distribution_ids,
                }
            )
    return revoked
