"""What a bus does: carry batches of numbered room events from the publishing node to every node
(itself too), in publish order. How a batch travels (in memory, or encoded over Redis) is the
bus's own business: the relay hands it `RoomMessage`s and every node's gateway gets them back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from accolade.bus.messages import RoomMessage

MessageHandler = Callable[[list[RoomMessage]], Awaitable[None]]


class Bus(Protocol):
    async def start(self, handler: MessageHandler, scope: str = "") -> None:
        """Begin delivering every published batch, in publish order, to `handler`. `scope`
        names the cluster: nodes sharing a scope hear each other, other clusters using the same
        server (one Redis for several installations) never do."""

    async def publish(self, messages: list[RoomMessage]) -> None:
        """Send to every node; returns once the bus has taken it (order per publisher is kept)."""

    async def close(self) -> None: ...
