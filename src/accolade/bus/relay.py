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
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.bus.base import Bus
from accolade.bus.messages import RoomMessage
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting, RoomEvent, utcnow
from accolade.storage.outbox import Written
from accolade.storage.upsert import insert_for
from accolade.support.background import Repeating

log = logging.getLogger("accolade.relay")

# Also told about each published batch (e.g. the AMQP publisher for analytics).
Sink = Callable[[list[RoomMessage]], Awaitable[None]]

# Arbitrary constant naming the PostgreSQL advisory lock relays take.
_RELAY_LOCK_ID = 0x616363_72656C79
PRUNED_THROUGH_KEY = "room_events_pruned_through"
PUBLISHED_THROUGH_KEY = "room_events_published_through"
# Committed rows kept in memory for publishing at most (past that they are read back).
FRESH_MAX = 20_000


class Relay:
    def __init__(
        self,
        database: Database,
        bus: Bus,
        *,
        poll_interval_s: float = 1.0,
        batch_size: int = 500,
        sinks: list[Sink] | None = None,
    ) -> None:
        self.database = database
        self.bus = bus
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.sinks = sinks or []
        self._local = asyncio.Lock()
        self._loop = Repeating("outbox-relay", self._pass, retry_s=poll_interval_s)
        # Room events this node committed and has not published yet, by row id: published from
        # memory, without reading back what was just written. Rows of other nodes (or left over
        # by a crash) are read from the database.
        self._fresh: dict[int, Written] = {}

    def kick(self) -> None:
        """Called after a commit that wrote room events: relay them now rather than at the poll."""
        self._loop.kick()

    def committed(self, written: list[Written]) -> None:
        """A transaction committed these room events (`Database.after_outbox_commit`)."""
        if self._loop.running:
            if len(self._fresh) > FRESH_MAX:
                self._fresh.clear()  # bounded memory: those rows are read back instead
            for row in written:
                self._fresh[row.id] = row
        self._loop.kick()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self, timeout_s: float = 10.0) -> None:
        await self._loop.stop(timeout_s)
        self._fresh.clear()

    async def _pass(self) -> float:
        while await self.relay_once() >= self.batch_size:
            pass  # more waiting: keep going without sleeping
        return self.poll_interval_s

    async def relay_once(self) -> int:
        """Number pending room events and publish what is not published yet; returns how many
        were published.

        Publishing is tracked by a watermark (`published_through`), moved only after the bus
        took the batch: when a publish fails, the next run (on any node) publishes the same
        events again before anything newer, so live clients still get them, in order.
        """
        async with self._local, self._cluster_lock():
            known = set(self._fresh)
            async with self.database.transaction() as session:
                published_through, newest, numbered = await self._number_pending(session)
                messages = await self._messages(session, published_through, newest, numbered)
            self._forget(known, numbered)
            if not messages:
                return 0
            # Committed: publish while still holding the cluster lock (see the module docstring).
            await self.bus.publish(messages)
            async with self.database.transaction() as session:
                await _set_setting(session, PUBLISHED_THROUGH_KEY, messages[-1].seq)
            for sink in self.sinks:
                try:
                    await sink(messages)
                except Exception:
                    log.exception("a relay sink failed; the screens were served")
            return len(messages)

    async def _messages(
        self,
        session: AsyncSession,
        published_through: int,
        newest: int,
        numbered: list[tuple[int, int]],
    ) -> list[RoomMessage]:
        """What to publish, in id order: rows numbered earlier but not published yet (a failed
        publish: from the database), then the rows just numbered (from memory when this node
        wrote them)."""
        backlog: list[RoomMessage] = []
        if published_through < newest:
            rows = await session.scalars(
                select(RoomEvent)
                .where(RoomEvent.seq > published_through)
                .order_by(RoomEvent.seq)
                .limit(self.batch_size)
            )
            backlog = [to_message(row) for row in rows.all() if row.seq is not None]
            backlog = [m for m in backlog if m.seq <= newest]
            if len(backlog) >= self.batch_size:
                return backlog  # the rows just numbered follow in the next run
        unknown = [row_id for row_id, _ in numbered if row_id not in self._fresh]
        read: dict[int, RoomEvent] = {}
        if unknown:
            found = await session.scalars(select(RoomEvent).where(RoomEvent.id.in_(unknown)))
            read = {row.id: row for row in found.all()}
        fresh: list[RoomMessage] = []
        for row_id, seq in numbered:
            mine = self._fresh.get(row_id)
            # A row read back was numbered above, in this transaction.
            fresh.append(to_message(mine, seq) if mine is not None else to_message(read[row_id]))
        return backlog + fresh

    def _forget(self, known: set[int], numbered: list[tuple[int, int]]) -> None:
        """Drop what this run numbered, and rows this node wrote that another node's relay
        numbered already (committed before this run looked, yet not pending any more)."""
        for row_id, _ in numbered:
            self._fresh.pop(row_id, None)
        full = len(numbered) >= self.batch_size
        highest = numbered[-1][0] if numbered else 0
        for row_id in known:
            if not full or row_id < highest:
                self._fresh.pop(row_id, None)

    async def _number_pending(
        self, session: AsyncSession
    ) -> tuple[int, int, list[tuple[int, int]]]:
        """Give pending rows their ids; returns the published-through watermark, the newest id
        before this run, and the (row id, id) pairs it gave."""
        newest = await session.scalar(select(func.max(RoomEvent.seq))) or 0
        stored = await _get_setting(session, PUBLISHED_THROUGH_KEY)
        # First run on a database: what is numbered already went out before tracking existed.
        published_through = newest if stored is None else stored
        pending = (
            await session.scalars(
                select(RoomEvent.id)
                .where(RoomEvent.seq.is_(None))
                .order_by(RoomEvent.id)
                .limit(self.batch_size)
            )
        ).all()
        if stored is None:
            await _set_setting(session, PUBLISHED_THROUGH_KEY, published_through)
        if not pending:
            return published_through, newest, []
        pruned = await _get_setting(session, PRUNED_THROUGH_KEY) or 0
        next_seq = max(newest, pruned) + 1
        numbered = [(row_id, next_seq + offset) for offset, row_id in enumerate(pending)]
        # One executemany for the batch (an UPDATE by primary key per row).
        await session.execute(
            update(RoomEvent), [{"id": row_id, "seq": seq} for row_id, seq in numbered]
        )
        return published_through, newest, numbered

    @asynccontextmanager
    async def _cluster_lock(self) -> AsyncIterator[None]:
        if self.database.dialect != "postgresql":
            yield  # SQLite: one node; the local lock is the whole story
            return
        # A transaction-level lock on a connection of its own: whatever happens (an error, a
        # cancelled task at shutdown), ending that transaction releases it, so no node can ever
        # be left waiting on a lock nobody holds. Polled with the try- variant so that waiting
        # stays in Python, where shutdown can cancel it.
        async with self.database.engine.connect() as conn, conn.begin():
            delay_s = 0.005
            while not await conn.scalar(
                text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _RELAY_LOCK_ID}
            ):
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 0.1)
            yield


def to_message(row: RoomEvent | Written, seq: int | None = None) -> RoomMessage:
    """A room event as the bus carries it: a numbered row, or one committed by this node with
    the id the relay gave it (`seq`)."""
    if seq is None:
        assert isinstance(row, RoomEvent) and row.seq is not None
        seq = row.seq
    return RoomMessage(
        seq=seq,
        room=row.room,
        event=row.event,
        payload=row.payload,
        created_at=row.created_at,
        namespace=row.namespace,
    )


async def _get_setting(session: AsyncSession, key: str) -> int | None:
    value = await session.scalar(select(InstanceSetting.value).where(InstanceSetting.key == key))
    return None if value is None else int(value)


async def _set_setting(session: AsyncSession, key: str, value: int) -> None:
    statement = insert_for(session, InstanceSetting).values(
        key=key, value=str(value), created_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": str(value)})
    )
