"""Rarity's counts, kept incrementally: how many hold each achievement, and how many users are
active (have taken at least one event). Every unlock, revoke and user deletion moves them in its
own transaction; reads never count rows.

`rarityPercent` = holders / active users x 100, one decimal (0 when nobody is active yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage.models import AchievementStats, Tally
from accolade.storage.upsert import insert_for

ACTIVE_USERS = "active_users"


@dataclass(frozen=True, slots=True)
class Rarity:
    unlocked_count: int
    active_users: int
    # True when the unlock just counted was the achievement's first ever.
    first: bool = False

    @property
    def percent(self) -> float:
        return percent(self.unlocked_count, self.active_users)


def percent(holders: int, active_users: int) -> float:
    if active_users <= 0:
        return 0.0
    return round(min(100.0, 100.0 * holders / active_users), 1)


async def unlocked(session: AsyncSession, achievement_id: int, at: datetime) -> Rarity:
    """Count one more holder of `achievement_id`; says whether it was the first ever."""
    insert = insert_for(session, AchievementStats).values(
        achievement_id=achievement_id, unlocked_count=1, first_unlocked_at=at
    )
    table = AchievementStats.__table__
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.achievement_id],
        set_={
            "unlocked_count": table.c.unlocked_count + 1,
            "first_unlocked_at": func.coalesce(table.c.first_unlocked_at, at),
        },
    ).returning(table.c.unlocked_count, table.c.first_unlocked_at)
    count, first_at = (await session.execute(statement)).one()
    return Rarity(count, await active_users(session), first=count == 1 and first_at == at)


async def revoked(session: AsyncSession, achievement_ids: Iterable[int], n: int = 1) -> None:
    """Count `n` fewer holders of each of `achievement_ids` (a revoke, a deleted user)."""
    ids = list(achievement_ids)
    if not ids:
        return
    count = AchievementStats.unlocked_count
    await session.execute(
        update(AchievementStats)
        .where(AchievementStats.achievement_id.in_(ids))
        .values(unlocked_count=case((count > n, count - n), else_=0))
    )


async def became_active(session: AsyncSession, n: int = 1) -> None:
    """Count `n` more active users (their first event was just taken)."""
    if n:
        await _add(session, ACTIVE_USERS, n)


async def went_inactive(session: AsyncSession, n: int = 1) -> None:
    """Count `n` fewer active users (deleted users that had an event)."""
    if n:
        await _add(session, ACTIVE_USERS, -n)


async def active_users(session: AsyncSession) -> int:
    value = await session.scalar(select(Tally.value).where(Tally.name == ACTIVE_USERS))
    return int(value or 0)


async def counts(session: AsyncSession, achievement_ids: Iterable[int]) -> dict[int, int]:
    """achievement id -> holders (0 for those never unlocked)."""
    ids = list(achievement_ids)
    found: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        rows = await session.execute(
            select(AchievementStats.achievement_id, AchievementStats.unlocked_count).where(
                AchievementStats.achievement_id.in_(ids)
            )
        )
        found.update({achievement_id: int(n) for achievement_id, n in rows})
    return found


async def _add(session: AsyncSession, name: str, n: int) -> None:
    table = Tally.__table__
    statement = (
        insert_for(session, Tally)
        .values(name=name, value=max(n, 0))
        .on_conflict_do_update(index_elements=[table.c.name], set_={"value": table.c.value + n})
    )
    await session.execute(statement)
