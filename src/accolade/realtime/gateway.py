"""The gateway: one place that hands each room event to every transport's members, in id order.

Room events arrive from the bus (`on_bus_message`), already numbered by the relay. Each node's
gateway delivers them one at a time in a single task, so per-connection order is the id order.
A client joining with `since` is held out of live delivery while its missed events are replayed,
then admitted without an await in between, so it sees every id once and in order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from accolade.bus.messages import RoomMessage
from accolade.realtime.history import History

log = logging.getLogger("accolade.gateway")


class Transport(Protocol):
    async def deliver(self, message: RoomMessage) -> None:
        """Send `message` to this transport's members of `message.room` that should get it."""


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    recovered: bool | None  # None: no `since` was given
    replayed: int
    last_event_id: int | None


class Gateway:
    def __init__(self, history: History) -> None:
        self.history = history
        self.transports: list[Transport] = []
        self.last_seq = 0
        self._holds: dict[str, list[list[RoomMessage]]] = {}

    def add_transport(self, transport: Transport) -> None:
        self.transports.append(transport)

    async def on_bus_message(self, messages: list[RoomMessage]) -> None:
        for message in messages:
            await self.deliver(message)

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
        send: Callable[[RoomMessage], Awaitable[None]],
        visible: Callable[[RoomMessage], bool],
        enter: Callable[[int], None],
    ) -> Joined:
        """Admit a member to `room`, first replaying what it missed after `since`.

        `send` writes one event to this member only, `visible` says whether its transport
        carries the event, and `enter(floor)` (synchronous) adds the member to live delivery,
        which must skip events up to `floor` for it: they were replayed from history but may
        still be on their way over the bus to this node.
        """
        if since is None:
            enter(0)
            return Joined(room, None, 0, None)
        async with self._hold(room) as buffer:
            catch_up = await self.history.since(room, since)
            last = since
            replayed = 0
            for message in catch_up.messages:
                if visible(message):
                    await send(message)
                    replayed += 1
                last = max(last, message.seq)
            while buffer:  # what went live while we were replaying
                message = buffer.pop(0)
                if message.seq > last:
                    if visible(message):
                        await send(message)
                        replayed += 1
                    last = message.seq
            enter(last if last > self.last_seq else 0)
        return Joined(room, catch_up.recovered, replayed, last)
