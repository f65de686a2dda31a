"""The outbox relay: gives committed room events their ids, in commit order, and publishes them.

Commands write room events with `seq` NULL inside their own transaction (the outbox). After the
commit the relay, alone across all nodes at any moment, numbers the pending rows and publishes
them on the bus. Holding one cluster-wide lock from numbering until the publish is done is what
makes ids rise in the order clients receive them, so "everything after id N" is exact.
A crash between a command's commit and the relay leaves rows pending; the next relay run (on
start-up, or any node's poll) publishes them, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from accolade.bus.base import Bus
from accolade.bus.messages import RoomMessage, encode_batch
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting, RoomEvent

log = logging.getLogger("accolade.relay")

# Arbitrary constant naming the PostgreSQL advisory lock relays take.
_RELAY_LOCK_ID = 0x616363_72656C79
PRUNED_THROUGH_KEY = "room_events_pruned_through"


class Relay:
    def __init__(
        self,
        database: Database,
        bus: Bus,
        *,
        poll_interval_s: float = 1.0,
        batch_size: int = 500,
    ) -> None:
        self.database = database
        self.bus = bus
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._local = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """Called after a commit that wrote room events: relay them now rather than at the poll."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.relay_once() >= self.batch_size:
                    pass  # more waiting: keep going without sleeping
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay run failed; retrying at the next poll")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
            self._wake.clear()

    async def relay_once(self) -> int:
        """Number and publish one batch of pending room events; returns how many."""
        async with self._local, self._cluster_lock():
            async with self.database.transaction() as session:
                pending = (
                    await session.scalars(
                        select(RoomEvent)
                        .where(RoomEvent.seq.is_(None))
                        .order_by(RoomEvent.id)
                        .limit(self.batch_size)
                    )
                ).all()
                if not pending:
                    return 0
                newest = await session.scalar(select(func.max(RoomEvent.seq))) or 0
                pruned = await session.scalar(
                    select(InstanceSetting.value).where(InstanceSetting.key == PRUNED_THROUGH_KEY)
                )
                next_seq = max(newest, int(pruned or 0)) + 1
                messages: list[RoomMessage] = []
                for offset, row in enumerate(pending):
                    seq = next_seq + offset
                    await session.execute(
                        update(RoomEvent).where(RoomEvent.id == row.id).values(seq=seq)
                    )
                    messages.append(
                        RoomMessage(
                            seq=seq,
                            room=row.room,
                            event=row.event,
                            payload=row.payload,
                            created_at=row.created_at,
                            namespace=row.namespace,
                        )
                    )
            # Committed: publish while still holding the cluster lock (see the module docstring).
            await self.bus.publish(encode_batch(messages))
            return len(messages)

    @asynccontextmanager
    async def _cluster_lock(self) -> AsyncIterator[None]:
        if self.database.dialect != "postgresql":
            yield  # SQLite: one node; the local lock is the whole story
            return
        async with self.database.engine.connect() as conn:
            await _advisory(conn, "pg_advisory_lock")
            try:
                yield
            finally:
                await _advisory(conn, "pg_advisory_unlock")


async def _advisory(conn: AsyncConnection, function: str) -> None:
    await conn.execute(text(f"SELECT {function}(:id)"), {"id": _RELAY_LOCK_ID})
    await conn.commit()
