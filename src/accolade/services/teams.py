"""Teams: members, totals per metric, and who may join a `team:{id}` room."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.errors import Conflict, NotFound
from accolade.domain.identity import Principal, Role, UserId, user_key
from accolade.domain.periods import Period, period_key
from accolade.domain.wire import iso
from accolade.storage import audit
from accolade.storage import teams as repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import Team, User, utcnow


def _member(team: Team, user: User, joined_at: datetime) -> dict[str, Any]:
    return {
        "teamId": team.external_id,
        "userId": user.external_id,
        "userName": user.user_name,
        "joinedAt": iso(joined_at),
    }


def _target(team: Team) -> str:
    return f"team:{team.external_id}"


class TeamService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(self, team_id: int | str | None, name: str) -> dict[str, Any]:
        """The new team (no members); Conflict when the id is taken."""
        async with self.database.transaction() as session:
            team = await repo.create(session, team_id, name)
            if team is None:
                raise Conflict(f"team {team_id!r} already exists")
            view = await self._view(session, team, "all")
            await audit.record(session, "team.create", _target(team), after=view)
            return view

    async def get(
        self, team_id: UserId, period: Period = "all", *, with_members: bool = True
    ) -> dict[str, Any]:
        """The team, its members (left out unless `with_members`: `memberCount` stays), and
        each metric summed over them for `period` (current)."""
        async with self.database.transaction() as session:
            view = await self._view(session, await self._team(session, team_id), period)
        if not with_members:
            del view["members"]
        return view

    async def list(self) -> list[dict[str, Any]]:
        async with self.database.transaction() as session:
            return [
                {"teamId": t.external_id, "name": t.name, "createdAt": iso(t.created_at)}
                for t in await repo.all_teams(session)
            ]

    async def delete(self, team_id: UserId) -> dict[str, Any]:
        async with self.database.transaction() as session:
            team = await self._team(session, team_id)
            view = await self._view(session, team, "all")
            await session.delete(team)
            await audit.record(session, "team.delete", _target(team), before=view)
            return view

    async def add_member(
        self, team_id: UserId, user_id: UserId, user_name: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The membership, and whether it is new (the user is created on first sight)."""
        async with self.database.transaction() as session:
            team = await self._team(session, team_id)
            user, _ = await users_repo.ensure(session, user_id, user_name)
            added = await repo.add_member(session, team, user)
            joined_at = next(
                (at for member, at in await repo.members(session, team) if member.id == user.id),
                utcnow(),
            )
            member = _member(team, user, joined_at)
            if added:
                await audit.record(session, "team.member.add", _target(team), after=member)
            return member, added

    async def remove_member(self, team_id: UserId, user_id: UserId) -> dict[str, Any]:
        async with self.database.transaction() as session:
            team = await self._team(session, team_id)
            user = await users_repo.get(session, user_id)
            joined = {m.id: at for m, at in await repo.members(session, team)}
            if user is None or user.id not in joined:
                raise NotFound(f"user {user_id!r} is not a member of team {team_id!r}")
            await repo.remove_member(session, team, user)
            member = _member(team, user, joined[user.id])
            await audit.record(session, "team.member.remove", _target(team), before=member)
            return member

    async def may_join_room(self, principal: Principal, team_id: int | str) -> bool:
        """Admin and service tokens may join any team's room; users only their teams'."""
        if principal.role in (Role.ADMIN, Role.SERVICE):
            return True
        if principal.role is not Role.USER:
            return False
        async with self.database.transaction() as session:
            return await repo.is_member(session, user_key(team_id), principal.subject)

    async def _team(self, session: AsyncSession, team_id: UserId) -> Team:
        team = await repo.get(session, team_id)
        if team is None:
            raise NotFound(f"team {team_id!r} not found")
        return team

    async def _view(self, session: AsyncSession, team: Team, period: Period) -> dict[str, Any]:
        members = await repo.members(session, team)
        key = period_key(period, utcnow())
        return {
            "teamId": team.external_id,
            "name": team.name,
            "createdAt": iso(team.created_at),
            "members": [_member(team, user, at) for user, at in members],
            "memberCount": len(members),
            "period": period,
            "periodKey": key,
            "totals": await repo.totals(session, team, period, key),
        }
