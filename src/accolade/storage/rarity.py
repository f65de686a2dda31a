"""Rarity's counts, kept incrementally: how many hold each achievement, and how many users are
active (have taken at least one event). Every unlock, revoke and user deletion moves them in its
own transaction; reads never count rows.

`rarityPercent` = holders / active users x 100, one decimal (0 when nobody is active yet).

Every transaction that moves a count shares its row with every other transaction moving it, so
the moves are held back and made at the very end of the transaction (`commit.before_commit`
with `last=True`): after every other lock it takes (the users' stats rows, board rows), one row
at a time in ascending achievement id, the active-user tally after them. Two transactions then
always wait for each other in the same order, never in a cycle. What a caller needs to know of
the counts after its unlock (the celebration's `rarityPercent`, `first`) it is told then, by the
`then` callback of `count_unlock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage import commit
from accolade.storage.models import AchievementStats, Tally
from accolade.storage.upsert import insert_for

ACTIVE_USERS = "active_users"

# session.info key: the moves this transaction holds back.
_PENDING = "accolade.rarity"


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


Counted = Callable[[Rarity], None]


@dataclass(slots=True)
class _Moves:
    unlocks: dict[int, list[tuple[datetime, Counted | None]]] = field(default_factory=dict)
    revokes: dict[int, int] = field(default_factory=dict)  # achievement id -> holders fewer
    active: int = 0  # active users more (or fewer)


def _moves(session: AsyncSession) -> _Moves:
    moves: _Moves | None = session.info.get(_PENDING)
    if moves is None:
        moves = session.info[_PENDING] = _Moves()
        commit.before_commit(session, _PENDING, _settle, last=True)
    return moves


def count_unlock(
    session: AsyncSession, achievement_id: int, at: datetime, then: Counted | None = None
) -> None:
    """Count one more holder of `achievement_id` at the end of this transaction; `then` hears
    the counts just after this unlock (and whether it was the achievement's first ever)."""
    _moves(session).unlocks.setdefault(achievement_id, []).append((at, then))


async def revoked(session: AsyncSession, achievement_ids: Iterable[int], n: int = 1) -> None:
    """Count `n` fewer holders of each of `achievement_ids` (a revoke, a deleted user), at the
    end of this transaction."""
    moves = _moves(session)
    for achievement_id in achievement_ids:
        moves.revokes[achievement_id] = moves.revokes.get(achievement_id, 0) + n


async def became_active(session: AsyncSession, n: int = 1) -> None:
    """Count `n` more active users (their first event was just taken), at the end of this
    transaction."""
    if n:
        _moves(session).active += n


async def went_inactive(session: AsyncSession, n: int = 1) -> None:
    """Count `n` fewer active users (deleted users that had an event), at the end of this
    transaction."""
    if n:
        _moves(session).active -= n


async def unlocked(session: AsyncSession, achievement_id: int, at: datetime) -> Rarity:
    """Count one more holder of `achievement_id` now (its row stays locked until the commit);
    says whether it was the first ever. The engine counts with `count_unlock` instead."""
    count, first_at = await _move(session, achievement_id, 1, at)
    return Rarity(count, await active_users(session), first=first_at == at)


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


async def rarities(session: AsyncSession, achievement_ids: Iterable[int]) -> dict[int, Rarity]:
    """achievement id -> its holders and the active users, in one statement (two when none of
    them was ever unlocked)."""
    ids = list(achievement_ids)
    if not ids:
        return {}
    active = select(Tally.value).where(Tally.name == ACTIVE_USERS).scalar_subquery()
    rows = (
        await session.execute(
            select(
                AchievementStats.achievement_id,
                AchievementStats.unlocked_count,
                func.coalesce(active, 0),
            ).where(AchievementStats.achievement_id.in_(ids))
        )
    ).all()
    total = int(rows[0][2]) if rows else await active_users(session)
    found = {i: Rarity(0, total) for i in ids}
    found.update({i: Rarity(int(n), total) for i, n, _ in rows})
    return found


# --- the end of the transaction --------------------------------------------------------------


async def _settle(session: AsyncSession) -> None:
    moves: _Moves | None = session.info.pop(_PENDING, None)
    if moves is None:
        return
    told: list[tuple[Counted, int, bool]] = []  # (callback, holders after, first ever)
    for achievement_id in sorted(moves.unlocks.keys() | moves.revokes.keys()):
        unlocks = sorted(moves.unlocks.get(achievement_id, []), key=lambda u: u[0])
        net = len(unlocks) - moves.revokes.get(achievement_id, 0)
        at = unlocks[0][0] if unlocks else None
        count, first_at = await _move(session, achievement_id, net, at)
        before = count - net
        for position, (_, then) in enumerate(unlocks):
            if then is not None:
                # The first unlock ever set `first_unlocked_at` to its own time just now.
                first = position == 0 and first_at == at
                told.append((then, max(before + position + 1, 0), first))
    if moves.active:
        await _add(session, ACTIVE_USERS, moves.active)
    if told:
        active = await active_users(session)
        for then, holders, first in told:
            then(Rarity(holders, active, first=first))


async def _move(
    session: AsyncSession, achievement_id: int, n: int, at: datetime | None
) -> tuple[int, datetime | None]:
    """Add `n` (negative: take) to the achievement's holders, never below 0; `at` is its first
    unlock when it has none yet. Returns the count and the first unlock after the move."""
    table = AchievementStats.__table__
    count = table.c.unlocked_count
    statement = (
        insert_for(session, AchievementStats)
        .values(achievement_id=achievement_id, unlocked_count=max(n, 0), first_unlocked_at=at)
        .on_conflict_do_update(
            index_elements=[table.c.achievement_id],
            set_={
                "unlocked_count": case((count + n > 0, count + n), else_=0),
                "first_unlocked_at": func.coalesce(table.c.first_unlocked_at, at),
            },
        )
        .returning(count, table.c.first_unlocked_at)
    )
    found, first_at = (await session.execute(statement)).one()
    return int(found), first_at


async def _add(session: AsyncSession, name: str, n: int) -> None:
    table = Tally.__table__
    value = table.c.value
    statement = (
        insert_for(session, Tally)
        .values(name=name, value=max(n, 0))
        .on_conflict_do_update(
            index_elements=[table.c.name],
            set_={"value": case((value + n > 0, value + n), else_=0)},
        )
    )
    await session.execute(statement)
