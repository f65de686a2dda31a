"""The uvicorn adapter: which transport a WebSocket scope belongs to, and taking it over.

uvicorn's `websockets-sansio` protocol writes its handshake and every frame whole and
synchronously to the asyncio transport, so frames we write to the same transport cannot land
inside one of its own. This module is the only one that reads that protocol's state
(`handshake_complete`, `close_sent`, `queue`, `close_timer`, ...); `probe` checks that it is
there before any of it is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from accolade.realtime.fastpath.link import Link

SCOPE_KEY = "accolade.fastpath"


class ExposeConnections:
    """Outermost ASGI layer: records each WebSocket connection's uvicorn protocol in its scope.

    Only here is `send` still uvicorn's own bound method; inner layers (Starlette's routing and
    middleware) wrap it, so this is where the fast path learns which transport a scope belongs to.
    Only connections of `protocol_class` (the class the probe checked) are recorded.
    """

    def __init__(self, app: ASGIApp, protocol_class: type[Any]) -> None:
        self.app = app
        self.protocol_class = protocol_class

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            protocol = getattr(send, "__self__", None)
            if type(protocol) is self.protocol_class:
                scope.setdefault("extensions", {})[SCOPE_KEY] = protocol
        await self.app(scope, receive, send)


def has_connection(scope: Scope) -> bool:
    """Was this WebSocket scope served by a protocol the fast path can write to?"""
    return scope.get("type") == "websocket" and SCOPE_KEY in scope.get("extensions", {})


def open_link(
    scope: Scope,
    limit_bytes: int,
    farewell: Callable[[], Iterable[bytes]] | None = None,
    *,
    keepalive: bool = True,
) -> Link | None:
    """A link for this accepted WebSocket connection, or None when it must use the ASGI path.

    `keepalive=False` stops uvicorn's WebSocket pings, for protocols that ping by themselves
    (Engine.IO): one timer less per idle connection.
    """
    protocol: Any = scope.get("extensions", {}).get(SCOPE_KEY)
    if protocol is None or not protocol.handshake_complete or protocol.close_sent:
        return None
    transport = protocol.transport
    if transport is None or transport.is_closing():
        return None
    # The handshake is done: its request and response are never read again, and they are the
    # largest thing the protocol would keep for the connection's lifetime (the request also
    # stays referenced by the `websockets` parser, hence emptying its headers).
    request = getattr(protocol, "request", None)
    if request is not None:
        request.headers.clear()
    protocol.request = protocol.response = None
    if not keepalive:
        protocol.stop_keepalive()
    return Link(transport, limit_bytes, farewell)


def forget(scope: Scope) -> None:
    """Drop the scope's reference to uvicorn's protocol (once the connection was taken over)."""
    scope.get("extensions", {}).pop(SCOPE_KEY, None)


class Successor(Protocol):
    """What takes a connection over from uvicorn: an asyncio protocol that accepts the messages
    uvicorn had already received for the ASGI app."""

    def push_message(self, message: dict[str, Any]) -> None: ...


S = TypeVar("S", bound=Successor)


class _TakenOver:
    """Stands in for uvicorn's close timer so that its ASGI task, when it ends, leaves the
    transport (now ours) open."""

    def cancel(self) -> None:
        pass


def take_over(scope: Scope, build: Callable[[Any, asyncio.Transport, set[Any]], S]) -> S | None:
    """Move an open connection's transport from uvicorn's protocol to
    `build(parser, transport, connections)`: the `websockets` parser past its handshake, the
    transport, and uvicorn's set of open connections (which it closes on shutdown).

    Returns None (and changes nothing) when the protocol is not in the state this expects.
    """
    protocol: Any = scope.get("extensions", {}).get(SCOPE_KEY)
    if protocol is None:
        return None
    if not protocol.handshake_complete or protocol.close_sent or protocol.frames:
        return None
    transport: asyncio.Transport = protocol.transport
    if transport.is_closing():
        return None
    successor = build(protocol.conn, transport, protocol.connections)
    pending: list[dict[str, Any]] = []
    while not protocol.queue.empty():
        pending.append(protocol.queue.get_nowait())
    protocol.connections.discard(protocol)
    protocol.connections.add(successor)
    transport.set_protocol(successor)  # type: ignore[arg-type]
    protocol.close_timer = _TakenOver()
    for message in pending:
        successor.push_message(message)
    if protocol.read_paused:
        transport.resume_reading()
    protocol.stop_keepalive()
    return successor
