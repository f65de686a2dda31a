"""The engine: one event in, every effect out, in one transaction.

An event is stored, its metrics and time buckets move, XP, level, tier and streak follow, the
rules that read a moved metric are evaluated and those that now hold unlock (once), with their
rewards and celebrations. All of it, and the room events that tell the screens, commits together;
the relay publishes after the commit. A repeated idempotency key answers the first result.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import levels, streaks
from accolade.domain.events import GAUGES, meaning_of
from accolade.domain.identity import UserId, user_key
from accolade.domain.requirements import all_hold, bucket_size_for, progress, value_key
from accolade.services import rules as rules_module
from accolade.services.achievements import Awarded, award
from accolade.services.batch import Batch, UserState
from accolade.services.broadcaster import Broadcaster, user_room
from accolade.services.contests import announce_problem_solved
from accolade.services.quests import QuestProgressor
from accolade.storage import achievements as achievements_repo
from accolade.storage import metrics
from accolade.storage.database import Database
from accolade.storage.models import Event, User, UserAchievement, UserMetric, UserStats, utcnow
from accolade.storage.outbox import add_room_event

log = logging.getLogger("accolade.engine")

# Buckets every counter is kept in: minutes (for minute and hour windows) and hours (day windows).
BUCKET_SIZES_S = (60, 3600)
QUIZ_MASTERY_KEY = "quiz-mastery"
# Single events waiting while a transaction runs are applied together, up to this many at once.
GROUP_COMMIT_MAX = 200


class MetricListener(Protocol):
    """Told, inside the event's transaction and under the user's stats lock, how much each
    metric of a user moved (XP gained included, as `xp`), once every event of the transaction
    is applied, in event order. Leaderboards and contests listen here;
    what they return (rank changes, contest standings) is added to the event's `ranks`. Within a
    batch, `user_metrics` rows are written at the end: a listener keeps its own rows, from the
    deltas it is told, and never reads the users' totals from the database."""

    async def metrics_moved(
        self,
        session: AsyncSession,
        user: User,
        deltas: dict[str, float],
        occurred_at: datetime,
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class MetricMove:
    """How much each metric of `user` moved with one event."""

    user: User
    deltas: dict[str, float]
    occurred_at: datetime


@runtime_checkable
class BatchMetricListener(Protocol):
    """A listener that takes a whole transaction's moves at once (set-wise, in a few statements)
    instead of one call per event; returns each move's `ranks`, in order."""

    async def metrics_moved_many(
        self, session: AsyncSession, moves: list[MetricMove]
    ) -> list[list[dict[str, Any]]]: ...


@dataclass(frozen=True, slots=True)
class EventCommand:
    user_id: UserId
    type: str
    value: float | None = None
    user_name: str | None = None
    occurred_at: datetime | None = None
    idempotency_key: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EventResult:
    body: dict[str, Any]
    replayed: bool


def _unlocked(awarded: Awarded) -> dict[str, Any]:
    return {
        "achievementId": awarded.achievement_id,
        "name": awarded.name,
        "rewardDistributionIds": awarded.distribution_ids,
    }


def _settle(
    future: asyncio.Future[EventResult],
    results: list[EventResult] | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return  # the caller went away (a cancelled request)
    if error is not None:
        future.set_exception(error)
    else:
        assert results is not None
        future.set_result(results[0])


def _retryable(exc: DBAPIError) -> bool:
    """A unique-key race (the retry finds the other row) or a deadlock PostgreSQL broke."""
    if isinstance(exc, IntegrityError):
        return True
    return "deadlock" in str(exc.orig).lower()


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Engine:
    def __init__(
        self,
        database: Database,
        broadcaster: Broadcaster,
        *,
        curve: levels.LevelCurve = levels.DEFAULT_CURVE,
    ) -> None:
        self.database = database
        self.broadcaster = broadcaster
        self.curve = curve
        self.rules = rules_module.Rules()
        self.quests = QuestProgressor(broadcaster)
        self.listeners: list[MetricListener] = []
        self._waiting: list[tuple[EventCommand, asyncio.Future[EventResult]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def _tell_listeners(
        self, session: AsyncSession, user: User, deltas: dict[str, float], at: datetime
    ) -> list[dict[str, Any]]:
        ranks: list[dict[str, Any]] = []
        if not deltas:
            return ranks
        for listener in self.listeners:
            ranks.extend(await listener.metrics_moved(session, user, deltas, at))
        return ranks

    async def _tell_listeners_many(
        self, session: AsyncSession, moves: list[MetricMove]
    ) -> list[list[dict[str, Any]]]:
        """Every listener hears a transaction's moves after its events are applied, in order."""
        ranks: list[list[dict[str, Any]]] = [[] for _ in moves]
        if not moves:
            return ranks
        for listener in self.listeners:
            if isinstance(listener, BatchMetricListener):
                heard = await listener.metrics_moved_many(session, moves)
            else:
                heard = [
                    await listener.metrics_moved(session, m.user, m.deltas, m.occurred_at)
                    for m in moves
                ]
            for found, more in zip(ranks, heard, strict=True):
                found.extend(more)
        return ranks

    async def ingest(self, command: EventCommand) -> EventResult:
        """Apply one event; a repeated idempotency key gets the first answer and changes nothing.

        Events that arrive while a transaction is running are applied together in the next one
        (group commit): each caller still gets its own answer, after its event is committed."""
        future: asyncio.Future[EventResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((command, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def ingest_batch(self, commands: list[EventCommand]) -> list[EventResult]:
        """Apply events in order, all in one transaction: all stored, or none."""
        return await self._commit(commands)

    async def _drain(self) -> None:
        while self._waiting:
            group = self._waiting[:GROUP_COMMIT_MAX]
            del self._waiting[:GROUP_COMMIT_MAX]
            try:
                results = await self._commit([command for command, _ in group])
            except Exception:
                if len(group) == 1:
                    _settle(group[0][1], error=sys.exc_info()[1])
                    continue
                # One event spoiled the group (a bad value, a race): each gets its own try.
                for command, future in group:
                    try:
                        _settle(future, await self._commit([command]))
                    except Exception as exc:
                        _settle(future, error=exc)
            else:
                for (_, future), result in zip(group, results, strict=True):
                    _settle(future, [result])

    async def _commit(self, commands: list[EventCommand]) -> list[EventResult]:
        for attempt in range(3):
            try:
                async with self.database.transaction() as session:
                    return await self._apply(session, commands)
            except DBAPIError as exc:
                # Another node took the same idempotency key or made the same user first (the
                # retry finds its row), or PostgreSQL broke a deadlock: try again.
                if attempt == 2 or not _retryable(exc):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    # --- events ----------------------------------------------------------------------------------

    async def _apply(
        self, session: AsyncSession, commands: list[EventCommand]
    ) -> list[EventResult]:
        now = utcnow()
        wanted: dict[str, tuple[UserId, str | None]] = {}
        for command in commands:
            key = user_key(command.user_id)
            previous = wanted.get(key)
            name = command.user_name or (previous[1] if previous else None)
            wanted[key] = (previous[0] if previous else command.user_id, name)
        batch = await Batch.load(
            session,
            await self.rules.current(session),
            wanted,
            [command.occurred_at or now for command in commands],
            BUCKET_SIZES_S,
        )
        # Looked up under the users' locks: a concurrent twin for these users has committed now.
        keys = [c.idempotency_key for c in commands if c.idempotency_key is not None]
        answered: dict[str, EventResult] = {}
        if keys:
            rows = await session.execute(
                select(Event.idempotency_key, Event.id, Event.result).where(
                    Event.idempotency_key.in_(keys)
                )
            )
            for stored_key, event_id, stored in rows.all():
                answered[stored_key] = EventResult({"eventId": event_id, **stored}, replayed=True)
        results: list[EventResult] = []
        fresh: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (event row, answer)
        moves: list[tuple[dict[str, Any], MetricMove]] = []  # (answer, what it moved)
        for command in commands:
            idempotency_key = command.idempotency_key
            if idempotency_key is not None and idempotency_key in answered:
                first = answered[idempotency_key]
                results.append(first if first.replayed else EventResult(first.body, True))
                continue
            row, body, move = await self._ingest(session, batch, command, now)
            if move is not None:
                moves.append((body, move))
            result = EventResult(body, replayed=False)
            results.append(result)
            fresh.append((row, body))
            if idempotency_key is not None:
                answered[idempotency_key] = result
        heard = await self._tell_listeners_many(session, [move for _, move in moves])
        for (body, _), ranks in zip(moves, heard, strict=True):
            body["ranks"] = ranks
        await batch.write(session)
        if fresh:
            for row, body in fresh:
                row["result"] = {k: v for k, v in body.items() if k != "eventId"}
            connection = await session.connection()
            inserted = await connection.execute(
                insert(Event).returning(Event.id, sort_by_parameter_order=True),
                [row for row, _ in fresh],
            )
            for (_, body), event_id in zip(fresh, inserted.scalars().all(), strict=True):
                body["eventId"] = event_id
        return results

    async def _ingest(
        self, session: AsyncSession, batch: Batch, command: EventCommand, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any], MetricMove | None]:
        """One event's effects; returns its row and its answer (both completed by the caller)
        and what it moved (for the listeners, told by the caller once every event is applied)."""
        state = batch.state(command.user_id)
        user, stats = state.user, state.stats
        occurred_at = command.occurred_at or now
        data = command.data or {}
        meaning = meaning_of(command.type, command.value, data)
        batch.add(state, meaning.deltas, occurred_at)
        moved = set(meaning.deltas)
        body: dict[str, Any] = {
            "eventId": None,  # known once the event's row is written
            "userId": user.external_id,
            "type": command.type,
            "occurredAt": _iso(occurred_at),
            "metrics": meaning.deltas,
            "xp": None,
            "streak": None,
            "unlocked": [],
            "celebrations": [],
            "ranks": [],
        }
        old = (stats.xp, stats.level, stats.current_streak, stats.best_streak)
        old_xp, old_level = stats.xp, stats.level
        if meaning.xp:
            body["xp"] = await self._gain_xp(session, user, stats, meaning.xp, command.type)
            moved |= {"xp", "level"}
        streak_days: int | None = None
        if meaning.streak_day:
            body["streak"], streak_days = await self._record_day(session, user, stats, occurred_at)
            moved |= {"streak", "best_streak"}
        celebrated = await self.broadcaster.training_milestone(
            session,
            user,
            old_xp=old_xp,
            new_xp=stats.xp,
            old_level=old_level,
            new_level=stats.level,
            streak_days=streak_days,
        )
        body["celebrations"].extend(p["title"] for p in celebrated.payloads)
        if (stats.xp, stats.level, stats.current_streak, stats.best_streak) != old:
            batch.set_gauges(
                state,
                {
                    "xp": stats.xp,
                    "level": stats.level,
                    "streak": stats.current_streak,
                    "best_streak": stats.best_streak,
                },
            )
        if command.type == "quiz.completed":
            add_room_event(
                session,
                user_room(user.external_id),
                "quiz:completed",
                {
                    "userId": user.external_id,
                    "quizId": data.get("quizId"),
                    "score": data.get("score"),
                    "maxScore": data.get("maxScore"),
                    "xp": meaning.xp,
                    "perfect": meaning.perfect_quiz,
                    "timestamp": _iso(now),
                },
            )
        if command.type == "problem.solved":
            announce_problem_solved(session, user, data, meaning.xp, now)
        if meaning.perfect_quiz:
            await self._quiz_mastery(session, user, body, state)
        gained = (stats.xp - old_xp) if meaning.xp else 0
        deltas = {**meaning.deltas, **({"xp": float(gained)} if gained else {})}
        for awarded in await self.evaluate(
            session, user, stats, moved, occurred_at, state=state, index=batch.rules
        ):
            body["unlocked"].append(_unlocked(awarded))
            body["celebrations"].append(f"🏅 {awarded.name} Badge Earned!")
        body["quests"] = []
        if state.in_quests and moved:
            await batch.write(session)  # quest steps read metrics from the database
            body["quests"] = await self.quests.on_event(session, user, stats, moved, occurred_at)
        row = {
            "user_id": user.id,
            "type": command.type,
            "value": command.value,
            "occurred_at": occurred_at,
            "received_at": now,
            "idempotency_key": command.idempotency_key,
            "data": data,
        }
        return row, body, (MetricMove(user, deltas, occurred_at) if deltas else None)

    async def _gain_xp(
        self, session: AsyncSession, user: User, stats: UserStats, amount: int, source: str
    ) -> dict[str, Any]:
        old_level = stats.level
        old_tier = levels.tier_for_level(old_level)
        stats.xp = max(0, stats.xp + amount)
        stats.level = self.curve.level_for_xp(stats.xp)
        stats.updated_at = utcnow()
        tier = levels.tier_for_level(stats.level)
        name = user.user_name or str(user.external_id)
        room = user_room(user.external_id)
        now = _iso(utcnow())
        add_room_event(
            session,
            room,
            "xp:gained",
            {
                "userId": user.external_id,
                "userName": name,
                "amount": amount,
                "source": source,
                "newTotal": stats.xp,
                "level": stats.level,
                "timestamp": now,
            },
        )
        if stats.level > old_level:
            level_up = {
                "userId": user.external_id,
                "userName": name,
                "previousLevel": old_level,
                "newLevel": stats.level,
                "totalXP": stats.xp,
                "timestamp": now,
            }
            add_room_event(session, room, "level:up", level_up)
            add_room_event(session, room, "player:level-up", level_up)
        if tier > old_tier:
            add_room_event(
                session,
                room,
                "player:tier-upgrade",
                {
                    "userId": user.external_id,
                    "userName": name,
                    "previousTier": old_tier.label,
                    "newTier": tier.label,
                    "level": stats.level,
                    "timestamp": now,
                },
            )
        return {
            "gained": amount,
            "total": stats.xp,
            "level": stats.level,
            "previousLevel": old_level,
            "tier": tier.label,
        }

    async def _record_day(
        self, session: AsyncSession, user: User, stats: UserStats, at: datetime
    ) -> tuple[dict[str, Any], int | None]:
        state = streaks.StreakState(
            stats.current_streak,
            stats.best_streak,
            datetime.fromisoformat(stats.last_active_day).date() if stats.last_active_day else None,
        )
        update = streaks.record_activity(state, at, user.time_zone or "UTC")
        stats.current_streak = update.state.current
        stats.best_streak = update.state.best
        stats.last_active_day = update.state.last_day.isoformat() if update.state.last_day else None
        summary = {
            "current": stats.current_streak,
            "best": stats.best_streak,
            "lastActiveDay": stats.last_active_day,
            "reset": update.reset,
        }
        if update.changed:
            add_room_event(
                session,
                user_room(user.external_id),
                "streak:update",
                {
                    "userId": user.external_id,
                    "userName": user.user_name or str(user.external_id),
                    "currentStreak": stats.current_streak,
                    "bestStreak": stats.best_streak,
                    "reset": update.reset,
                    "timestamp": _iso(utcnow()),
                },
            )
        return summary, update.milestone

    async def _quiz_mastery(
        self, session: AsyncSession, user: User, body: dict[str, Any], state: UserState
    ) -> None:
        """Seed 000: a perfect quiz earns the Quiz Mastery badge, once. The achievement is made
        on first need (key `quiz-mastery`), so a host can rename it, give it rewards or list it."""
        achievement = await achievements_repo.ensure_by_key(
            session,
            QUIZ_MASTERY_KEY,
            name="Quiz Mastery",
            description="Scored 100% on a quiz",
            type="SKILL",
            icon="🧠",
            rarity="rare",
            requirements=[],
            rewards=[],
            meta={},
        )
        rule = rules_module.rule_of(achievement)
        _, awarded = await award(session, self.broadcaster, user, rule)
        if awarded is not None:
            state.unlocked.add(awarded.achievement_id)
            body["unlocked"].append(_unlocked(awarded))
            body["celebrations"].append(f"🏅 {awarded.name} Badge Earned!")

    # --- progress from outside an event (claimed rewards) ----------------------------------------

    async def grant_xp(
        self, session: AsyncSession, user: User, stats: UserStats, amount: int, source: str
    ) -> dict[str, Any]:
        """Add `amount` XP as an `xp` event would: level and tier follow, level-ups and XP
        milestones are celebrated, and achievements and quest steps reading `xp` or `level` are
        checked. The caller holds the user's stats lock (`metrics.lock_stats`). Returns the
        effects `{xp, celebrations, unlocked, quests}`, shaped like an event's answer."""
        old_xp, old_level = stats.xp, stats.level
        xp = await self._gain_xp(session, user, stats, amount, source)
        celebrated = await self.broadcaster.training_milestone(
            session,
            user,
            old_xp=old_xp,
            new_xp=stats.xp,
            old_level=old_level,
            new_level=stats.level,
        )
        await metrics.set_gauges(session, user.id, {"xp": stats.xp, "level": stats.level})
        ranks = await self._tell_listeners(
            session, user, {"xp": float(stats.xp - old_xp)} if stats.xp != old_xp else {}, utcnow()
        )
        effects = await self._follow_up(session, user, stats, {"xp", "level"})
        effects["ranks"] = ranks
        effects["celebrations"] = [p["title"] for p in celebrated.payloads] + effects[
            "celebrations"
        ]
        return {"xp": xp, **effects}

    async def add_to_metrics(
        self, session: AsyncSession, user: User, stats: UserStats, deltas: dict[str, float]
    ) -> dict[str, Any]:
        """Add `deltas` to the user's metrics now, as a custom-metric event would, and check the
        achievements and quest steps reading them. The caller holds the user's stats lock.
        Returns the effects `{celebrations, unlocked, quests}`."""
        now = utcnow()
        await metrics.add(session, user.id, deltas, now, BUCKET_SIZES_S)
        ranks = await self._tell_listeners(session, user, dict(deltas), now)
        return {**await self._follow_up(session, user, stats, set(deltas), now), "ranks": ranks}

    async def _follow_up(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        moved: set[str],
        at: datetime | None = None,
    ) -> dict[str, Any]:
        at = at or utcnow()
        unlocked = await self.evaluate(session, user, stats, moved, at)
        quests = await self.quests.on_event(session, user, stats, moved, at)
        return {
            "celebrations": [f"🏅 {awarded.name} Badge Earned!" for awarded in unlocked],
            "unlocked": [_unlocked(awarded) for awarded in unlocked],
            "quests": quests,
        }

    # --- rules -----------------------------------------------------------------------------------

    async def backfill(self, achievement_id: int) -> int:
        """Unlock a new or changed achievement for every user who already qualifies, quietly
        (their own screens and notifications, not the TV display); returns how many."""
        async with self.database.transaction() as session:
            index = await self.rules.current(session)
            rule = index.rules.get(achievement_id)
            if rule is None:
                return 0
            metric_names = {requirement.metric for requirement in rule.requirements}
            user_ids = (
                await session.scalars(
                    select(UserMetric.user_id)
                    .where(UserMetric.metric.in_(metric_names))
                    .distinct()
                    .order_by(UserMetric.user_id)
                )
            ).all()
        unlocked = 0
        for user_id in user_ids:
            async with self.database.transaction() as session:
                user = await session.get(User, user_id)
                if user is None:
                    continue
                stats = await metrics.lock_stats(session, user)
                awarded = await self.evaluate(
                    session, user, stats, set(), utcnow(), quiet=True, only={achievement_id}
                )
                unlocked += len(awarded)
        if unlocked:
            log.info(
                "backfill of achievement %s unlocked it for %d users", achievement_id, unlocked
            )
        return unlocked

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
        candidates = (
            index.for_metrics(moved)
            if only is None
            else [index.rules[i] for i in sorted(only) if i in index.rules]
        )
        if not candidates:
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
        if not open_rules:
            return []
        untimed = {q.metric for r in open_rules for q in r.requirements if q.timeframe is None}
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
        awarded: list[Awarded] = []
        bars: list[dict[str, Any]] = []
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
                _, result = await award(session, self.broadcaster, user, rule, quiet=quiet)
                if result is not None:
                    awarded.append(result)
                    if state is not None:
                        state.unlocked.add(result.achievement_id)
            elif not rule.secret:
                first = rule.requirements[0]
                bar = progress(first, values.get(value_key(first), values.get(first.metric, 0.0)))
                bars.append(
                    {
                        "achievementId": rule.achievement_id,
                        "name": rule.name,
                        "current": bar.current,
                        "target": bar.target,
                    }
                )
        if bars and not quiet:
            # One message for every bar this event moved (progress bars update together).
            add_room_event(
                session,
                user_room(user.external_id),
                "progress:update",
                {"userId": user.external_id, "achievements": bars, "timestamp": _iso(utcnow())},
            )
        return awarded
