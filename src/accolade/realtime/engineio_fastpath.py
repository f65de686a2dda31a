"""Engine.IO's websocket transport on the fan-out fast path.

python-socketio's Engine.IO socket normally queues every packet for a writer task that hands it
to ASGI `send`. For a connection on the websocket transport we instead write each packet, framed,
straight to the connection's transport (`fastpath.Link`), and room broadcasts write the same
pre-framed bytes there (`socketio_server.SocketIOTransport`). Because both go through the one
link synchronously, a broadcast and a direct emit (`joined`, `error`) keep their order.

Clients on HTTP long-polling, and clients in the middle of upgrading, keep Engine.IO's own queue;
once an upgrade completes, what was queued is written to the link first, then the socket switches.
Once switched, the connection is taken over from uvicorn (`engineio_connection`): reading needs
no ASGI task either, which is most of what an idle connection used to cost.
Nothing a client sees changes: the packets are Engine.IO's own encodings, byte for byte.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from engineio import async_socket, exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import asgi as asgi_driver

from accolade.realtime import engineio_connection, fastpath, frames

log = logging.getLogger("accolade.engineio")

Farewell = Callable[[str], Iterable[bytes]]  # Engine.IO sid -> frames sent before a cut


class FastSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose packets go straight to its connection's transport.

    Sockets are created by Engine.IO as plain `AsyncSocket`s and become `FastSocket`s (by class
    assignment): on connect when they arrive over a WebSocket the fast path can write to
    (`expect_websocket`), or when an upgrade from long-polling completes. Until the link is
    open (`link` None) packets wait in Engine.IO's queue, as usual.
    """

    link: fastpath.Link | None = None
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
    the second, from one timer for all of them (10,000 idle connections: one timer, not 10,000)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval_s: float) -> None:
        self.loop = loop
        self.interval_s = interval_s
        self.due: dict[int, list[FastSocket]] = {}  # whole second (loop time) -> sockets
        self.timer: asyncio.TimerHandle | None = None

    def add(self, socket: FastSocket) -> None:
        self.due.setdefault(math.ceil(self.loop.time() + self.interval_s), []).append(socket)
        if self.timer is None:
            self.timer = self.loop.call_later(1.0, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        for second in [second for second in self.due if second <= now]:
            for socket in self.due.pop(second):
                socket.ping()  # a closed socket ignores it
        self.timer = self.loop.call_later(1.0, self._tick) if self.due else None


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
    scope = environ.get("asgi.scope", {})
    if scope.get("type") == "websocket" and fastpath.SCOPE_KEY in scope.get("extensions", {}):
        socket.__class__ = FastSocket


def _adopt(socket: async_socket.AsyncSocket, link: fastpath.Link) -> FastSocket:
    """Switch `socket` to the fast path: what it has queued goes out first, then the rest."""
    queue: asyncio.Queue[eio_packet.Packet | None] = socket.queue
    while not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is not None:
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


async def _next_packet(receive: Callable[[], Any], max_bytes: int) -> eio_packet.Packet | None:
    """The next packet the client sent, or None once the connection is gone or misbehaves."""
    message = await receive()
    if message["type"] != "websocket.receive":
        return None
    data = message.get("text")
    if data is None:
        data = message.get("bytes")
    if data is None or len(data) > max_bytes:
        return None
    return eio_packet.Packet(encoded_packet=data)


class WebSocketTransport:
    """Engine.IO's `websocket` driver (the `_async["websocket"]` hook of its ASGI mode).

    Engine.IO calls `WebSocketTransport(handler, server)(environ)` where `handler` is the socket's
    own websocket handler; we serve the connection ourselves when it can have a fast-path link and
    fall back to Engine.IO's ASGI driver when it cannot.
    """

    def __init__(self, limit_bytes: int, farewell: Farewell) -> None:
        self.limit_bytes = limit_bytes
        self.farewell = farewell

    def __call__(self, handler: Any, server: Any) -> Callable[[dict[str, Any]], Any]:
        socket = getattr(handler, "__self__", None)

        async def serve(environ: dict[str, Any]) -> str:
            scope = environ["asgi.scope"]
            if not isinstance(socket, async_socket.AsyncSocket) or (
                scope.get("extensions", {}).get(fastpath.SCOPE_KEY) is None
            ):
                result: str = await asgi_driver.WebSocket(handler, server)(environ)
                return result
            await environ["asgi.send"]({"type": "websocket.accept"})
            # Only long-polling POSTs read a body: drop the reader (and the class Engine.IO
            # defines for it on every request), which the connection would otherwise keep. The
            # scope's raw headers are copied into `environ` (python-socketio's `get_environ`) and
            # never read again either.
            environ.pop("wsgi.input", None)
            scope["headers"] = []
            sid = socket.sid
            link = fastpath.open_link(
                scope, self.limit_bytes, lambda: self.farewell(sid), keepalive=False
            )
            if link is None:  # the client went away during the handshake
                await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
                return ""
            protocol = scope["extensions"][fastpath.SCOPE_KEY]
            if await self._serve(socket, link, environ["asgi.receive"], server, protocol):
                # The connection is an EngineIOConnection's now: let uvicorn's protocol object,
                # its queue and this task go (python-socketio keeps `environ` for `get_environ`).
                del scope["extensions"][fastpath.SCOPE_KEY]
                environ.pop("asgi.send", None)
                environ.pop("asgi.receive", None)
            return ""

        return serve

    async def _serve(
        self,
        socket: async_socket.AsyncSocket,
        link: fastpath.Link,
        receive: Any,
        server: Any,
        protocol: Any,
    ) -> bool:
        """Run the connection; True when it was handed to an `EngineIOConnection` (which then
        serves it after this returns)."""
        max_bytes = server.max_http_buffer_size
        if socket.connected:  # upgrading from long-polling: the probe exchange, as Engine.IO does
            socket.upgrading = True  # packets sent meanwhile stay queued (and go out in order)
            pkt = await _next_packet(receive, max_bytes)
            if pkt is None or pkt.packet_type != eio_packet.PING or pkt.data != "probe":
                socket.upgrading = False
                link.close()
                return False
            link.write(frames.text_frame(eio_packet.Packet(eio_packet.PONG, "probe").encode()))
            await socket.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending poll
            pkt = await _next_packet(receive, max_bytes)
            if pkt is None or pkt.packet_type != eio_packet.UPGRADE:
                socket.upgrading = False
                link.close()
                return False
            fast = _adopt(socket, link)
            fast.upgraded = True
            fast.upgrading = False
        else:
            socket.connected = True
            socket.upgraded = True
            fast = _adopt(socket, link)

        reason = server.reason.TRANSPORT_CLOSE
        if engineio_connection.take_over(protocol, fast, max_bytes, reason) is not None:
            return True
        while True:  # uvicorn's protocol could not be taken over: read through ASGI
            pkt = await _next_packet(receive, max_bytes)
            if pkt is None:
                break
            try:
                await fast.receive(pkt)
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                break
            except Exception:
                log.exception("Engine.IO packet from %s failed", fast.sid)
        await fast.close(wait=False, abort=True, reason=reason)
        return False
