"""Engine.IO's `websocket` transport driver on the fast path.

Engine.IO (in ASGI mode) serves a websocket connection through the driver in its `_async`
table; ours (`WebSocketTransport`) accepts it, opens the connection's link and makes the socket
a `FastSocket`. Clients on HTTP long-polling, and clients in the middle of upgrading, keep
Engine.IO's own queue; once an upgrade completes, what was queued is written to the link first,
then the socket switches. Once switched, the connection is taken over from uvicorn
(`engineio_connection`): reading needs no ASGI task either, which is most of what an idle
connection used to cost. A connection the fast path cannot write to is served by Engine.IO's own
ASGI driver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from engineio import async_socket, exceptions
from engineio import packet as eio_packet

from accolade.realtime.fastpath import frames, uvicorn_protocol
from accolade.realtime.fastpath.engineio_connection import EngineIOConnection
from accolade.realtime.fastpath.engineio_server import (
    NORMAL_CLOSURE,
    CheckedWebSocket,
    decode_packet,
)
from accolade.realtime.fastpath.engineio_socket import adopt
from accolade.realtime.fastpath.link import Link

log = logging.getLogger("accolade.engineio")

Farewell = Callable[[str], Iterable[bytes]]  # Engine.IO sid -> frames sent before a cut


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
    return decode_packet(data)


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
            if not isinstance(socket, async_socket.AsyncSocket) or not (
                uvicorn_protocol.has_connection(scope)
            ):
                result: str = await CheckedWebSocket(handler, server)(environ)
                return result
            await environ["asgi.send"]({"type": "websocket.accept"})
            # Only long-polling POSTs read a body: drop the reader (and the class Engine.IO
            # defines for it on every request), which the connection would otherwise keep. The
            # scope's raw headers are copied into `environ` (python-socketio's `get_environ`) and
            # never read again either.
            environ.pop("wsgi.input", None)
            scope["headers"] = []
            sid = socket.sid
            link = uvicorn_protocol.open_link(
                scope, self.limit_bytes, lambda: self.farewell(sid), keepalive=False
            )
            if link is None:  # the client went away during the handshake
                await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
                return ""
            if await self._serve(socket, link, environ["asgi.receive"], server, scope):
                # The connection is an EngineIOConnection's now: let uvicorn's protocol object,
                # its queue and this task go (python-socketio keeps `environ` for `get_environ`).
                uvicorn_protocol.forget(scope)
                environ.pop("asgi.send", None)
                environ.pop("asgi.receive", None)
            return ""

        return serve

    async def _serve(
        self,
        socket: async_socket.AsyncSocket,
        link: Link,
        receive: Any,
        server: Any,
        scope: dict[str, Any],
    ) -> bool:
        """Run the connection; True when it was handed to an `EngineIOConnection` (which then
        serves it after this returns)."""
        max_bytes = server.max_http_buffer_size
        if socket.connected:  # upgrading from long-polling: the probe exchange, as Engine.IO does
            socket.upgrading = True  # packets sent meanwhile stay queued (and go out in order)
            pkt = await _next_packet(receive, max_bytes)
            if pkt is None or pkt.packet_type != eio_packet.PING or pkt.data != "probe":
                socket.upgrading = False
                link.close(frames.close_frame(NORMAL_CLOSURE))
                return False
            link.write(frames.text_frame(eio_packet.Packet(eio_packet.PONG, "probe").encode()))
            await socket.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending poll
            pkt = await _next_packet(receive, max_bytes)
            if pkt is None or pkt.packet_type != eio_packet.UPGRADE:
                socket.upgrading = False
                link.close(frames.close_frame(NORMAL_CLOSURE))
                return False
            fast = adopt(socket, link)
            fast.upgraded = True
            fast.upgrading = False
        else:
            socket.connected = True
            socket.upgraded = True
            fast = adopt(socket, link)

        reason = server.reason.TRANSPORT_CLOSE

        def successor(parser: Any, transport: Any, connections: set[Any]) -> EngineIOConnection:
            return EngineIOConnection(parser, transport, connections, fast, max_bytes, reason)

        if uvicorn_protocol.take_over(scope, successor) is not None:
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
