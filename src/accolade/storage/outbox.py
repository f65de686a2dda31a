"""Writing room events into the command's own transaction (the outbox).

`add_room_event` only queues the event on the session; `write` inserts everything queued in one
statement just before the transaction commits (`Database.transaction` calls it) and returns the
rows with their ids, so that after the commit the relay can publish them from memory instead of
reading back what was just written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.notices import Notice
from accolade.storage.models import RoomEvent, utcnow

# session.info key: the room events a transaction has queued, in order.
OUTBOX = "accolade.outbox"


@dataclass(frozen=True, slots=True)
class Written:
    """A committed room event, not yet numbered: `id` orders it among pending rows."""

    id: int
    room: str
    event: str
    payload: dict[str, Any]
    namespace: str | None
    created_at: datetime


def add_room_event(
    session: AsyncSession,
    room: str,
    notice: Notice,
    payload: dict[str, Any],
    *,
    namespace: str | None = None,
) -> None:
    """Queue `notice` for `room`; it is numbered and published by the relay after the commit.
    `namespace` sends it on that namespace alone instead of the notice's own."""
    assert not notice.missing(payload), f"{notice.name} lacks {sorted(notice.missing(payload))}"
    session.info.setdefault(OUTBOX, []).append(
        {
            "room": room,
            "event": notice.name,
            "payload": payload,
            "namespace": namespace,
            "created_at": utcnow(),
        }
    )


_INSERT = insert(RoomEvent).returning(RoomEvent.id, sort_by_parameter_order=True)


async def write(session: AsyncSession) -> list[Written]:
    """Insert the session's queued room events (one executemany); returns them with their ids."""
    queued: list[dict[str, Any]] | None = session.info.pop(OUTBOX, None)
    if not queued:
        return []
    connection = await session.connection()
    ids = (await connection.execute(_INSERT, queued)).scalars().all()
    return [Written(id=i, **row) for i, row in zip(ids, queued, strict=True)]
