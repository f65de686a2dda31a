"""Achievements and user progress repository (seed 004's two tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage.models import Achievement, User, UserAchievement, utcnow
from accolade.storage.upsert import insert_for

UNSET: Any = object()  # "not given": distinct from an explicit JSON null


async def get(session: AsyncSession, achievement_id: int) -> Achievement | None:
    return await session.get(Achievement, achievement_id)


async def list_all(
    session: AsyncSession,
    *,
    type_: str | None = None,
    category: str | None = None,
    enabled: bool | None = None,
) -> Sequence[Achievement]:
    query = select(Achievement).order_by(Achievement.name, Achievement.id)
    if type_ is not None:
        query = query.where(Achievement.type == type_)
    if category is not None:
        query = query.where(Achievement.category == category)
    if enabled is not None:
        query = query.where(Achievement.is_enabled == enabled)
    return (await session.scalars(query)).all()


async def unlocked_ids(session: AsyncSession, user_id: int) -> set[int]:
    query = select(UserAchievement.achievement_id).where(
        UserAchievement.user_id == user_id, UserAchievement.unlocked_at.is_not(None)
    )
    return set((await session.scalars(query)).all())


async def add(session: AsyncSession, achievement: Achievement) -> Achievement:
    session.add(achievement)
    await session.flush()
    return achievement


async def remove(session: AsyncSession, achievement: Achievement) -> None:
    await session.delete(achievement)
    await session.flush()


async def get_progress(
    session: AsyncSession, user_id: int, achievement_id: int
) -> UserAchievement | None:
    query = select(UserAchievement).where(
        UserAchievement.user_id == user_id, UserAchievement.achievement_id == achievement_id
    )
    return (await session.scalars(query)).one_or_none()


async def list_progress(
    session: AsyncSession, user_id: int, *, unlocked_only: bool = False
) -> Sequence[UserAchievement]:
    # Newest unlock first; rows still in progress (no unlockedAt) after them, newest first.
    query = (
        select(UserAchievement)
        .where(UserAchievement.user_id == user_id)
        .order_by(
            UserAchievement.unlocked_at.is_(None),
            UserAchievement.unlocked_at.desc(),
            UserAchievement.updated_at.desc(),
            UserAchievement.id.desc(),
        )
    )
    if unlocked_only:
        query = query.where(UserAchievement.unlocked_at.is_not(None))
    return (await session.scalars(query)).all()


async def upsert_progress(
    session: AsyncSession,
    user: User,
    achievement_id: int,
    *,
    metadata: Any = UNSET,
    unlocked_at: datetime | None = None,
) -> UserAchievement:
    """Insert or update the one row of (user, achievement), in one statement.

    `metadata`, when given, replaces the stored value; `unlocked_at`, when given, is set only if the
    row was not unlocked yet (an unlock keeps its first time).
    """
    now = utcnow()
    table = UserAchievement.__table__
    insert = insert_for(session, table).values(
        user_id=user.id,
        achievement_id=achievement_id,
        metadata={} if metadata is UNSET else metadata,
        unlocked_at=unlocked_at,
        created_at=now,
        updated_at=now,
    )
    updates: dict[str, Any] = {"updated_at": now}
    if metadata is not UNSET:
        updates["metadata"] = insert.excluded["metadata"]
    if unlocked_at is not None:
        updates["unlocked_at"] = func.coalesce(table.c.unlocked_at, insert.excluded.unlocked_at)
    statement = insert.on_conflict_do_update(
        index_elements=["user_id", "achievement_id"], set_=updates
    )
    await session.execute(statement)
    row = await get_progress(session, user.id, achievement_id)
    assert row is not None
    await session.refresh(row)
    return row


async def delete_progress(session: AsyncSession, row: UserAchievement) -> bool:
    """Delete the row; True when this deleted an unlock (a holder fewer)."""
    deleted = await session.execute(
        delete(UserAchievement)
        .where(UserAchievement.id == row.id)
        .returning(UserAchievement.unlocked_at)
    )
    return any(unlocked_at is not None for unlocked_at in deleted.scalars())


async def by_key(session: AsyncSession, key: str) -> Achievement | None:
    return (await session.scalars(select(Achievement).where(Achievement.key == key))).one_or_none()


async def ensure_by_key(session: AsyncSession, key: str, **defaults: Any) -> Achievement:
    """The achievement with `key`, created from `defaults` when missing (race-free)."""
    now = utcnow()
    await session.execute(
        insert_for(session, Achievement)
        .values(key=key, created_at=now, updated_at=now, **defaults)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    achievement = await by_key(session, key)
    assert achievement is not None
    return achievement
