"""Admin actions on the real-time side: broadcasting to a room."""

from __future__ import annotations

import time
from typing import Any

from accolade.domain import notices
from accolade.storage import audit
from accolade.storage.database import Database
from accolade.storage.outbox import add_room_event


class AdminService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def broadcast(
        self, namespace: str, room: str, event: str, data: dict[str, Any], repeat: int
    ) -> int:
        """Queue `repeat` copies of `event` for `room` on `namespace`, each with `seq` (1..repeat)
        and `sentAt` (ms since the epoch) added to `data`; returns how many were queued."""
        sent_at_ms = int(time.time() * 1000)
        notice = notices.custom(event, namespace)
        async with self.database.transaction() as session:
            for seq in range(1, repeat + 1):
                payload = {**data, "seq": seq, "sentAt": sent_at_ms}
                add_room_event(session, room, notice, payload, namespace=namespace)
            await audit.record(
                session,
                "admin.broadcast",
                f"room:{room}",
                namespace=namespace,
                room=room,
                event=event,
                repeat=repeat,
            )
        return repeat
