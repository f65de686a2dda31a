"""One process, no network: publishing hands the batch straight to this node's handler (no
encoding: the objects themselves)."""

from __future__ import annotations

from accolade.bus.base import MessageHandler
from accolade.bus.messages import RoomMessage


class MemoryBus:
    def __init__(self) -> None:
        self._handler: MessageHandler | None = None

    async def start(self, handler: MessageHandler, scope: str = "") -> None:
        self._handler = handler  # one process: the scope is the process

    async def publish(self, messages: list[RoomMessage]) -> None:
        if self._handler is not None:
            await self._handler(messages)

    async def close(self) -> None:
        self._handler = None
