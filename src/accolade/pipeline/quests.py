"""Quests in the engine (seed 002): each user's run through a quest's ordered steps, completed by
the events that move the metrics the steps read, and the views of a run.

A step completes by hand (`services.quests`) or by itself once its requirements hold (checked when
an event moves a metric they read, when the quest starts and after any step completes). Each
step's rewards are given once per user, even across restarts; the quest's rewards and its
celebration come when all required steps are complete. Every change to a run takes the user's
stats lock first, so an event and a hand-made completion never interleave. The rules themselves
(ordering, deadlines, what counts) are in `accolade.domain.quests`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import notices, rooms
from accolade.domain import quests as rules
from accolade.domain.achievements import Requirement
from accolade.domain.celebrations import quest_complete
from accolade.domain.identity import UserId
from accolade.domain.quests import QuestStatus, Step
from accolade.domain.requirements import all_hold, value_key
from accolade.domain.wire import iso
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.rules import requirement_of
from accolade.storage import metrics
from accolade.storage import quests as repo
from accolade.storage import rewards as rewards_repo
from accolade.storage.models import (
    Quest,
    QuestProgress,
    User,
    UserStats,
    utcnow,
)
from accolade.storage.outbox import add_room_event

QUEST_SOURCE = "QUEST"
STEP_SOURCE = "QUEST_STEP"
HISTORY_LIMIT = 200  # entries kept per user and quest (restarts add up)


def steps_of(quest: Quest) -> list[Step]:
    """The quest's steps as stored (already in order), as domain steps."""
    return [
        Step(
            id=str(raw["id"]),
            title=str(raw.get("title") or ""),
            order=int(raw.get("order", position)),
            optional=bool(raw.get("isOptional", False)),
            requirements=tuple(requirement_of(r) for r in raw.get("requirements") or ()),
            rewards=tuple(raw.get("rewards") or ()),
        )
        for position, raw in enumerate(quest.steps, start=1)
    ]


def run_deadline(quest: Quest, row: QuestProgress) -> datetime | None:
    """When `row`'s run expires: from the quest's current time limit and end date while it is
    IN_PROGRESS (a changed quest moves running deadlines), as recorded once it has ended."""
    if row.status != QuestStatus.IN_PROGRESS.value or row.started_at is None:
        return row.expires_at
    return rules.deadline(row.started_at, quest.time_limit_s, quest.end_date)


def step_source_id(quest_id: int, step_id: str) -> str:
    """`RewardDistribution.source_id` of a step's rewards: `{questId}:{stepId}`."""
    return f"{quest_id}:{step_id}"


@dataclass(frozen=True, slots=True)
class ProgressView:
    """A user's run through a quest as the API answers it (NOT_STARTED before any start)."""

    quest_id: int
    user_id: UserId
    status: QuestStatus
    current_step: int
    current_step_id: str | None
    completed_steps: list[str]
    step_progress: dict[str, float]
    progress: float
    started_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(
        cls, quest: Quest, row: QuestProgress | None, user_id: UserId, now: datetime
    ) -> ProgressView:
        steps = steps_of(quest)
        done = list(row.completed_steps) if row is not None else []
        first_open = rules.next_required(steps, done)
        expires_at = run_deadline(quest, row) if row is not None else None
        return cls(
            quest_id=quest.id,
            user_id=user_id,
            status=(
                QuestStatus.NOT_STARTED
                if row is None
                else rules.effective_status(QuestStatus(row.status), expires_at, now)
            ),
            current_step=rules.current_step(steps, done),
            current_step_id=first_open.id if first_open is not None else None,
            completed_steps=done,
            step_progress=dict(row.step_progress) if row is not None else {},
            progress=rules.fraction_done(steps, done),
            started_at=row.started_at if row is not None else None,
            completed_at=row.completed_at if row is not None else None,
            expires_at=expires_at,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "questId": self.quest_id,
            "userId": self.user_id,
            "status": self.status.value,
            "currentStep": self.current_step,
            "currentStepId": self.current_step_id,
            "completedSteps": self.completed_steps,
            "stepProgress": self.step_progress,
            "progress": self.progress,
            "startedAt": iso(self.started_at),
            "completedAt": iso(self.completed_at),
            "expiresAt": iso(self.expires_at),
        }


def record(row: QuestProgress, at: datetime, event: str, **fields: Any) -> None:
    entry = {"at": iso(at), "event": event, **fields}
    row.history = [*row.history, entry][-HISTORY_LIMIT:]


