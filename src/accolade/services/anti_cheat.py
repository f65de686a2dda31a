"""Anti-cheat: catch negative, absurd or too-frequent values before they touch anything.

A negative value is refused from every token (it is invalid input, not a limit; a reversal undoes
an event). The limits (a value above `max_value`, more than `max_events_per_s` events a second
for one user) refuse what a user's own token sends (422, 429 with `Retry-After`); what a service
or admin token sends (the host application, batches included) is applied and, when it breaks a
limit, recorded as flagged for admins: a server must not lose its own application's events.

Rates are counted per node in memory (a sliding one-second window per user); with several nodes
a user's limit is per node, which still stops a runaway client. Backfills (events whose
`occurredAt` is more than a minute old) are not counted: importing a user's history in one batch
is deliberate, not a runaway client. Refusals and flags are kept for admins.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from accolade.domain.errors import DomainError, InvalidInput
from accolade.domain.identity import Principal, user_key
from accolade.domain.wire import iso
from accolade.pipeline.commands import EventCommand
from accolade.storage.database import Database
from accolade.storage.models import FlaggedEvent, utcnow

# Events that happened longer ago than this are backfills, outside the rate limit.
BACKFILL_AGE = timedelta(minutes=1)


class TooFrequent(DomainError):
    """A 429; `retry_after_s` becomes the `Retry-After` header."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"retryAfterS": retry_after_s})
        self.retry_after_s = retry_after_s


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
        self._flagged_at: dict[str, float] = {}  # user key -> monotonic time of the last flag

    async def check(self, command: EventCommand, principal: Principal | None) -> None:
        """Raise a 422 or 429 DomainError for a refused event, recording why.

        `principal` is who sends it (None: unknown, treated as a user): a service or admin token's
        events that break a limit are recorded as flagged and let through; others' are refused.
        """
        if not self.limits.enabled:
            return
        privileged = principal is not None and principal.is_privileged
        value = command.value
        if value is not None and value < 0:
            await self._refuse(command, InvalidInput(f"`value` must not be negative (got {value})"))
        if value is not None and value > self.limits.max_value:
            error = InvalidInput(f"`value` {value} is above the limit of {self.limits.max_value:g}")
            if not privileged:
                await self._refuse(command, error)
            await self._flag(
                command, f"{error.message} (applied: sent by a {principal_role(principal)} token)"
            )
        if command.occurred_at is not None and utcnow() - command.occurred_at > BACKFILL_AGE:
            return
        now = time.monotonic()
        key = user_key(command.user_id)
        window = self._recent.setdefault(key, deque())
        while window and now - window[0] > 1.0:
            window.popleft()
        if len(window) >= self.limits.max_events_per_s:
            message = f"more than {self.limits.max_events_per_s} events a second for this user"
            if not privileged:
                retry_after_s = max(1, math.ceil(1.0 - (now - window[0])))
                await self._refuse(command, TooFrequent(message, retry_after_s))
            # One flag per user per window: a host application's burst is one finding, not
            # one row per event (that would double the writes of the burst itself).
            if self._flagged_at.get(key, -2.0) < window[0]:
                self._flagged_at[key] = now
                await self._flag(
                    command, f"{message} (applied: sent by a {principal_role(principal)} token)"
                )
        window.append(now)
        if len(self._recent) > 100_000:
            self._recent.clear()  # bounded memory; the window restarts for everyone
            self._flagged_at.clear()

    async def _refuse(self, command: EventCommand, error: DomainError) -> None:
        await self._flag(command, error.message, applied=False)
        raise error

    async def _flag(self, command: EventCommand, reason: str, applied: bool = True) -> None:
        async with self.database.transaction() as session:
            session.add(
                FlaggedEvent(
                    user_key=user_key(command.user_id),
                    type=command.type,
                    value=command.value,
                    reason=reason[:300],
                    data={
                        "userId": command.user_id,
                        "data": command.data or {},
                        "applied": applied,
                    },
                    created_at=utcnow(),
                )
            )

    async def flagged(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest refused or flagged events, for admins (`applied` tells them apart)."""
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
                "applied": bool(row.data.get("applied", False)),
                "createdAt": iso(row.created_at),
            }
            for row in rows
        ]


def principal_role(principal: Principal | None) -> str:
    return principal.role.value if principal is not None else "unknown"
