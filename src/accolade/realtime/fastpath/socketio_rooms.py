"""Room delivery for Socket.IO: each event encoded and framed once per namespace.

Members on the websocket fast path (`FastSocket`) get the same frame bytes written to their
connection; the rest (long-polling, mid-upgrade, or the fast path off) get the packet through
Engine.IO's queue. No task per recipient either way. This reads python-socketio's room table
and Engine.IO's sockets directly: the one loop over every member of a room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from accolade.bus.messages import RoomMessage
from accolade.realtime.fastpath import frames
from accolade.realtime.fastpath.engineio_socket import FastSocket


class SocketIOTransport:
    """The gateway's transport for Socket.IO members of `namespaces`.

    `carries(namespace, message)` says whether a namespace delivers the event; `floors` holds,
    per (sid, room), the id up to which a member already got events replayed on join.
    """

    def __init__(
        self,
        server: socketio.AsyncServer,
        namespaces: Iterable[str],
        carries: Callable[[str, RoomMessage], bool],
        floors: dict[tuple[str, str], int],
    ) -> None:
        self.server = server
        self.namespaces = tuple(namespaces)
        self.carries = carries
        self.floors = floors

    async def deliver(self, message: RoomMessage) -> None:
        manager = self.server.manager
        eio = self.server.eio
        sockets = eio.sockets
        data: dict[str, Any] | None = None
        for namespace in self.namespaces:
            if message.room not in manager.rooms.get(namespace, {}):
                continue
            if not self.carries(namespace, message):
                continue
            data = data or message.data()
            encoded = self.server.packet_class(
                sio_packet.EVENT, namespace=namespace, data=[message.event, data]
            ).encode()
            parts = encoded if isinstance(encoded, list) else [encoded]
            packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
            # Binary attachments (never sent by Accolade itself) take Engine.IO's own path.
            frame = frames.engineio_message(encoded) if isinstance(encoded, str) else None
            floors = self.floors
            for sid, eio_sid in manager.get_participants(namespace, message.room):
                if floors and (floor := floors.get((sid, message.room))) is not None:
                    if message.seq <= floor:
                        continue  # replayed to it on join already
                    del floors[(sid, message.room)]
                socket = sockets.get(eio_sid)
                if frame is not None and type(socket) is FastSocket and socket.link is not None:
                    socket.link.write(frame)
                    continue
                for pkt in packets:
                    await eio.send_packet(eio_sid, pkt)


def enter_room(server: socketio.AsyncServer, sid: str, namespace: str, room: str) -> None:
    """Add `sid` to `room` at once (no await: the gateway admits a member between two events)."""
    server.manager.basic_enter_room(sid, namespace, room)


def too_slow_farewell(
    server: socketio.AsyncServer, error: dict[str, Any]
) -> Callable[[str], list[bytes]]:
    """The `error` event, in each namespace it is connected to, for a connection being cut off
    because it stopped reading (it reconnects and catches up by id)."""

    def farewell(eio_sid: str) -> list[bytes]:
        namespaces = [
            namespace
            for namespace in list(server.manager.get_namespaces())
            if server.manager.sid_from_eio_sid(eio_sid, namespace) is not None
        ]
        return [
            frames.engineio_message(
                server.packet_class(
                    sio_packet.EVENT, namespace=namespace, data=["error", error]
                ).encode()
            )
            for namespace in namespaces
        ]

    return farewell
