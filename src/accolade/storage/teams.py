"""Teams repository: teams, their members, and members' totals."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.identity import user_key
from accolade.storage.models import LeaderboardEntry, Team, TeamMember, User, utcnow
from accolade.storage.upsert import insert_for


async def get(session: AsyncSession, team_id: int | str) -> Team | None:
    found = await session.execute(select(Team).where(Team.team_key == user_key(team_id)))
    return found.scalar_one_or_none()


async def create(session: AsyncSession, team_id: int | str | None, name: str) -> Team | None:
    """The new team, or None when the id is taken. Without an id the team gets its row number."""
    now = utcnow()
    if team_id is None:
        # A unique placeholder key, replaced by the row's id once the row has one.
        team = Team(team_key=f"new-{uuid.uuid4().hex}", key_is_int=True, name=name)
        session.add(team)
        await session.flush()
        team.team_key = str(team.id)
        await session.flush()
        return team
    inserted = await session.execute(
        insert_for(session, Team)
        .values(
            team_key=user_key(team_id),
            key_is_int=isinstance(team_id, int),
            name=name,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["team_key"])
        .returning(Team.id)
    )
    if inserted.scalar_one_or_none() is None:
        return None
    return await get(session, team_id)


async def add_member(session: AsyncSession, team: Team, user: User) -> bool:
    """True when the user was not a member before."""
    inserted = await session.execute(
        insert_for(session, TeamMember)
        .values(team_id=team.id, user_id=user.id, joined_at=utcnow())
        .on_conflict_do_nothing(index_elements=["team_id", "user_id"])
        .returning(TeamMember.user_id)
    )
    return inserted.scalar_one_or_none() is not None


async def remove_member(session: AsyncSession, team: Team, user: User) -> bool:
    removed = await session.execute(
        delete(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
        .returning(TeamMember.user_id)
    )
    return removed.scalar_one_or_none() is not None


async def is_member(session: AsyncSession, team_key: str, member_key: str) -> bool:
    found = await session.execute(
        select(TeamMember.user_id)
        .join(Team, Team.id == TeamMember.team_id)
        .join(User, User.id == TeamMember.user_id)
        .where(Team.team_key == team_key, User.user_key == member_key)
    )
    return found.first() is not None


async def members(session: AsyncSession, team: Team) -> list[tuple[User, Any]]:
    """(user, joined_at) by joining order."""
    found = await session.execute(
        select(User, TeamMember.joined_at)
        .join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.team_id == team.id)
        .order_by(TeamMember.joined_at, User.id)
    )
    return [(user, joined_at) for user, joined_at in found.all()]


async def totals(
    session: AsyncSession, team: Team, period: str, period_key: str
) -> dict[str, float]:
    """Each metric summed over the team's members for one period."""
    E = LeaderboardEntry
    found = await session.execute(
        select(E.metric, func.sum(E.value))
        .join(TeamMember, TeamMember.user_id == E.user_id)
        .where(TeamMember.team_id == team.id, E.period == period, E.period_key == period_key)
        .group_by(E.metric)
        .order_by(E.metric)
    )
    return {metric: float(total) for metric, total in found.all()}


async def all_teams(session: AsyncSession) -> list[Team]:
    found = await session.execute(select(Team).order_by(Team.name, Team.id))
    return list(found.scalars().all())
