"""Achievement definitions (seed 004 and seed 002 fields) and users' progress toward them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accolade.domain.errors import NotFound
from accolade.domain.identity import UserId
from accolade.pipeline import rules
from accolade.pipeline.award import award
from accolade.pipeline.broadcaster import Broadcaster
from accolade.storage import achievements as repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import Achievement, UserAchievement, utcnow

UNSET = repo.UNSET


@dataclass(frozen=True, slots=True)
class Progress:
    """A user's row for one achievement, with the user id as the host application gave it."""

    id: int
    user_id: UserId
    achievement_id: int
    unlocked_at: datetime | None
    metadata: Any
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: UserAchievement, user_id: UserId) -> Progress:
        return cls(
            id=row.id,
            user_id=user_id,
            achievement_id=row.achievement_id,
            unlocked_at=row.unlocked_at,
            metadata=row.meta,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class AchievementService:
    def __init__(self, database: Database, broadcaster: Broadcaster) -> None:
        self.database = database
        self.broadcaster = broadcaster

    # --- definitions ---------------------------------------------------------------------------

    async def create(self, fields: dict[str, Any]) -> Achievement:
        """A new achievement. `fields` use the model's attribute names (`meta` for metadata)."""
        if fields.get("type") == "SECRET":
            fields.setdefault("secret", True)
        async with self.database.transaction() as session:
            achievement = await repo.add(session, Achievement(**fields))
            await rules.bump_version(session)
            return achievement

    async def list_all(
        self,
        *,
        type_: str | None = None,
        category: str | None = None,
        enabled: bool | None = None,
        hide_secret_from: UserId | None = None,
    ) -> Sequence[Achievement]:
        """All achievements by name; with `hide_secret_from`, secret ones that user has not unlocked
        are left out."""
        async with self.database.transaction() as session:
            rows = await repo.list_all(session, type_=type_, category=category, enabled=enabled)
            if hide_secret_from is None or not any(row.secret for row in rows):
                return rows
            user = await users_repo.get(session, hide_secret_from)
            unlocked = await repo.unlocked_ids(session, user.id) if user else set()
        return [row for row in rows if not row.secret or row.id in unlocked]

    async def get(
        self, achievement_id: int, *, hide_secret_from: UserId | None = None
    ) -> Achievement:
        async with self.database.transaction() as session:
            achievement = await repo.get(session, achievement_id)
            if achievement is None:
                raise NotFound(f"no achievement {achievement_id}")
            if achievement.secret and hide_secret_from is not None:
                user = await users_repo.get(session, hide_secret_from)
                unlocked = await repo.unlocked_ids(session, user.id) if user else set()
                if achievement.id not in unlocked:
                    # Secret until unlocked: indistinguishable from one that does not exist.
                    raise NotFound(f"no achievement {achievement_id}")
        return achievement

    async def update(self, achievement_id: int, fields: dict[str, Any]) -> Achievement:
        async with self.database.transaction() as session:
            achievement = await repo.get(session, achievement_id)
            if achievement is None:
                raise NotFound(f"no achievement {achievement_id}")
            for name, value in fields.items():
                setattr(achievement, name, value)
            achievement.updated_at = utcnow()
            await session.flush()
            await rules.bump_version(session)
        return achievement

    async def delete(self, achievement_id: int) -> Achievement:
        async with self.database.transaction() as session:
            achievement = await repo.get(session, achievement_id)
            if achievement is None:
                raise NotFound(f"no achievement {achievement_id}")
            await repo.remove(session, achievement)
            await rules.bump_version(session)
        return achievement

    # --- progress ------------------------------------------------------------------------------

    async def upsert_progress(
        self, user_id: UserId, achievement_id: int, metadata: Any = UNSET
    ) -> Progress:
        """Create or update the user's row; the user is created on first sight."""
        async with self.database.transaction() as session:
            if await repo.get(session, achievement_id) is None:
                raise NotFound(f"no achievement {achievement_id}")
            user, _ = await users_repo.ensure(session, user_id)
            row = await repo.upsert_progress(session, user, achievement_id, metadata=metadata)
            return Progress.of(row, user.external_id)

    async def unlock(self, user_id: UserId, achievement_id: int) -> Progress:
        """Mark unlocked now, celebrate it and distribute its rewards; unlocking again keeps the
        first unlock time and does nothing more."""
        async with self.database.transaction() as session:
            achievement = await repo.get(session, achievement_id)
            if achievement is None:
                raise NotFound(f"no achievement {achievement_id}")
            user, _ = await users_repo.ensure(session, user_id)
            row, _ = await award(session, self.broadcaster, user, rules.rule_of(achievement))
            return Progress.of(row, user.external_id)

    async def get_progress(self, user_id: UserId, achievement_id: int) -> Progress | None:
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                return None
            row = await repo.get_progress(session, user.id, achievement_id)
            return None if row is None else Progress.of(row, user.external_id)

    async def list_progress(self, user_id: UserId, *, unlocked_only: bool) -> list[Progress]:
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                return []
            rows = await repo.list_progress(session, user.id, unlocked_only=unlocked_only)
            return [Progress.of(row, user.external_id) for row in rows]

    async def delete_progress(self, user_id: UserId, achievement_id: int) -> Progress:
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            row = (
                None if user is None else await repo.get_progress(session, user.id, achievement_id)
            )
            if user is None or row is None:
                raise NotFound(f"user {user_id!r} has no progress on achievement {achievement_id}")
            progress = Progress.of(row, user.external_id)
            await repo.delete_progress(session, row)
        return progress
