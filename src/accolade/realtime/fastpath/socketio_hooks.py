"""The Socket.IO adapter: python-socketio's server with the private hooks Accolade needs.

python-socketio has no public hook for what happens before a packet reaches a namespace, so the
few things that must happen there override its private `_handle_*` methods, here and nowhere
else (`probe` checks that they exist with the signatures overridden):

- client events it would otherwise misroute (names that are not strings, the reserved
  `connect`/`disconnect`) and packets that cannot be decoded answer `error validation_error`;
- each connection's messages a second are counted before they are decoded (`limits`): the excess
  is dropped with one `error rate_limited` a second, a connection that keeps flooding is
  disconnected;
- beyond the node's connection cap a namespace connect is answered `connect_error` (with
  `data.code` `too_many_connections`) and the Engine.IO connection is closed soon after;
- sockets arriving over a fast-path WebSocket become `FastSocket`s from the start;
- a packet that breaks the protocol closes the connection, as Node's Socket.IO closes it (a type
  a client does not send, binary data outside a binary packet, a second CONNECT to a namespace,
  anything else to a namespace not connected), as is one that connects to no namespace within
  `connect_timeout_s`; a CONNECT to a namespace that does not exist is
  answered as Node answers it, and Engine.IO is `engineio_server`'s (Node's HTTP answers).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from accolade.realtime.fastpath.engineio_server import EngineIOServer
from accolade.realtime.fastpath.engineio_socket import expect_websocket
from accolade.realtime.limits import ClientLimits, EmitRate, Verdict

log = logging.getLogger("accolade.socketio")

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "__disconnect_final"})
# The Socket.IO packet types a client sends: CONNECT, DISCONNECT, EVENT, ACK, BINARY_EVENT and
# BINARY_ACK (CONNECT_ERROR goes from the server only).
CLIENT_PACKET_TYPES = frozenset("012356")
# An Engine.IO connection that has connected to no namespace this long after it opened is
# closed (Node's `connectTimeout`, its default).
CONNECT_TIMEOUT_S = 45.0
# A refused (over the cap) Engine.IO connection is closed this long after its `connect_error`,
# if the client has not closed it itself (official clients do at once).
REFUSED_CLOSE_AFTER_S = 5.0

# The private methods overridden below, with the parameters they are called with.
OVERRIDDEN = {
    "_handle_event_internal": ("self", "server", "sid", "eio_sid", "data", "namespace", "id"),
    "_handle_eio_message": ("self", "eio_sid", "data"),
    "_handle_eio_connect": ("self", "eio_sid", "environ"),
    "_handle_eio_disconnect": ("self", "eio_sid", "reason"),
    "_handle_connect": ("self", "eio_sid", "namespace", "data"),
    "_handle_event": ("self", "eio_sid", "namespace", "id", "data"),
    "_engineio_server_class": ("self",),
}


class Server(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's `AsyncServer` with Accolade's packet checks, limits and fast path."""

    def __init__(
        self,
        *,
        limits: ClientLimits | None = None,
        fast_path: bool = False,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.limits = limits or ClientLimits()
        self.fast_path = fast_path
        self.connect_timeout_s = connect_timeout_s
        self._rates: dict[str, EmitRate] = {}  # eio sid -> its messages this second
        self._admitted: set[str] = set()  # eio sids counted in the connection cap
        self._refused: set[str] = set()  # eio sids beyond the cap
        self._closing: set[asyncio.Task[None]] = set()

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        name = data[0] if isinstance(data, list) and data else None
        if not isinstance(name, str) or name in RESERVED_EVENTS:
            shown = name if isinstance(name, str) else type(name).__name__
            await self.emit(
                "error",
                {
                    "code": "validation_error",
                    "message": f"not an event name a client may send: {shown!r}",
                },
                to=sid,
                namespace=namespace,
            )
            return
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """Count, decode and dispatch one Socket.IO packet; one that cannot be decoded (not JSON,
        nested deeper than the parser's recursion limit) is answered with an `error` in its
        namespace and the connection is kept, as for any other malformed request."""
        rate = self._rates.get(eio_sid)
        if rate is None and (rate := self.limits.rate()) is not None:
            self._rates[eio_sid] = rate
        if rate is not None:
            verdict = rate.check(asyncio.get_running_loop().time())
            if verdict is not Verdict.ADMIT:
                await self._over_rate(eio_sid, data, verdict)
                return
        if eio_sid not in self._binary_packet and not self._in_protocol(eio_sid, data):
            log.info("Socket.IO packet out of protocol from %s: closing the connection", eio_sid)
            await self._close_connection(eio_sid)
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, RecursionError) as exc:
            namespace = packet_namespace(data)
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            log.info("undecodable Socket.IO packet on %s: %s", namespace, type(exc).__name__)
            if sid is None:
                return  # not connected to that namespace: nobody to tell
            reason = "nested too deeply" if isinstance(exc, RecursionError) else "not valid"
            await self.emit(
                "error",
                {
                    "code": "validation_error",
                    "message": f"the packet could not be read: its JSON is {reason}",
                },
                to=sid,
                namespace=namespace,
            )

    def _in_protocol(self, eio_sid: str, data: Any) -> bool:
        """Is this (not an attachment) a packet Node's Socket.IO would take in this state?"""
        if not isinstance(data, str) or data[:1] not in CLIENT_PACKET_TYPES:
            return False
        connected = self.manager.sid_from_eio_sid(eio_sid, packet_namespace(data)) is not None
        return connected != (data[0] == str(sio_packet.CONNECT))

    async def _close_connection(self, eio_sid: str) -> None:
        """Close the Engine.IO connection at once (python-socketio has no call for it)."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return
        if socket.upgraded or socket.queue is None:  # Node sends no CLOSE over a websocket
            await socket.close(wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)
            self.eio.sockets.pop(eio_sid, None)
            return
        # A long-polling client gets a noop and CLOSE, by the poll waiting or the next one
        # (`engineio_server` answers it from the closed session), as from Node.
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))
        await socket.close(wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)

    async def _handle_event(self, eio_sid: str, namespace: str, id: Any, data: Any) -> None:
        if not isinstance(data, list) or not data:  # python-socketio would fail on data[0]
            namespace = namespace or "/"
            await self.emit(
                "error",
                {
                    "code": "validation_error",
                    "message": "an event is a JSON array: [name, ...arguments]",
                },
                to=self.manager.sid_from_eio_sid(eio_sid, namespace),
                namespace=namespace,
            )
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    def _engineio_server_class(self) -> type[EngineIOServer]:
        return EngineIOServer

    async def _over_rate(self, eio_sid: str, data: Any, verdict: Verdict) -> None:
        """A packet beyond the connection's rate: dropped; told once a second; a connection that
        keeps flooding is told and disconnected from every namespace, then closed."""
        if verdict is Verdict.DROP:
            return
        closing = verdict is Verdict.CLOSE
        error = self.limits.rate_limited_error(closing)
        namespace = packet_namespace(data)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None:
            await self.emit("error", error, to=sid, namespace=namespace)
        if not closing:
            return
        log.warning("closing a Socket.IO connection that keeps flooding (%s)", error["message"])
        for connected in list(self.manager.get_namespaces()):
            if (other := self.manager.sid_from_eio_sid(eio_sid, connected)) is not None:
                await self.disconnect(other, namespace=connected)
        await self.eio.disconnect(eio_sid)

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        if not self.limits.admit_connection():
            self._refused.add(eio_sid)
        else:
            self._admitted.add(eio_sid)
        await super()._handle_eio_connect(eio_sid, environ)
        if self.fast_path and (socket := self.eio.sockets.get(eio_sid)) is not None:
            expect_websocket(socket, environ)
        asyncio.get_running_loop().call_later(
            self.connect_timeout_s, self._close_if_unconnected, eio_sid
        )

    def _close_if_unconnected(self, eio_sid: str) -> None:
        if eio_sid not in self.eio.sockets or any(
            self.manager.sid_from_eio_sid(eio_sid, namespace) is not None
            for namespace in list(self.manager.get_namespaces())
        ):
            return
        task = asyncio.get_running_loop().create_task(self._close_connection(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _handle_connect(self, eio_sid: str, namespace: str, data: Any) -> None:
        if (namespace or "/") not in self.namespace_handlers:
            # Node's answer; python-socketio's ("Unable to connect", a bare string) leaves the
            # official client's `err.message` empty.
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    sio_packet.CONNECT_ERROR,
                    data={"message": "Invalid namespace"},
                    namespace=namespace or "/",
                ),
            )
            return
        if eio_sid not in self._refused:
            await super()._handle_connect(eio_sid, namespace, data)
            return
        # Beyond the cap: the client's `connect_error` says why (`err.message`, `err.data.code`).
        error = self.limits.full_error()
        await self._send_packet(
            eio_sid,
            self.packet_class(
                sio_packet.CONNECT_ERROR,
                data={"message": error["message"], "data": error},
                namespace=namespace or "/",
            ),
        )
        asyncio.get_running_loop().call_later(REFUSED_CLOSE_AFTER_S, self._close_refused, eio_sid)

    def _close_refused(self, eio_sid: str) -> None:
        if eio_sid in self._refused and eio_sid in self.eio.sockets:
            task = asyncio.get_running_loop().create_task(self.eio.disconnect(eio_sid))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await super()._handle_eio_disconnect(eio_sid, reason)
        self._rates.pop(eio_sid, None)
        self._refused.discard(eio_sid)
        if eio_sid in self._admitted:
            self._admitted.discard(eio_sid)
            self.limits.connection_closed()
        # A long-polling client that closed leaves a GET waiting for packets that will never
        # come (Engine.IO would hold it, and the server's shutdown, for up to 45 s): end it.
        # It gets a noop, as Node ends it, unless a packet already waits for it (a CLOSE); a
        # websocket's writer just stops.
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and socket.queue is not None:
            if not socket.upgraded and socket.queue.empty():
                socket.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))
            socket.queue.put_nowait(None)


def packet_namespace(data: Any) -> str:
    """The namespace a raw Socket.IO packet (`2/leaderboard,[...]`, `51-/leaderboard,[...]`) is
    addressed to, read without decoding its JSON; `/` when it names none."""
    if not isinstance(data, str):
        return "/"
    header = data[1:]
    if data[:1] in ("5", "6"):  # binary: the number of attachments, then `-`
        header = header.partition("-")[2]
    if header[:1] == "/":
        return header.partition(",")[0][:200]
    return "/"
