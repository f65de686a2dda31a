"""What a bus does: carry opaque messages from the publishing node to every node (itself too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

MessageHandler = Callable[[bytes], Awaitable[None]]


class Bus(Protocol):
    async def start(self, handler: MessageHandler, scope: str = "") -> None:
        """Begin delivering every published message, in publish order, to `handler`. `scope`
        names the cluster: nodes sharing a scope hear each other, other clusters using the same
        server (one Redis for several installations) never do."""

    async def publish(self, message: bytes) -> None:
        """Send to every node; returns once the bus has taken it (order per publisher is kept)."""

    async def close(self) -> None: ...