def unmet(requirements: Sequence[Requirement], values: dict[str, float]) -> list[dict[str, Any]]:
    """Each requirement with the value it was checked against, for a 409's details."""
    return [
        {
            "metric": q.metric,
            "operator": q.operator.value,
            "threshold": q.threshold,
            "current": values.get(value_key(q), values.get(q.metric, 0.0)),
        }
        for q in requirements
    ]


class QuestProgressor:
    """Moves runs forward inside the caller's transaction (the engine's, or the service's)."""

    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster

    async def on_event(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        moved: set[str],
        at: datetime,
    ) -> list[dict[str, Any]]:
        """For an event that moved `moved`: advance the user's runs with an open step reading one
        of them. Returns, per run touched, what happened (for the event's answer)."""
        if not moved:
            return []
        rows = await repo.progress_rows(session, user.id, status=QuestStatus.IN_PROGRESS.value)
        if not rows:
            return []
        quests = await repo.get_many(session, (row.quest_id for row in rows))
        now = utcnow()
        touched: list[dict[str, Any]] = []
        for row in rows:
            quest = quests[row.quest_id]
            if not quest.is_active:
                continue  # a deactivated quest is frozen
            steps = steps_of(quest)
            open_steps = [s for s in steps if s.id not in row.completed_steps]
            if not any(q.metric in moved for s in open_steps for q in s.requirements):
                continue
            if await self.expire_if_due(session, user, quest, row, now):
                completed: list[str] = []
            else:
                completed = await self.settle(session, user, stats, quest, row, at, now)
                self.tell(session, user, quest, row, now)
            touched.append(
                {
                    "questId": quest.id,
                    "title": quest.title,
                    "status": row.status,
                    "stepsCompleted": completed,
                    "stepProgress": dict(row.step_progress),
                }
            )
        return touched

    async def on_reversal(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        deltas: dict[str, float],
        received_at: datetime,
        at: datetime,
    ) -> list[dict[str, Any]]:
        """A reversed event's negative `deltas` (already applied to the totals): a run started
        after the event was taken in counted it in its baseline, so its baseline goes down by
        as much (its progress is unchanged); then runs move as for any event, so in-progress
        steps go down. Completed steps and completed quests are kept (what was paid out stays
        paid; `pipeline.reverse` documents it)."""
        moved = {metric for metric, delta in deltas.items() if delta}
        if not moved:
            return []
        rows = await repo.progress_rows(session, user.id, status=QuestStatus.IN_PROGRESS.value)
        for row in rows:
            if row.started_at is None or row.started_at < received_at:
                continue
            if any(metric in row.baseline for metric in moved):
                row.baseline = {
                    metric: value + deltas.get(metric, 0.0)
                    for metric, value in row.baseline.items()
                }
        return await self.on_event(session, user, stats, moved, at)

    async def expire_if_due(
        self, session: AsyncSession, user: User, quest: Quest, row: QuestProgress, now: datetime
    ) -> bool:
        """Mark a run past its deadline EXPIRED (True), or leave it as it is (False)."""
        expires_at = run_deadline(quest, row)
        status = rules.effective_status(QuestStatus(row.status), expires_at, now)
        if status is not QuestStatus.EXPIRED or row.status == status.value:
            return False
        row.status = status.value
        row.expires_at = expires_at
        row.updated_at = now
        record(row, expires_at or now, "expired")
        self.tell(session, user, quest, row, now)
        return True

    async def start(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        quest: Quest,
        row: QuestProgress | None,
        now: datetime,
    ) -> QuestProgress:
        """A fresh run from `now` (a new row, or the old one reset); steps whose requirements
        already hold complete at once."""
        steps = steps_of(quest)
        counted = rules.counted_metrics(q for s in steps for q in s.requirements)
        baseline = await metrics.totals(session, user.id, counted)
        if row is None:
            row = QuestProgress(user_id=user.id, quest_id=quest.id, history=[], created_at=now)
            session.add(row)
        row.status = QuestStatus.IN_PROGRESS.value
        row.current_step = rules.current_step(steps, [])
        row.completed_steps = []
        row.step_progress = {step.id: 0.0 for step in steps}
        row.baseline = {metric: baseline.get(metric, 0.0) for metric in sorted(counted)}
        row.started_at = now
        row.completed_at = None
        row.expires_at = rules.deadline(now, quest.time_limit_s, quest.end_date)
        row.updated_at = now
        record(row, now, "started")
        await session.flush()
        await self.settle(session, user, stats, quest, row, now, now)
        self.tell(session, user, quest, row, now)
        return row

    async def complete_by_hand(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        quest: Quest,
        row: QuestProgress,
        step: Step,
        now: datetime,
    ) -> None:
        await self._finish_step(session, user, quest, row, step, now, by="request")
        await self.settle(session, user, stats, quest, row, now, now)
        self.tell(session, user, quest, row, now)

    async def values_for(
        self,
        session: AsyncSession,
        stats: UserStats,
        row: QuestProgress,
        requirements: Sequence[Requirement],
        at: datetime,
    ) -> dict[str, float]:
        """Values for step requirements: counters since the run started, gauges and windows."""
        values = await metrics.requirement_values(session, stats, requirements, at)
        return rules.since_start(values, row.baseline, rules.counted_metrics(requirements))

    async def settle(
        self,
        session: AsyncSession,
        user: User,
        stats: UserStats,
        quest: Quest,
        row: QuestProgress,
        at: datetime,
        now: datetime,
    ) -> list[str]:
        """Complete, in order, every open step whose requirements hold (a required one only once
        the required steps before it are complete), refresh the progress bars, and complete the
        quest when all required steps are. Returns the ids of the steps completed here."""
        steps = steps_of(quest)
        completed: list[str] = []
        measured = [s for s in steps if s.id not in row.completed_steps and s.requirements]
        if measured:
            requirements = [q for s in measured for q in s.requirements]
            values = await self.values_for(session, stats, row, requirements, at)
            row.step_progress = {
                **row.step_progress,
                **{s.id: round(rules.step_fraction(s, values), 4) for s in measured},
            }
            # Completing a required step can unblock the next one: go round until nothing moves.
            moved = True
            while moved:
                moved = False
                for step in measured:
                    if step.id in row.completed_steps:
                        continue
                    if rules.blocking_step(steps, row.completed_steps, step) is not None:
                        continue
                    if all_hold(step.requirements, values):
                        await self._finish_step(
                            session, user, quest, row, step, now, by="requirements"
                        )
                        completed.append(step.id)
                        moved = True
        row.current_step = rules.current_step(steps, row.completed_steps)
        if rules.all_required_done(steps, row.completed_steps):
            await self._finish_quest(session, user, quest, row, now)
        return completed

    async def _finish_step(
        self,
        session: AsyncSession,
        user: User,
        quest: Quest,
        row: QuestProgress,
        step: Step,
        now: datetime,
        *,
        by: str,
    ) -> None:
        row.completed_steps = [*row.completed_steps, step.id]
        row.step_progress = {**row.step_progress, step.id: 1.0}
        row.updated_at = now
        distribution_ids: list[int] = []
        source_id = step_source_id(quest.id, step.id)
        # Once per user and step: a restarted quest does not pay its steps out again.
        if step.rewards and not await repo.was_rewarded(session, user.id, STEP_SOURCE, source_id):
            distribution_ids = await rewards_repo.distribute(
                session, user.id, step.rewards, STEP_SOURCE, source_id, now
            )
        record(
            row,
            now,
            "step_completed",
            stepId=step.id,
            by=by,
            rewardDistributionIds=distribution_ids,
        )

    async def _finish_quest(
        self, session: AsyncSession, user: User, quest: Quest, row: QuestProgress, now: datetime
    ) -> None:
        if row.status != QuestStatus.IN_PROGRESS.value:
            return
        row.status = QuestStatus.COMPLETED.value
        row.completed_at = now
        row.updated_at = now
        distribution_ids = await rewards_repo.distribute(
            session, user.id, quest.rewards, QUEST_SOURCE, str(quest.id), now
        )
        record(row, now, "completed", rewardDistributionIds=distribution_ids)
        await self.broadcaster.celebrate(
            session,
            user,
            quest_complete(
                user.external_id,
                user.user_name or str(user.external_id),
                quest.id,
                quest.title,
                quest.description,
                quest_type=quest.type,
                difficulty=quest.difficulty,
            ),
        )

    def tell(
        self, session: AsyncSession, user: User, quest: Quest, row: QuestProgress, now: datetime
    ) -> None:
        """Queue `quest:progress` for the user's screens (`/game-events` carries it)."""
        add_room_event(
            session,
            rooms.user(user.external_id),
            notices.QUEST_PROGRESS,
            {
                **ProgressView.of(quest, row, user.external_id, now).as_json(),
                "title": quest.title,
                "timestamp": iso(now),
            },
        )
