"""The gateway: one place that hands each room event to every transport's members, in id order.

Room events arrive from the bus (`on_bus_message`), already numbered by the relay. Each node's
gateway delivers them one batch at a time (the bus's listener, and the relay's own node while
Redis is away, take turns), so per-connection order is the id order.
The relay's ids have no holes, so a message whose id is past the next one means the bus lost
some (Redis was away and published to nobody): they are read from the history and delivered
first, in order. After the bus reconnects (`catch_up`), what went out meanwhile is read the same
way, even when nothing newer arrives to show the gap.
A client joining with `since` is held out of live delivery while its missed events are replayed,
then admitted without an await in between, so it sees every id once and in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from accolade.bus.messages import RoomMessage
from accolade.realtime.history import History

log = logging.getLogger("accolade.gateway")

# Events read back from the history per query while filling a gap the bus left.
GAP_PAGE = 500


class Transport(Protocol):
    async def deliver(self, message: RoomMessage) -> None:
        """Send `message` to this transport's members of `message.room` that should get it."""


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    recovered: bool | None  # None: no `since` was given
    replayed: int
    last_event_id: int | None


def joined_payload(joined: Joined) -> dict[str, Any]:
    """The `joined` answer as every transport sends it."""
    payload: dict[str, Any] = {"room": joined.room}
    if joined.recovered is not None:
        payload.update(
            recovered=joined.recovered, replayed=joined.replayed, lastEventId=joined.last_event_id
        )
    return payload


class Gateway:
    def __init__(self, history: History) -> None:
        self.history = history
        self.transports: list[Transport] = []
        self.last_seq = 0
        self._holds: dict[str, list[list[RoomMessage]]] = {}
        # One batch at a time: a second caller must not interleave its ids with the first's.
        self._turn = asyncio.Lock()

    def add_transport(self, transport: Transport) -> None:
        self.transports.append(transport)

    async def on_bus_message(self, messages: list[RoomMessage]) -> None:
        async with self._turn:
            for message in messages:
                if self.last_seq and message.seq > self.last_seq + 1:
                    await self._fill(before=message.seq)
                await self.deliver(message)

    async def catch_up(self) -> None:
        """The bus is back after an outage: deliver from the history what was published while
        this node could not hear it (ids after the last one delivered)."""
        async with self._turn:
            if self.last_seq:
                await self._fill(before=None)

    async def _fill(self, before: int | None) -> None:
        """Deliver the stored events after `last_seq` (and before `before`), in id order."""
        while True:
            try:
                missed = await self.history.between(self.last_seq, before, GAP_PAGE)
            except Exception:
                log.exception("could not read the events the bus lost after %s", self.last_seq)
                return  # clients still catch up by id when they join again
            if not missed:
                return
            log.warning(
                "the bus lost events %s..%s: delivering them from the history",
                missed[0].seq,
                missed[-1].seq,
            )
            for message in missed:
                await self.deliver(message)
            if len(missed) < GAP_PAGE:
                return

    async def deliver(self, message: RoomMessage) -> None:
        if message.seq <= self.last_seq:
            return  # already delivered (a re-publish after a relay retry)
        self.last_seq = message.seq
        for buffer in self._holds.get(message.room, ()):
            buffer.append(message)
        for transport in self.transports:
            try:
                await transport.deliver(message)
            except Exception:
                log.exception("delivery of %s to %s failed", message.seq, type(transport).__name__)

    @asynccontextmanager
    async def _hold(self, room: str) -> AsyncIterator[list[RoomMessage]]:
        buffer: list[RoomMessage] = []
        self._holds.setdefault(room, []).append(buffer)
        try:
            yield buffer
        finally:
            holds = self._holds[room]
            holds.remove(buffer)
            if not holds:
                del self._holds[room]

    async def join(
        self,
        room: str,
        since: int | None,
        *,
        announce: Callable[[Joined], Awaitable[None]] | None = None,
        send: Callable[[RoomMessage], Awaitable[None]],
        visible: Callable[[RoomMessage], bool],
        enter: Callable[[int], None],
    ) -> Joined:
        """Admit a member to `room`: `joined` first, then what it missed after `since` in id
        order, then live events, each id once.

        `announce` writes the `joined` answer to this member (None: none is sent), `send` one
        event to this member only, `visible` says whether its transport carries the event, and
        `enter(floor)` (synchronous) adds the member to live delivery, which must skip events up
        to `floor` for it: they were replayed from history but may still be on the bus.
        Until `enter`, live events of the room are held here, so none slips in before
        `joined` or between the replayed ones, and none is lost.
        """
        async with self._hold(room) as buffer:
            pending: list[RoomMessage] = []
            recovered: bool | None = None
            last = since or 0
            if since is not None:
                catch_up = await self.history.since(room, since)
                recovered = catch_up.recovered
                pending = catch_up.messages
                last = max([since, *(message.seq for message in pending)])
            # What went live while history was read: after the replayed ones, each once.
            while buffer:
                message = buffer.pop(0)
                if message.seq > last:
                    pending.append(message)
                    last = message.seq
            pending = [message for message in pending if visible(message)]
            joined = Joined(room, recovered, len(pending), last if since is not None else None)
            if announce is not None:
                await announce(joined)
            for message in pending:
                await send(message)
            while buffer:  # live while we were writing (awaiting sends): still before entering
                message = buffer.pop(0)
                if message.seq > last:
                    if visible(message):
                        await send(message)
                    last = message.seq
            enter(last if last > self.last_seq else 0)
        return joined
