"""Quests (seed 002): definitions, and what a user does by hand (start, complete a step, abandon).
A run's progress through the engine's events is `pipeline.quests`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import quests as rules
from accolade.domain.errors import Conflict, NotFound
from accolade.domain.identity import UserId
from accolade.domain.quests import QuestStatus
from accolade.domain.requirements import all_hold
from accolade.domain.wire import iso
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.quests import (
    ProgressView,
    QuestProgressor,
    record,
    steps_of,
    unmet,
)
from accolade.pipeline.rules import requirement_of
from accolade.storage import audit, metrics
from accolade.storage import quests as repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import (
    Quest,
    utcnow,
)


def shown(quest: Quest) -> dict[str, Any]:
    """The quest as `/api/quests` shows it (the audit log's before and after)."""
    return {
        "id": quest.id,
        "title": quest.title,
        "description": quest.description,
        "type": quest.type,
        "difficulty": quest.difficulty,
        "steps": quest.steps,
        "rewards": quest.rewards,
        "requirements": quest.requirements,
        "timeLimit": quest.time_limit_s,
        "startDate": iso(quest.start_date),
        "endDate": iso(quest.end_date),
        "isActive": quest.is_active,
        "metadata": quest.meta,
        "createdAt": iso(quest.created_at),
        "updatedAt": iso(quest.updated_at),
    }


class QuestService:
    def __init__(self, database: Database, broadcaster: Broadcaster) -> None:
        self.database = database
        self.progressor = QuestProgressor(broadcaster)

    # --- definitions ---------------------------------------------------------------------------

    async def create(self, fields: dict[str, Any]) -> Quest:
        """A new quest. `fields` use the model's attribute names; steps come in order, with ids."""
        async with self.database.transaction() as session:
            quest = await repo.add(session, Quest(**fields))
            await audit.record(session, "quest.create", f"quest:{quest.id}", after=shown(quest))
            return quest

    async def get(self, quest_id: int) -> Quest:
        async with self.database.transaction() as session:
            return await self._quest(session, quest_id)

    async def list_all(self) -> list[Quest]:
        async with self.database.transaction() as session:
            return list(await repo.list_all(session))

    async def active(self, user_id: UserId | None) -> list[tuple[Quest, ProgressView | None]]:
        """Active quests open now, by id, each with `user_id`'s run (None without a user)."""
        now = utcnow()
        async with self.database.transaction() as session:
            quests = await repo.list_active(session, now)
            if user_id is None:
                return [(quest, None) for quest in quests]
            user = await users_repo.get(session, user_id)
            rows = (
                {}
                if user is None
                else {
                    row.quest_id: row
                    for row in await repo.progress_rows(
                        session, user.id, quest_ids=(q.id for q in quests)
                    )
                }
            )
            shown = user.external_id if user is not None else user_id
            return [
                (quest, ProgressView.of(quest, rows.get(quest.id), shown, now)) for quest in quests
            ]

    # --- runs ----------------------------------------------------------------------------------

    async def progress(self, user_id: UserId, quest_id: int) -> ProgressView:
        """The user's run (NOT_STARTED before any start; EXPIRED once past its deadline)."""
        now = utcnow()
        async with self.database.transaction() as session:
            quest = await self._quest(session, quest_id)
            user = await users_repo.get(session, user_id)
            if user is None:
                return ProgressView.of(quest, None, user_id, now)
            row = await repo.progress_row(session, user.id, quest.id)
            return ProgressView.of(quest, row, user.external_id, now)

    async def start(self, user_id: UserId, quest_id: int) -> ProgressView:
        """Start (or, after EXPIRED or FAILED, restart) the quest for the user.

        409 when the quest is inactive or outside its dates, when its own requirements do not
        hold for the user, when the user's run is IN_PROGRESS, or when it is COMPLETED.
        """
        now = utcnow()
        async with self.database.transaction() as session:
            quest = await self._quest(session, quest_id)
            self._check_open(quest, now)
            user, _ = await users_repo.ensure(session, user_id)
            stats = await metrics.lock_stats(session, user)
            row = await repo.progress_row(session, user.id, quest.id)
            if row is not None:
                await self.progressor.expire_if_due(session, user, quest, row, now)
                if row.status == QuestStatus.IN_PROGRESS.value:
                    raise Conflict(f"quest {quest.id} is already in progress for this user")
                if row.status == QuestStatus.COMPLETED.value:
                    raise Conflict(f"quest {quest.id} is already completed for this user")
            prerequisites = [requirement_of(r) for r in quest.requirements]
            if prerequisites:
                values = await metrics.requirement_values(session, stats, prerequisites, now)
                if not all_hold(prerequisites, values):
                    raise Conflict(
                        f"the user does not meet quest {quest.id}'s requirements yet",
                        details=unmet(prerequisites, values),
                    )
            row = await self.progressor.start(session, user, stats, quest, row, now)
            return ProgressView.of(quest, row, user.external_id, now)

    async def complete_step(
        self, user_id: UserId, quest_id: int, step_id: str, *, check_requirements: bool
    ) -> ProgressView:
        """Complete one step of the user's run; the quest completes with its last required step.

        409 when the run is not IN_PROGRESS (never started, expired, completed), when the step is
        complete already, when it is a required step with an earlier required step still open,
        and, with `check_requirements`, when the step's requirements do not hold yet.
        """
        now = utcnow()
        async with self.database.transaction() as session:
            quest = await self._quest(session, quest_id)
            steps = steps_of(quest)
            step = next((s for s in steps if s.id == step_id), None)
            if step is None:
                raise NotFound(f"quest {quest.id} has no step {step_id!r}")
            user = await users_repo.get(session, user_id)
            if user is None:
                raise Conflict(f"quest {quest.id} has not been started by this user")
            stats = await metrics.lock_stats(session, user)
            row = await repo.progress_row(session, user.id, quest.id)
            if row is None:
                raise Conflict(f"quest {quest.id} has not been started by this user")
            await self.progressor.expire_if_due(session, user, quest, row, now)
            if row.status != QuestStatus.IN_PROGRESS.value:
                raise Conflict(
                    f"quest {quest.id} is {row.status} for this user, not IN_PROGRESS",
                    details={"status": row.status},
                )
            if not quest.is_active:
                raise Conflict(f"quest {quest.id} is not active")
            if step.id in row.completed_steps:
                raise Conflict(f"step {step.id!r} is already complete")
            blocker = rules.blocking_step(steps, row.completed_steps, step)
            if blocker is not None:
                raise Conflict(
                    f"complete step {blocker.id!r} before step {step.id!r}",
                    details={"blockedBy": blocker.id},
                )
            if check_requirements and step.requirements:
                values = await self.progressor.values_for(
                    session, stats, row, step.requirements, now
                )
                if not all_hold(step.requirements, values):
                    raise Conflict(
                        f"step {step.id!r}'s requirements do not hold yet",
                        details=unmet(step.requirements, values),
                    )
            await self.progressor.complete_by_hand(session, user, stats, quest, row, step, now)
            return ProgressView.of(quest, row, user.external_id, now)

    async def abandon(self, user_id: UserId, quest_id: int) -> ProgressView:
        """Give up the user's run: it becomes FAILED (and may be started afresh later).

        409 when the run is not IN_PROGRESS (never started, expired, completed, failed)."""
        now = utcnow()
        async with self.database.transaction() as session:
            quest = await self._quest(session, quest_id)
            user = await users_repo.get(session, user_id)
            if user is None:
                raise Conflict(f"quest {quest.id} has not been started by this user")
            await metrics.lock_stats(session, user)
            row = await repo.progress_row(session, user.id, quest.id)
            if row is None:
                raise Conflict(f"quest {quest.id} has not been started by this user")
            await self.progressor.expire_if_due(session, user, quest, row, now)
            if row.status != QuestStatus.IN_PROGRESS.value:
                raise Conflict(
                    f"quest {quest.id} is {row.status} for this user, not IN_PROGRESS",
                    details={"status": row.status},
                )
            row.status = QuestStatus.FAILED.value
            row.updated_at = now
            record(row, now, "failed", reason="abandoned")
            self.progressor.tell(session, user, quest, row, now)
            return ProgressView.of(quest, row, user.external_id, now)

    # --- helpers -------------------------------------------------------------------------------

    async def _quest(self, session: AsyncSession, quest_id: int) -> Quest:
        quest = await repo.get(session, quest_id)
        if quest is None:
            raise NotFound(f"no quest {quest_id}")
        return quest

    @staticmethod
    def _check_open(quest: Quest, now: datetime) -> None:
        if rules.is_open(quest.is_active, quest.start_date, quest.end_date, now):
            return
        if not quest.is_active:
            raise Conflict(f"quest {quest.id} is not active")
        if quest.start_date is not None and now < quest.start_date:
            raise Conflict(
                f"quest {quest.id} opens at {iso(quest.start_date)}",
                details={"startDate": iso(quest.start_date)},
            )
        raise Conflict(
            f"quest {quest.id} ended at {iso(quest.end_date)}",
            details={"endDate": iso(quest.end_date)},
        )
