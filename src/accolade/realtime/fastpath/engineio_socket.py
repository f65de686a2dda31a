"""The Engine.IO socket on the fast path: packets framed and written to the connection's link.

python-socketio's Engine.IO socket normally queues every packet for a writer task that hands it
to ASGI `send`. A `FastSocket` instead writes each packet, framed, straight to the connection's
transport (`link.Link`), and room broadcasts write the same pre-framed bytes there
(`socketio_rooms`). Because both go through the one link synchronously, a broadcast and a direct
emit (`joined`, `error`) keep their order. Pings come from one shared timer (`_PingWheel`).
Nothing a client sees changes: the packets are Engine.IO's own encodings, byte for byte.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from typing import Any

from engineio import async_socket
from engineio import packet as eio_packet

from accolade.realtime.fastpath import frames, uvicorn_protocol
from accolade.realtime.fastpath.link import Link


class FastSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose packets go straight to its connection's transport.

    Sockets are created by Engine.IO as plain `AsyncSocket`s and become `FastSocket`s (by class
    assignment): on connect when they arrive over a WebSocket the fast path can write to
    (`expect_websocket`), or when an upgrade from long-polling completes. Until the link is
    open (`link` None) packets wait in Engine.IO's queue, as usual.
    """

    link: Link | None = None
    last_ping: float | None

    async def send(self, pkt: eio_packet.Packet) -> None:
        if self.link is None:
            await super().send(pkt)
            return
        if not await self.check_ping_timeout():
            return
        encoded = pkt.encode()
        if isinstance(encoded, str):
            self.link.write(frames.text_frame(encoded))
        else:
            self.link.write(frames.binary_frame(encoded))

    def schedule_ping(self) -> None:
        # The ping wheel instead of Engine.IO's task per ping cycle: no task and no timer per
        # idle connection.
        if self.last_ping:
            self.last_ping = None
            _ping_wheel(self.server.ping_interval).add(self)

    def ping(self) -> None:
        if self.link is not None and not self.closing and not self.closed:
            self.last_ping = time.time()
            self.link.write(frames.PING_FRAME)

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        await super().close(wait=False, abort=abort, reason=reason)
        # Engine.IO forgets a closed socket when the request that served it ends, but an
        # `EngineIOConnection` outlives that request.
        self.server.sockets.pop(self.sid, None)
        if self.link is not None:
            self.link.close(frames.close_frame(1000))


class _PingWheel:
    """Sends each fast-path socket its next Engine.IO ping `interval_s` after its last pong, to
    the slot (a second, or a tenth of the interval when that is shorter: a ping is at most two
    slots late, well within what clients wait, the interval plus the timeout), from one timer
    for all of them (10,000 idle connections: one timer, not 10,000)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval_s: float) -> None:
        self.loop = loop
        self.interval_s = interval_s
        self.slot_s = min(1.0, interval_s / 10)
        self.due: dict[int, list[FastSocket]] = {}  # slot (loop time / slot_s) -> sockets
        self.timer: asyncio.TimerHandle | None = None

    def add(self, socket: FastSocket) -> None:
        slot = math.ceil((self.loop.time() + self.interval_s) / self.slot_s)
        self.due.setdefault(slot, []).append(socket)
        if self.timer is None:
            self.timer = self.loop.call_later(self.slot_s, self._tick)

    def _tick(self) -> None:
        now = self.loop.time() / self.slot_s
        for slot in [slot for slot in self.due if slot <= now]:
            for socket in self.due.pop(slot):
                socket.ping()  # a closed socket ignores it
        self.timer = self.loop.call_later(self.slot_s, self._tick) if self.due else None


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, _PingWheel]] = (
    weakref.WeakKeyDictionary()
)


def _ping_wheel(interval_s: float) -> _PingWheel:
    loop = asyncio.get_running_loop()
    wheels = _wheels.setdefault(loop, {})
    wheel = wheels.get(interval_s)
    if wheel is None:
        wheel = wheels[interval_s] = _PingWheel(loop, interval_s)
    return wheel


def expect_websocket(socket: async_socket.AsyncSocket, environ: dict[str, Any]) -> None:
    """Make a socket that connects over a fast-path WebSocket a `FastSocket` from the start, so
    that even its first ping is a timer rather than a task."""
    if uvicorn_protocol.has_connection(environ.get("asgi.scope", {})):
        socket.__class__ = FastSocket


def adopt(socket: async_socket.AsyncSocket, link: Link) -> FastSocket:
    """Switch `socket` to the fast path: what it has queued goes out first, then the rest."""
    queue: asyncio.Queue[eio_packet.Packet | None] = socket.queue
    while not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        # A noop only ends a pending poll: the one queued for it after the poll was answered
        # is not sent over the websocket (Node sends none there).
        if pkt is not None and pkt.packet_type != eio_packet.NOOP:
            encoded = pkt.encode()
            link.write(
                frames.text_frame(encoded)
                if isinstance(encoded, str)
                else frames.binary_frame(encoded)
            )
    socket.__class__ = FastSocket
    fast: FastSocket = socket
    fast.link = link
    fast.queue = None  # never used again: every packet now goes to the link
    return fast
