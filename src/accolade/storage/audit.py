"""The audit log: who changed what through the API, when, and how it looked before and after.

Each change records its entry with `record(session, ...)` inside its own transaction, so a change
that is refused or rolled back leaves no entry and a committed one always has its entry. It lives
here, under the services and the pipeline, so that every change point (a service call, the
engine's reversal) can write it in its own transaction.

Who: the token of the request. The API's auth dependency (`api.deps.current_principal`) calls
`act_as(principal)`; FastAPI awaits async dependencies in the endpoint's own task and context, so
the service call the endpoint makes sees it (tests/api/test_audit.py shows it). Changes made
outside a request (the demo team, the contest scheduler, `accolade load` on the database) have
no actor and are not recorded: the log is of changes made through the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.audit import ACTIONS
from accolade.domain.identity import Principal
from accolade.domain.wire import encode
from accolade.storage.models import AuditEntry

# The request's principal and the task it was named in. A task started during a request (the
# intake's drainers, throttled updates) copies the context: bound to its task, the actor never
# follows such background work, which is no request's change.
_actor: ContextVar[tuple[Principal, asyncio.Task[Any] | None] | None] = ContextVar(
    "accolade_audit_actor", default=None
)


def act_as(principal: Principal | None) -> None:
    """Name who makes the changes of the current request (the API's auth dependency does)."""
    _actor.set(None if principal is None else (principal, _task()))


def current_actor() -> Principal | None:
    """The principal named by `act_as` in this task, if any."""
    named = _actor.get()
    if named is None or named[1] is not _task():
        return None
    return named[0]


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


async def record(
    session: AsyncSession,
    action: str,
    target: str | None,
    *,
    before: Any = None,
    after: Any = None,
    **details: Any,
) -> None:
    """Write the entry for a change in the change's own transaction (`session`). `before` and
    `after` (when given) and the other keyword arguments (into `details` under their names) are
    stored as the API shows them (`wire.encode`). Without an actor (not a request) nothing is
    written."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to domain.audit.ACTIONS")
    principal = current_actor()
    if principal is None:
        return
    body: dict[str, Any] = {key: encode(value) for key, value in details.items()}
    if before is not None:
        body["before"] = encode(before)
    if after is not None:
        body["after"] = encode(after)
    await add(
        session,
        actor=principal.subject,
        role=principal.role.value,
        action=action,
        target=target,
        details=body,
    )


async def add(
    session: AsyncSession,
    *,
    actor: str | None,
    role: str | None,
    action: str,
    target: str | None,
    details: dict[str, Any],
) -> AuditEntry:
    """The entry, written in the caller's transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(actor=actor, role=role, action=action, target=target, details=details)
    session.add(entry)
    await session.flush()
    return entry


async def newest(
    session: AsyncSession,
    *,
    limit: int,
    actor: str | None = None,
    action: str | None = None,
    action_prefix: str | None = None,
    before_id: int | None = None,
) -> Sequence[AuditEntry]:
    """Entries newest first (by id: ids only rise), at most `limit`, older than `before_id` when
    given; `action` matches exactly, `action_prefix` (e.g. `achievement.`) by its start."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if action_prefix is not None:
        # startswith(autoescape) so `_` and `%` in a prefix are literal characters.
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return (await session.execute(query)).scalars().all()
