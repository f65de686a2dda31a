"""Users: created on first sight or explicitly; deleting one removes everything of theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from zoneinfo import available_timezones

from sqlalchemy import select

from accolade.domain import wire
from accolade.domain.boards import Board
from accolade.domain.errors import InvalidInput, NotFound
from accolade.domain.identity import UserId
from accolade.domain.periods import Period
from accolade.storage import achievements as achievements_repo
from accolade.storage import audit, metrics, rarity
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import LeaderboardEntry, User

if TYPE_CHECKING:
    from accolade.services.leaderboards import LeaderboardService

_TIME_ZONES = frozenset(available_timezones())


def shown(user: User) -> dict[str, Any]:
    """The user as `/api/users` shows it (the audit log's before and after)."""
    return {
        "userId": user.external_id,
        "userName": user.user_name,
        "timeZone": user.time_zone,
        "createdAt": wire.encode(user.created_at),
    }


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
            existing = await users_repo.get(session, user_id)
            before = None if existing is None else shown(existing)
            user, created = await users_repo.ensure(session, user_id, user_name, time_zone)
            after = shown(user)
            if created:
                await audit.record(session, "user.create", f"user:{user_id}", after=after)
            elif after != before:
                await audit.record(
                    session, "user.update", f"user:{user_id}", before=before, after=after
                )
            return user, created

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
            # The lock an event for the user takes first: its unlocks and first event are either
            # committed before this reads them or wait for the deletion (and find no user).
            await metrics.lock_stats(session, user)
            await session.refresh(user)
            held = await achievements_repo.unlocked_ids(session, user.id)
            before = shown(user)
            await users_repo.delete(session, user)
            # Rarity's counts lose the user's unlocks and, if it had an event, an active user.
            await rarity.revoked(session, held)
            if user.first_event_at is not None:
                await rarity.went_inactive(session)
            await audit.record(session, "user.delete", f"user:{user_id}", before=before)
        if self.leaderboards is not None:
            # After the commit, as every write to the copy: its rows are gone from the truth now.
            await self.leaderboards.store.forget(user.id, boards)
        return user
