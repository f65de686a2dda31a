"""Users: created on first sight or explicitly; deleting one removes everything of theirs."""

from __future__ import annotations

from zoneinfo import available_timezones

from accolade.domain.errors import InvalidInput, NotFound
from accolade.domain.identity import UserId
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import User

_TIME_ZONES = frozenset(available_timezones())


def check_time_zone(name: str | None) -> None:
    if name is not None and name not in _TIME_ZONES:
        raise InvalidInput(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin",
            details=[{"field": "timeZone", "message": "unknown IANA time zone"}],
        )


class UserService:
    def __init__(self, database: Database) -> None:
        self.database = database

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
            await users_repo.delete(session, user)
        return user
