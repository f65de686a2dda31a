"""Achievement definitions (seed 004 and seed 002 fields) and users' progress toward them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accolade.domain import wire
from accolade.domain.errors import NotFound
from accolade.domain.identity import UserId
from accolade.pipeline import rules
from accolade.pipeline.award import award
from accolade.pipeline.broadcaster import Broadcaster
from accolade.storage import achievements as repo
from accolade.storage import audit, rarity
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import Achievement, UserAchievement, utcnow

UNSET = repo.UNSET


def shown(achievement: Achievement) -> dict[str, Any]:
    """The achievement as `/api/achievements` shows it (the audit log's before and after)."""
    return {
        "id": achievement.id,
        "key": achievement.key,
        "name": achievement.name,
        "title": achievement.name,
        "description": achievement.description,
        "type": achievement.type,
        "category": achievement.category,
        "points": achievement.points,
        "icon": achievement.icon,
        "rarity": achievement.rarity,
        "secret": achievement.secret,
        "requirements": achievement.requirements,
        "rewards": achievement.rewards,
        "isEnabled": achievement.is_enabled,
        "revocable": achievement.revocable,
        "metadata": achievement.meta,
        "createdAt": wire.encode(achievement.created_at),
        "updatedAt": wire.encode(achievement.updated_at),
    }


def _target(achievement_id: int) -> str:
    return f"achievement:{achievement_id}"


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
            await audit.record(
                session, "achievement.create", _target(achievement.id), after=shown(achievement)
            )
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
            before = shown(achievement)
            for name, value in fields.items():
                setattr(achievement, name, value)
            achievement.updated_at = utcnow()
            await session.flush()
            await rules.bump_version(session)
            after = shown(achievement)
            if {**before, "updatedAt": None} != {**after, "updatedAt": None}:
                await audit.record(
                    session,
                    "achievement.update",
                    _target(achievement_id),
                    before=before,
                    after=after,
                )
        return achievement

    async def delete(self, achievement_id: int) -> Achievement:
        async with self.database.transaction() as session:
            achievement = await repo.get(session, achievement_id)
            if achievement is None:
                raise NotFound(f"no achievement {achievement_id}")
            before = shown(achievement)
            await repo.remove(session, achievement)
            await rules.bump_version(session)
            await audit.record(
                session, "achievement.delete", _target(achievement_id), before=before
            )
        return achievement

    async def rarities(self, achievement_ids: Sequence[int]) -> dict[int, rarity.Rarity]:
        """Each achievement's holders and the active users, read from the kept counts (one
        query for any number of achievements)."""
        async with self.database.transaction() as session:
            return await rarity.rarities(session, achievement_ids)

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
            held = await repo.get_progress(session, user.id, achievement_id)
            before = None if held is None else Progress.of(held, user.external_id)
            row, _ = await award(session, self.broadcaster, user, rules.rule_of(achievement))
            after = Progress.of(row, user.external_id)
            if before is None or before.unlocked_at is None:  # unlocking again changes nothing
                await audit.record(
                    session,
                    "achievement.unlock",
                    _target(achievement_id),
                    userId=user.external_id,
                    before=before,
                    after=after,
                )
            return after

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
            if await repo.delete_progress(session, row):
                await rarity.revoked(session, [achievement_id])  # one holder fewer
            await audit.record(
                session,
                "achievement.progress.delete",
                _target(achievement_id),
                userId=user.external_id,
                before=progress,
            )
        return progress
