"""An open Engine.IO websocket connection, served without ASGI: what an idle client costs.

Once a fast-path Engine.IO connection is open (handshake done, socket adopted), uvicorn's
protocol object, its receive queue and the ASGI task that waits on it are only there to pass the
client's messages on. `uvicorn_protocol.take_over` moves the connection's transport to an
`EngineIOConnection` instead: the same `websockets` sans-I/O parser (no frame handling of our
own), a small inbox handed to the Engine.IO socket in order by a task that exists only while
there is something to handle, and nothing else per connection. Everything sent to the client
still goes through the socket's `link.Link`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from engineio import exceptions
from engineio import packet as eio_packet
from websockets.frames import Frame, Opcode

from accolade.realtime.fastpath import frames
from accolade.realtime.fastpath.engineio_server import (
    IGNORED,
    INVALID_DATA,
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
    client_packet,
)

log = logging.getLogger("accolade.engineio")

# Reading stops while this many packets wait to be handled (the client waits, not our memory).
MAX_INBOX_PACKETS = 16


class EngineIOConnection(asyncio.Protocol):
    """The transport's protocol for one open Engine.IO websocket connection."""

    __slots__ = (
        "_closed_reason",
        "_connections",
        "_fragments",
        "_inbox",
        "_max_bytes",
        "_parser",
        "_reader",
        "_socket",
        "_transport",
    )

    def __init__(
        self,
        parser: Any,  # websockets.server.ServerProtocol, past its handshake
        transport: asyncio.Transport,
        connections: set[Any],
        socket: Any,  # engineio_socket.FastSocket
        max_bytes: int,
        closed_reason: Any,
    ) -> None:
        self._parser = parser
        self._transport = transport
        self._connections = connections
        self._socket = socket
        self._max_bytes = max_bytes
        self._closed_reason = closed_reason
        # Packets waiting for the Engine.IO socket (None: the connection is gone); only while
        # there are some, so that an idle connection keeps no deque.
        self._inbox: deque[eio_packet.Packet | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._fragments: tuple[Opcode, list[bytes]] | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        parser.receive_data(data)
        for event in parser.events_received():
            if isinstance(event, Frame):
                self._frame(event)
        if out := parser.data_to_send():  # pongs, the close reply
            self._transport.write(b"".join(out))
        if parser.close_rcvd is not None or parser.parser_exc is not None:
            self._transport.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._push(None)

    def pause_writing(self) -> None:
        pass  # the socket's Link watches the transport's buffer itself

    def resume_writing(self) -> None:
        pass

    def shutdown(self) -> None:
        """uvicorn's server shutdown: close with 1012 (service restart), as uvicorn would."""
        self._socket.link.close(frames.close_frame(1012))

    # --- packets -------------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
            if frame.fin:
                self._message(frame.opcode, bytes(frame.data))
            else:  # a fragmented message (clients rarely send them): gather the rest first
                self._fragments = (frame.opcode, [bytes(frame.data)])
        elif frame.opcode is Opcode.CONT and self._fragments is not None:
            opcode, parts = self._fragments
            parts.append(bytes(frame.data))
            if frame.fin:
                self._fragments = None
                self._message(opcode, b"".join(parts))

    def _message(self, opcode: Opcode, data: bytes) -> None:
        if len(data) > self._max_bytes:
            self._close(MESSAGE_TOO_BIG)  # as Node's engine.io does with a message past maxPayload
            return
        try:
            text: bytes | str = data.decode() if opcode is Opcode.TEXT else data
        except UnicodeDecodeError:
            self._close(INVALID_DATA)
            return
        self._packet(text)

    def push_message(self, message: dict[str, Any]) -> None:
        """A message uvicorn had already received for the ASGI app before the take-over."""
        if message["type"] != "websocket.receive":
            self._push(None)
            return
        data = message.get("text")
        if data is None:
            data = message.get("bytes")
        if data is None or len(data) > self._max_bytes:
            self._close(MESSAGE_TOO_BIG)
            return
        self._packet(data)

    def _packet(self, data: str | bytes) -> None:
        """Hand one message to the socket; one that is not an Engine.IO packet a client may send
        closes the connection, as Node's engine.io closes it ("parse error")."""
        pkt = client_packet(data)
        if pkt is None:
            self._close(NORMAL_CLOSURE)
        elif pkt.packet_type not in IGNORED:
            self._push(pkt)

    def _close(self, code: int) -> None:
        """Close with a close frame (`code`), not by dropping the connection."""
        link = self._socket.link
        if link is not None:
            link.close(frames.close_frame(code))
        else:
            self._transport.close()

    def _push(self, pkt: eio_packet.Packet | None) -> None:
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append(pkt)
        if len(self._inbox) >= MAX_INBOX_PACKETS and not self._transport.is_closing():
            self._transport.pause_reading()
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._handle_inbox(self._inbox))

    async def _handle_inbox(self, inbox: deque[eio_packet.Packet | None]) -> None:
        """Hand the packets to the Engine.IO socket one after another, in the order received."""
        socket = self._socket
        try:
            while inbox:
                pkt = inbox.popleft()
                if len(inbox) < MAX_INBOX_PACKETS // 2 and not self._transport.is_closing():
                    self._transport.resume_reading()
                if pkt is None:
                    await socket.close(wait=False, abort=True, reason=self._closed_reason)
                    inbox.clear()
                    return
                try:
                    await socket.receive(pkt)
                except exceptions.UnknownPacketError:
                    pass
                except exceptions.SocketIsClosedError:
                    self._transport.close()
                except Exception:
                    log.exception("Engine.IO packet from %s failed", socket.sid)
        finally:
            self._reader = None
            self._inbox = None
