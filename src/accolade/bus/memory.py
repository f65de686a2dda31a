"""One process, no network: publishing hands the message straight to this node's handler."""

from __future__ import annotations

from accolade.bus.base import MessageHandler


class MemoryBus:
    def __init__(self) -> None:
        self._handler: MessageHandler | None = None

    async def start(self, handler: MessageHandler, scope: str = "") -> None:
        self._handler = handler  # one process: the scope is the process

    async def publish(self, message: bytes) -> None:
        if self._handler is not None:
            await self._handler(message)

    async def close(self) -> None:
        self._handler = None
