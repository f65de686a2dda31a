"""Users: created on first sight or explicitly; deleting one removes everything of theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from zoneinfo import available_timezones

from sqlalchemy import select

from accolade.domain.boards import Board
from accolade.domain.errors import InvalidInput, NotFound
from accolade.domain.identity import UserId
from accolade.domain.periods import Period
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import LeaderboardEntry, User

if TYPE_CHECKING:
    from accolade.services.leaderboards import LeaderboardService

_TIME_ZONES = frozenset(available_timezones())


def check_time_zone(name: str | None) -> None:
    if name is not None and name not in _TIME_ZONES:
        raise InvalidInput(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin",
            details=[{"field": "timeZone", "message": "unknown IANA time zone"}],
        )


class UserService:
    def __init__(self, database: Database, leaderboards: LeaderboardService | None = None) -> None:
        """`leaderboards`: whose store's copy (Redis) a deleted user leaves at once."""
        self.database = database
        self.leaderboards = leaderboards

    async def create(
        self, user_id: UserId, user_name: str | None, time_zone: str | None
    ) -> tuple[User, bool]:
        """The user, and whether this call created it (an existing user gets the new name/zone)."""
        check_time_zone(time_zone)
        async with self.database.transaction() as session:
            return await users_repo.ensure(session, user_id, user_name, time_zone)

    async def get(self, user_id: UserId) -> User:
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
        if user is None:
            raise NotFound(f"no user {user_id!r}")
        return user

    async def delete(self, user_id: UserId) -> User:
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                raise NotFound(f"no user {user_id!r}")
            entry = LeaderboardEntry
            found = await session.execute(
                select(entry.metric, entry.period, entry.period_key)
                .where(entry.user_id == user.id)
                .distinct()
            )
            boards = [Board(m, cast(Period, p), k) for m, p, k in found.all()]
            await users_repo.delete(session, user)
        if self.leaderboards is not None:
            # After the commit, as every write to the copy: its rows are gone from the truth now.
            await self.leaderboards.store.forget(user.id, boards)
        return user
