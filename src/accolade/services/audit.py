"""Reading the audit log (`GET /api/admin/audit`); entries are written by `storage.audit.record`
in each change's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accolade.storage import audit as repo
from accolade.storage.database import Database

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor: str | None
    role: str | None
    action: str
    target: str | None
    details: dict[str, Any]


class AuditService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def newest(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        actor: str | None = None,
        action: str | None = None,
        before_id: int | None = None,
    ) -> list[AuditView]:
        """Entries newest first. `action` ending in `.` (`achievement.`) matches every action
        that starts with it; otherwise it matches exactly."""
        prefix = action if action is not None and action.endswith(".") else None
        async with self.database.transaction() as session:
            rows = await repo.newest(
                session,
                limit=limit,
                actor=actor,
                action=None if prefix is not None else action,
                action_prefix=prefix,
                before_id=before_id,
            )
            return [
                AuditView(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    role=row.role,
                    action=row.action,
                    target=row.target,
                    details=dict(row.details or {}),
                )
                for row in rows
            ]
