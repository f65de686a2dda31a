"""Reads for a user's profile and the activity feed (the celebrations history)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage.models import Achievement, CelebrationRecord, User, UserAchievement


async def unlocked_achievements(
    session: AsyncSession, user_id: int
) -> Sequence[tuple[Achievement, UserAchievement]]:
    """The achievements the user has unlocked, with their rows, newest unlock first."""
    query = (
        select(Achievement, UserAchievement)
        .join(UserAchievement, UserAchievement.achievement_id == Achievement.id)
        .where(UserAchievement.user_id == user_id, UserAchievement.unlocked_at.is_not(None))
        .order_by(UserAchievement.unlocked_at.desc(), UserAchievement.id.desc())
    )
    rows = await session.execute(query)
    return [(achievement, row) for achievement, row in rows.all()]


async def celebrations(
    session: AsyncSession, user_id: int | None, limit: int
) -> Sequence[tuple[CelebrationRecord, User]]:
    """The newest `limit` celebrations (of one user, or everyone's public ones), newest first."""
    query = (
        select(CelebrationRecord, User)
        .join(User, User.id == CelebrationRecord.user_id)
        .order_by(CelebrationRecord.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(CelebrationRecord.user_id == user_id)
    else:
        query = query.where(CelebrationRecord.public.is_(True))
    rows = await session.execute(query)
    return [(record, user) for record, user in rows.all()]
