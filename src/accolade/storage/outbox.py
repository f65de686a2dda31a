"""Writing room events into the command's own transaction (the outbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage.database import OUTBOX_WRITTEN
from accolade.storage.models import RoomEvent, utcnow


def add_room_event(
    session: AsyncSession,
    room: str,
    event: str,
    payload: dict[str, Any],
    *,
    namespace: str | None = None,
) -> None:
    """Queue `event` for `room`; it is numbered and published by the relay after the commit."""
    session.add(
        RoomEvent(room=room, event=event, payload=payload, namespace=namespace, created_at=utcnow())
    )
    session.info[OUTBOX_WRITTEN] = True
