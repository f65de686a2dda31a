"""Intake: one event in, every effect out, in one transaction (the pipeline's driver).

An event is stored, its metrics and time buckets move (`apply`), XP, level, tier and streak
follow (`progression`), the reactions registered for its type run (`reactions`), the rules that
read a moved metric are evaluated and those that now hold unlock, once (`evaluate`), and the
metric listeners (leaderboards, contests) hear the transaction's moves. All of it, and the room
events that tell the screens, commits together; the relay publishes after the commit. A repeated
idempotency key answers the first result.

Single events that arrive while a transaction runs are applied together in the next one (group
commit); a transaction that fails on a race is retried.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import celebrations, levels
from accolade.domain.events import meaning_of
from accolade.domain.identity import UserId, user_key
from accolade.domain.wire import iso
from accolade.pipeline.apply import Batch
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.commands import (
    Applied,
    BatchMetricListener,
    EventCommand,
    EventResult,
    MetricListener,
    MetricMove,
    Reaction,
)
from accolade.pipeline.evaluate import Evaluator, unlocked
from accolade.pipeline.progression import gain_xp, record_day
from accolade.pipeline.quests import QuestProgressor
from accolade.storage import metrics
from accolade.storage.database import Database
from accolade.storage.models import Event, User, UserMetric, UserStats, utcnow

log = logging.getLogger("accolade.engine")

# Buckets every counter is kept in: minutes (for minute and hour windows) and hours (day windows).
BUCKET_SIZES_S = (60, 3600)
# Single events waiting while a transaction runs are applied together, up to this many at once.
GROUP_COMMIT_MAX = 200
# Groups of single events in flight at once (their users disjoint).
DRAINERS = 2

Waiting = tuple[EventCommand, "asyncio.Future[EventResult]"]


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
        self.evaluator = Evaluator(broadcaster)
        self.quests = QuestProgressor(broadcaster)
        self.listeners: list[MetricListener] = []
        self._reacting: dict[str, list[Reaction]] = {}
        self._waiting: list[Waiting] = []
        self._drainers: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()  # the users of the groups in flight

    async def _milestones(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        old_xp: int,
        old_level: int,
        streak_days: int | None = None,
    ) -> list[str]:
        """Celebrate the level-ups, XP and streak milestones since (old_xp, old_level); their
        titles, as an answer lists them."""
        celebrated = await self.broadcaster.training_milestone(
            session,
            user,
            old_xp=old_xp,
            new_xp=stats.xp,
            old_level=old_level,
            new_level=stats.level,
            streak_days=streak_days,
        )
        return [payload["title"] for payload in celebrated.payloads]

    def react(self, reaction: Reaction) -> None:
        """Register a reaction to events of `reaction.types` (see `pipeline.reactions`)."""
        for event_type in reaction.types:
            self._reacting.setdefault(event_type, []).append(reaction)

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

    async def tell_listeners(
        self, session: AsyncSession, moves: list[MetricMove]
    ) -> list[list[dict[str, Any]]]:
        """Tell every metric listener `moves` in the caller's transaction (a reversal's negated
        moves, `pipeline.reverse`); each move's ranks, in order."""
        return await self._tell_listeners_many(session, moves)

    async def ingest(self, command: EventCommand) -> EventResult:
        """Apply one event; a repeated idempotency key gets the first answer and changes nothing.

        Events that arrive while a transaction is running are applied together in the next one
        (group commit): each caller still gets its own answer, after its event is committed.
        Up to DRAINERS groups are in flight at once (one is prepared while another waits on the
        database), never two holding one user, so a user's events commit in arrival order."""
        future: asyncio.Future[EventResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((command, future))
        self._start_drainer()
        return await future

    async def ingest_batch(self, commands: list[EventCommand]) -> list[EventResult]:
        """Apply events in order, all in one transaction: all stored, or none."""
        return await self._commit(commands)

    def _start_drainer(self) -> None:
        if self._waiting and len(self._drainers) < DRAINERS:
            self._drainers.add(asyncio.create_task(self._drain()))

    def _take(self) -> list[Waiting]:
        """The next group: waiting events in arrival order, up to GROUP_COMMIT_MAX, leaving
        behind every event of a user whose earlier event is in flight or left behind."""
        group: list[Waiting] = []
        left: list[Waiting] = []
        held: set[str] = set()
        for waiting in self._waiting:
            key = user_key(waiting[0].user_id)
            if len(group) < GROUP_COMMIT_MAX and key not in self._busy and key not in held:
                group.append(waiting)
            else:
                held.add(key)
                left.append(waiting)
        self._waiting = left
        return group

    async def _drain(self) -> None:
        try:
            while group := self._take():
                users = {user_key(command.user_id) for command, _ in group}
                self._busy |= users
                self._start_drainer()  # what this group left behind may go beside it
                try:
                    await self._commit_group(group)
                finally:
                    self._busy -= users
        finally:
            # Gone from the count before anything else runs: an event arriving now starts a
            # drainer of its own instead of waiting for this one, which looks no more.
            self._drainers.discard(cast("asyncio.Task[None]", asyncio.current_task()))

    async def _commit_group(self, group: list[Waiting]) -> None:
        try:
            results = await self._commit([command for command, _ in group])
        except Exception:
            if len(group) == 1:
                _settle(group[0][1], error=sys.exc_info()[1])
                return
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
            await self.evaluator.rules.current(session),
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
            await batch.mark_active(session, {row["user_id"] for row, _ in fresh}, now)
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
            "occurredAt": iso(occurred_at),
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
            body["xp"] = gain_xp(session, self.curve, user, stats, meaning.xp, command.type)
            moved |= {"xp", "level"}
        streak_days: int | None = None
        if meaning.streak_day:
            body["streak"], streak_days = record_day(session, user, stats, occurred_at)
            moved |= {"streak", "best_streak"}
        body["celebrations"] += await self._milestones(
            session, user, stats, old_xp, old_level, streak_days
        )
        if (stats.xp, stats.level, stats.current_streak, stats.best_streak) != old:
            batch.set_stat_gauges(state)
        for reaction in self._reacting.get(command.type, ()):
            await reaction.react(session, Applied(command, meaning, user, state, body, now))
        gained = (stats.xp - old_xp) if meaning.xp else 0
        deltas = {**meaning.deltas, **({"xp": float(gained)} if gained else {})}
        for awarded in await self.evaluator.evaluate(
            session, user, stats, moved, occurred_at, state=state, index=batch.rules
        ):
            body["unlocked"].append(unlocked(awarded))
            body["celebrations"].append(celebrations.badge_title(awarded.name))
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

    # --- progress from outside an event (claimed rewards) ----------------------------------------

    async def grant_xp(
        self, session: AsyncSession, user: User, stats: UserStats, amount: int, source: str
    ) -> dict[str, Any]:
        """Add `amount` XP as an `xp` event would: level and tier follow, level-ups and XP
        milestones are celebrated, and achievements and quest steps reading `xp` or `level` are
        checked. The caller holds the user's stats lock (`metrics.lock_stats`). Returns the
        effects `{xp, celebrations, unlocked, quests}`, shaped like an event's answer."""
        old_xp, old_level = stats.xp, stats.level
        xp = gain_xp(session, self.curve, user, stats, amount, source)
        milestones = await self._milestones(session, user, stats, old_xp, old_level)
        await metrics.set_gauges(session, user.id, {"xp": stats.xp, "level": stats.level})
        ranks = await self._tell_listeners(
            session, user, {"xp": float(stats.xp - old_xp)} if stats.xp != old_xp else {}, utcnow()
        )
        effects = await self._follow_up(session, user, stats, {"xp", "level"})
        effects["ranks"] = ranks
        effects["celebrations"] = milestones + effects["celebrations"]
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
        unlocks = await self.evaluator.evaluate(session, user, stats, moved, at)
        quests = await self.quests.on_event(session, user, stats, moved, at)
        return {
            "celebrations": [celebrations.badge_title(awarded.name) for awarded in unlocks],
            "unlocked": [unlocked(awarded) for awarded in unlocks],
            "quests": quests,
        }

    # --- rules -----------------------------------------------------------------------------------

    async def backfill(self, achievement_id: int) -> int:
        """Unlock a new or changed achievement for every user who already qualifies, quietly
        (their own screens and notifications, not the TV display); returns how many."""
        async with self.database.transaction() as session:
            index = await self.evaluator.rules.current(session)
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
                awarded = await self.evaluator.evaluate(
                    session, user, stats, set(), utcnow(), quiet=True, only={achievement_id}
                )
                unlocked += len(awarded)
        if unlocked:
            log.info(
                "backfill of achievement %s unlocked it for %d users", achievement_id, unlocked
            )
        return unlocked
