"""Anti-cheat: refuse negative, absurd or too-frequent values before they touch anything.

Rates are counted per node in memory (a sliding one-second window per user); with several nodes
a user's limit is per node, which still stops a runaway client. Backfills (events whose
`occurredAt` is more than a minute old) are not counted: importing a user's history in one batch
is deliberate, not a runaway client. Refusals are kept for admins.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from accolade.domain.errors import DomainError, InvalidInput
from accolade.domain.identity import user_key
from accolade.services.engine import EventCommand
from accolade.storage.database import Database
from accolade.storage.models import FlaggedEvent, utcnow

# Events that happened longer ago than this are backfills, outside the rate limit.
BACKFILL_AGE = timedelta(minutes=1)


class TooFrequent(DomainError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True, slots=True)
class Limits:
    enabled: bool = True
    max_value: float = 1_000_000.0  # one event's value (XP, revenue, custom)
    max_events_per_s: int = 50  # per user


class AntiCheat:
    def __init__(self, database: Database, limits: Limits) -> None:
        self.database = database
        self.limits = limits
        self._recent: dict[str, deque[float]] = {}

    async def check(self, command: EventCommand) -> None:
        """Raise a 422 or 429 DomainError for a refused event, recording why."""
        if not self.limits.enabled:
            return
        value = command.value
        if value is not None and value < 0:
            await self._refuse(command, InvalidInput(f"`value` must not be negative (got {value})"))
        if value is not None and value > self.limits.max_value:
            await self._refuse(
                command,
                InvalidInput(f"`value` {value} is above the limit of {self.limits.max_value:g}"),
            )
        if command.occurred_at is not None and utcnow() - command.occurred_at > BACKFILL_AGE:
            return
        now = time.monotonic()
        key = user_key(command.user_id)
        window = self._recent.setdefault(key, deque())
        while window and now - window[0] > 1.0:
            window.popleft()
        if len(window) >= self.limits.max_events_per_s:
            await self._refuse(
                command,
                TooFrequent(
                    f"more than {self.limits.max_events_per_s} events a second for this user"
                ),
            )
        window.append(now)
        if len(self._recent) > 100_000:
            self._recent.clear()  # bounded memory; the window restarts for everyone

    async def _refuse(self, command: EventCommand, error: DomainError) -> None:
        async with self.database.transaction() as session:
            session.add(
                FlaggedEvent(
                    user_key=user_key(command.user_id),
                    type=command.type,
                    value=command.value,
                    reason=error.message[:300],
                    data={"userId": command.user_id, "data": command.data or {}},
                    created_at=utcnow(),
                )
            )
        raise error

    async def flagged(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest refused events, for admins."""
        async with self.database.transaction() as session:
            rows = (
                await session.scalars(
                    select(FlaggedEvent).order_by(FlaggedEvent.id.desc()).limit(limit)
                )
            ).all()
        return [
            {
                "id": row.id,
                "userId": row.data.get("userId", row.user_key),
                "type": row.type,
                "value": row.value,
                "reason": row.reason,
                "createdAt": row.created_at.isoformat().replace("+00:00", "Z"),
            }
            for row in rows
        ]
