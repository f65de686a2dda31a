"""Quests and users' progress through them (seed 002's Quest and QuestProgress)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage.models import Quest, QuestProgress, RewardDistribution


async def add(session: AsyncSession, quest: Quest) -> Quest:
    session.add(quest)
    await session.flush()
    return quest


async def get(session: AsyncSession, quest_id: int) -> Quest | None:
    return await session.get(Quest, quest_id)


async def get_many(session: AsyncSession, quest_ids: Iterable[int]) -> dict[int, Quest]:
    ids = sorted(set(quest_ids))
    if not ids:
        return {}
    rows = (await session.scalars(select(Quest).where(Quest.id.in_(ids)))).all()
    return {row.id: row for row in rows}


async def list_all(session: AsyncSession) -> Sequence[Quest]:
    """Every quest, active or not, by id."""
    return (await session.scalars(select(Quest).order_by(Quest.id))).all()


async def list_active(session: AsyncSession, now: datetime) -> Sequence[Quest]:
    """Active quests whose dates include `now`, by id."""
    query = (
        select(Quest)
        .where(
            Quest.is_active.is_(True),
            or_(Quest.start_date.is_(None), Quest.start_date <= now),
            or_(Quest.end_date.is_(None), Quest.end_date > now),
        )
        .order_by(Quest.id)
    )
    return (await session.scalars(query)).all()


async def progress_row(session: AsyncSession, user_id: int, quest_id: int) -> QuestProgress | None:
    query = (
        select(QuestProgress)
        .where(QuestProgress.user_id == user_id, QuestProgress.quest_id == quest_id)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one_or_none()


async def progress_rows(
    session: AsyncSession,
    user_id: int,
    *,
    quest_ids: Iterable[int] | None = None,
    status: str | None = None,
) -> Sequence[QuestProgress]:
    """The user's rows, by quest id; only those quests, or only that status, when given."""
    query = (
        select(QuestProgress)
        .where(QuestProgress.user_id == user_id)
        .order_by(QuestProgress.quest_id)
        .execution_options(populate_existing=True)
    )
    if quest_ids is not None:
        query = query.where(QuestProgress.quest_id.in_(sorted(set(quest_ids))))
    if status is not None:
        query = query.where(QuestProgress.status == status)
    return (await session.scalars(query)).all()


async def was_rewarded(session: AsyncSession, user_id: int, source: str, source_id: str) -> bool:
    """Whether the user ever received rewards from this source (in any status)."""
    query = (
        select(RewardDistribution.id)
        .where(
            RewardDistribution.user_id == user_id,
            RewardDistribution.source == source,
            RewardDistribution.source_id == source_id,
        )
        .limit(1)
    )
    return await session.scalar(query) is not None
