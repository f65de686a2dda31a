"""Training flows that are not events: relaying a roleplay conversation to the user's screens."""

from __future__ import annotations

from accolade.domain import notices, rooms
from accolade.domain.identity import UserId
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import utcnow
from accolade.storage.outbox import add_room_event


class TrainingService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def relay_roleplay(
        self,
        user_id: UserId,
        session_id: str,
        *,
        typing: bool,
        chunks: list[str],
        response: str | None,
    ) -> int:
        """Queue typing, each chunk and the response for `user:{id}`, in that order (one
        transaction, so their ids are consecutive and the screen sees them in order)."""
        async with self.database.transaction() as session:
            user, _ = await users_repo.ensure(session, user_id)
            room = rooms.user(user.external_id)
            now = utcnow()
            count = 0
            if typing:
                add_room_event(
                    session,
                    room,
                    notices.ROLEPLAY_TYPING,
                    notices.ROLEPLAY_TYPING(
                        user_id=user.external_id, session_id=session_id, typing=True, timestamp=now
                    ),
                )
                count += 1
            for index, text in enumerate(chunks):
                add_room_event(
                    session,
                    room,
                    notices.ROLEPLAY_CHUNK,
                    notices.ROLEPLAY_CHUNK(
                        user_id=user.external_id,
                        session_id=session_id,
                        index=index,
                        text=text,
                        timestamp=now,
                    ),
                )
                count += 1
            if response is not None:
                add_room_event(
                    session,
                    room,
                    notices.ROLEPLAY_RESPONSE,
                    notices.ROLEPLAY_RESPONSE(
                        user_id=user.external_id,
                        session_id=session_id,
                        message=response,
                        timestamp=now,
                    ),
                )
                count += 1
            return count
