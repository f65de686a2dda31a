"""Room events kept for catch-up and recent history: reads by room after an id, and pruning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.bus.messages import RoomMessage
from accolade.bus.relay import PRUNED_THROUGH_KEY, to_message
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting, RoomEvent, utcnow
from accolade.storage.upsert import insert_for


@dataclass(frozen=True, slots=True)
class CatchUp:
    messages: list[RoomMessage]
    recovered: bool  # False: some events after `since` are gone; reload state over REST


class History:
    def __init__(self, database: Database, *, max_catch_up: int = 1000) -> None:
        self.database = database
        self.max_catch_up = max_catch_up

    async def since(self, room: str, since: int) -> CatchUp:
        """Events of `room` after id `since`, oldest first (at most `max_catch_up`)."""
        async with self.database.transaction() as session:
            pruned_through = await _pruned_through(session)
            rows = (
                await session.scalars(
                    select(RoomEvent)
                    .where(RoomEvent.room == room, RoomEvent.seq > since)
                    .order_by(RoomEvent.seq)
                    .limit(self.max_catch_up + 1)
                )
            ).all()
        recovered = since >= pruned_through and len(rows) <= self.max_catch_up
        return CatchUp([to_message(row) for row in rows[: self.max_catch_up]], recovered)

    async def between(self, after: int, before: int | None, limit: int) -> list[RoomMessage]:
        """Published events of every room with an id after `after` (and before `before`, when
        given), oldest first, at most `limit`: what a node's bus may have lost."""
        query = select(RoomEvent).where(RoomEvent.seq > after)
        if before is not None:
            query = query.where(RoomEvent.seq < before)
        async with self.database.transaction() as session:
            rows = (await session.scalars(query.order_by(RoomEvent.seq).limit(limit))).all()
        return [to_message(row) for row in rows]

    async def recent(self, room: str, limit: int) -> list[RoomMessage]:
        """The newest `limit` events of `room`, oldest first."""
        async with self.database.transaction() as session:
            rows = (
                await session.scalars(
                    select(RoomEvent)
                    .where(RoomEvent.room == room, RoomEvent.seq.is_not(None))
                    .order_by(RoomEvent.seq.desc())
                    .limit(limit)
                )
            ).all()
        return [to_message(row) for row in reversed(rows)]

    async def prune(self, keep_s: int) -> int:
        """Delete published events older than `keep_s`; remembers the newest id it removed."""
        cutoff = utcnow() - timedelta(seconds=keep_s)
        async with self.database.transaction() as session:
            newest_old = await session.scalar(
                select(func.max(RoomEvent.seq)).where(
                    RoomEvent.seq.is_not(None), RoomEvent.created_at < cutoff
                )
            )
            if newest_old is None:
                return 0
            result = await session.execute(
                delete(RoomEvent).where(RoomEvent.seq.is_not(None), RoomEvent.seq <= newest_old)
            )
            await _set_pruned_through(session, newest_old)
            return int(getattr(result, "rowcount", 0) or 0)


async def _pruned_through(session: AsyncSession) -> int:
    value = await session.scalar(
        select(InstanceSetting.value).where(InstanceSetting.key == PRUNED_THROUGH_KEY)
    )
    return int(value) if value else 0


async def _set_pruned_through(session: AsyncSession, seq: int) -> None:
    statement = insert_for(session, InstanceSetting).values(
        key=PRUNED_THROUGH_KEY, value=str(seq), created_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": str(seq)})
    )
