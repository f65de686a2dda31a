"""Notifications: what each user was told, read or unread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from accolade.domain.errors import InvalidInput, NotFound
from accolade.domain.identity import Principal, UserId
from accolade.domain.wire import iso
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import Notification, User, utcnow

MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    user_id: UserId
    type: str
    title: str
    body: str
    data: Any
    read_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Notification, user_id: UserId) -> NotificationView:
        return cls(
            row.id, user_id, row.type, row.title, row.body, row.data, row.read_at, row.created_at
        )


class NotificationService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def list_for(
        self, user_id: UserId, *, unread_only: bool = False, limit: int = 50
    ) -> list[NotificationView]:
        """Newest first."""
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                return []
            query = (
                select(Notification)
                .where(Notification.user_id == user.id)
                .order_by(Notification.id.desc())
                .limit(limit)
            )
            if unread_only:
                query = query.where(Notification.read_at.is_(None))
            rows = (await session.scalars(query)).all()
            return [NotificationView.of(row, user.external_id) for row in rows]

    async def mark_read(self, notification_id: int, principal: Principal) -> NotificationView:
        """Mark one read (again: keeps the first read time). Others' notifications are 404."""
        async with self.database.transaction() as session:
            row = await session.get(Notification, notification_id)
            owner = None if row is None else await session.get(User, row.user_id)
            if row is None or owner is None or not principal.may_act_for(owner.external_id):
                raise NotFound(f"no notification {notification_id}")
            if row.read_at is None:
                row.read_at = utcnow()
                await session.flush()
            return NotificationView.of(row, owner.external_id)

    async def mark_all_read(self, user_id: UserId) -> int:
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                return 0
            result = await session.execute(
                update(Notification)
                .where(Notification.user_id == user.id, Notification.read_at.is_(None))
                .values(read_at=utcnow())
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def mark_read_from_socket(self, principal: Principal, data: Any) -> dict[str, Any]:
        """Seed 003's `notification:read {id}`: answers `{id, readAt}`."""
        notification_id = data.get("id") if isinstance(data, dict) else data
        if (
            isinstance(notification_id, bool)
            or not isinstance(notification_id, int)
            or not 1 <= notification_id <= MAX_ID
        ):
            raise InvalidInput("send `{id: <notification id>}`")
        view = await self.mark_read(notification_id, principal)
        assert view.read_at is not None
        return {"id": view.id, "readAt": iso(view.read_at)}
