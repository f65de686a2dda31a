"""Contests repository: the contests, their entrants' rows, and the standings read from them.

Standings are read in the order of `ix_contest_entries_standings` (best first: higher value, who
reached it first, the lower internal user id); a place is counted on the same index, never by
sorting the whole contest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.contests import ContestStatus
from accolade.storage.models import Contest, ContestEntry, ContestInvitation, User
from accolade.storage.upsert import insert_for

E = ContestEntry
STANDINGS_ORDER = (E.value.desc(), E.reached_at.asc(), E.user_id.asc())


async def get(
    session: AsyncSession, contest_id: int, *, for_update: bool = False
) -> Contest | None:
    query = select(Contest).where(Contest.id == contest_id)
    if for_update:
        query = query.with_for_update()
    contest: Contest | None = await session.scalar(query)
    return contest


PRIVATE = "private"
EVERYONE = "everyone"  # `viewer` of `listing`: admin and service tokens see every contest


async def listing(
    session: AsyncSession,
    status: ContestStatus | None,
    limit: int,
    viewer: int | str | None = EVERYONE,
) -> Sequence[Contest]:
    """Newest first; `viewer` (internal user id, or None for anonymous and display tokens) sees
    the public contests and the private ones it was invited to or entered."""
    query = select(Contest).order_by(Contest.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Contest.status == status.value)
    if viewer != EVERYONE:
        visible = Contest.visibility != PRIVATE
        if isinstance(viewer, int):
            visible = or_(visible, Contest.id.in_(_invited_or_entered(viewer)))
        query = query.where(visible)
    return (await session.scalars(query)).all()


def _invited_or_entered(user_id: int) -> Any:
    invited = select(ContestInvitation.contest_id).where(ContestInvitation.user_id == user_id)
    entered = select(E.contest_id).where(E.user_id == user_id)
    return invited.union(entered)


async def may_take_part(session: AsyncSession, contest: Contest, user_id: int | None) -> bool:
    """A public contest is open to everyone; a private one to its invitees and entrants."""
    if contest.visibility != PRIVATE:
        return True
    if user_id is None:
        return False
    invited = select(ContestInvitation.user_id).where(
        ContestInvitation.contest_id == contest.id, ContestInvitation.user_id == user_id
    )
    entered = select(E.user_id).where(E.contest_id == contest.id, E.user_id == user_id)
    return bool(await session.scalar(select(invited.exists() | entered.exists())))


async def invite(
    session: AsyncSession, contest_id: int, user_ids: Sequence[int], at: datetime
) -> None:
    """Invite the users (inviting again changes nothing)."""
    if not user_ids:
        return
    await session.execute(
        insert_for(session, ContestInvitation)
        .values([{"contest_id": contest_id, "user_id": u, "invited_at": at} for u in user_ids])
        .on_conflict_do_nothing(index_elements=["contest_id", "user_id"])
    )


async def entrant_counts(session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, int]:
    if not contest_ids:
        return {}
    rows = await session.execute(
        select(E.contest_id, func.count())
        .where(E.contest_id.in_(contest_ids))
        .group_by(E.contest_id)
    )
    return {contest_id: count for contest_id, count in rows.all()}


async def enter(session: AsyncSession, contest_id: int, user_id: int, at: datetime) -> bool:
    """Add the entrant (score 0); False when it had entered already."""
    statement = (
        insert_for(session, ContestEntry)
        .values(contest_id=contest_id, user_id=user_id, value=0.0, reached_at=at, entered_at=at)
        .on_conflict_do_nothing(index_elements=["contest_id", "user_id"])
        .returning(ContestEntry.user_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def entry(session: AsyncSession, contest_id: int, user_id: int) -> ContestEntry | None:
    found: ContestEntry | None = await session.scalar(
        select(E).where(E.contest_id == contest_id, E.user_id == user_id)
    )
    return found


async def entries_of(
    session: AsyncSession, user_id: int, contest_ids: Sequence[int]
) -> dict[int, tuple[float, datetime]]:
    """The user's (value, reached_at) in each of `contest_ids` it entered."""
    rows = await session.execute(
        select(E.contest_id, E.value, E.reached_at).where(
            E.user_id == user_id, E.contest_id.in_(contest_ids)
        )
    )
    return {contest_id: (value, reached_at) for contest_id, value, reached_at in rows.all()}


async def add(
    session: AsyncSession, contest_id: int, user_id: int, delta: float, at: datetime
) -> None:
    await session.execute(
        update(E)
        .where(E.contest_id == contest_id, E.user_id == user_id)
        .values(value=E.value + delta, reached_at=at)
        .execution_options(synchronize_session=False)
    )


def _ahead_of(value: float, reached_at: datetime, user_id: int) -> ColumnElement[bool]:
    return or_(
        E.value > value,
        and_(E.value == value, E.reached_at < reached_at),
        and_(E.value == value, E.reached_at == reached_at, E.user_id < user_id),
    )


async def place(
    session: AsyncSession, contest_id: int, user_id: int, value: float, reached_at: datetime
) -> int:
    """The place a row (value, reached_at) of `user_id` holds: 1 + the rows ahead of it."""
    ahead = await session.scalar(
        select(func.count())
        .select_from(E)
        .where(
            E.contest_id == contest_id,
            E.user_id != user_id,
            _ahead_of(value, reached_at, user_id),
        )
    )
    return int(ahead or 0) + 1


async def standings(
    session: AsyncSession, contest_id: int, limit: int
) -> list[tuple[int, User, float]]:
    """The first `limit` places: (rank, user, value), best first."""
    rows = await session.execute(
        select(User, E.value)
        .join(User, User.id == E.user_id)
        .where(E.contest_id == contest_id)
        .order_by(*STANDINGS_ORDER)
        .limit(limit)
    )
    return [(rank, user, value) for rank, (user, value) in enumerate(rows.all(), start=1)]


async def start_due(session: AsyncSession, contest_id: int, now: datetime) -> bool:
    """DRAFT -> LIVE, when still DRAFT and its start is due. The condition is what makes one
    node (of any number racing) perform it: the others' UPDATE matches no row."""
    result = await session.execute(
        update(Contest)
        .where(
            Contest.id == contest_id,
            Contest.status == ContestStatus.DRAFT.value,
            Contest.start_at <= now,
        )
        .values(status=ContestStatus.LIVE.value, started_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_due(session: AsyncSession, contest_id: int, now: datetime) -> bool:
    """LIVE -> ENDED, when still LIVE and its end is due (see `start_due`)."""
    result = await session.execute(
        update(Contest)
        .where(
            Contest.id == contest_id,
            Contest.status == ContestStatus.LIVE.value,
            Contest.end_at <= now,
        )
        .values(status=ContestStatus.ENDED.value, ended_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def due(session: AsyncSession, now: datetime) -> tuple[list[int], list[int]]:
    """Ids of contests due to start, and due to end, at `now`."""
    starting = await session.scalars(
        select(Contest.id)
        .where(Contest.status == ContestStatus.DRAFT.value, Contest.start_at <= now)
        .order_by(Contest.start_at, Contest.id)
    )
    ending = await session.scalars(
        select(Contest.id)
        .where(Contest.status == ContestStatus.LIVE.value, Contest.end_at <= now)
        .order_by(Contest.end_at, Contest.id)
    )
    return list(starting.all()), list(ending.all())


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest scheduled start of a DRAFT or end of a LIVE contest."""
    start = await session.scalar(
        select(func.min(Contest.start_at)).where(Contest.status == ContestStatus.DRAFT.value)
    )
    end = await session.scalar(
        select(func.min(Contest.end_at)).where(Contest.status == ContestStatus.LIVE.value)
    )
    times = [t for t in (start, end) if t is not None]
    return min(times) if times else None
