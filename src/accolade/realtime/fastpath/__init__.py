"""The real-time fast path, behind one seam: `FastPath`.

A room event is framed once and the same bytes are written to every WebSocket member's asyncio
transport (BENCHMARKS.md, "Fan-out at wire speed"). Doing that means reaching into uvicorn's
`websockets-sansio` protocol, Engine.IO's websocket driver and python-socketio's private hooks;
all of it lives in this package, a module an idea:

- `link`: one connection's way out (frames written in order, coalesced per loop iteration, a
  reader that stops reading cut off);
- `frames`: server frames built once (`websockets`' framing);
- `uvicorn_protocol`: which transport a scope belongs to; taking a connection over from uvicorn;
- `engineio_socket`, `engineio_driver`, `engineio_connection`: Engine.IO sockets that write to
  their link, the websocket driver that opens it, and reading an open connection without ASGI;
- `socketio_hooks`, `socketio_rooms`: python-socketio's server with Accolade's hooks, and room
  delivery (one encoded frame for all members);
- `engineio_server`: python-engineio's server answering refused and malformed requests as Node's
  engine.io does (also on the ordinary path);
- `probe`: at start-up, are the versions and attributes all this relies on there?

The rest of `realtime/` calls only `FastPath` (and the names exported here). `FastPath.select`
runs the probe: when something is missing, or `ACCOLADE_FAST_PATH=off`, every connection takes
the ordinary ASGI path (one log line says why), which clients cannot tell apart.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any, Literal

import socketio
from starlette.types import ASGIApp, Scope

from accolade.realtime.fastpath import probe, uvicorn_protocol
from accolade.realtime.fastpath.engineio_driver import WebSocketTransport
from accolade.realtime.fastpath.frames import close_frame, text_frame
from accolade.realtime.fastpath.link import TOO_SLOW_CODE, TOO_SLOW_REASON, Link
from accolade.realtime.fastpath.probe import ProbeResult
from accolade.realtime.fastpath.socketio_hooks import Server
from accolade.realtime.fastpath.socketio_rooms import (
    SocketIOTransport,
    enter_room,
    too_slow_farewell,
)
from accolade.realtime.limits import ClientLimits

__all__ = [
    "TOO_SLOW_CODE",
    "TOO_SLOW_REASON",
    "FastPath",
    "Link",
    "SocketIOTransport",
    "close_frame",
    "enter_room",
    "text_frame",
]

log = logging.getLogger("accolade.fastpath")

# uvicorn's name for the protocol class the default probe checks.
UVICORN_WS = "websockets-sansio"

_said: set[str] = set()  # log lines already written by this process


def _say_once(level: int, message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.log(level, message)


@functools.cache
def _default_probe() -> ProbeResult:
    return probe.check()


class FastPath:
    """On: WebSocket connections served by the probed uvicorn protocol get a `Link`; off: every
    connection keeps the ordinary ASGI path. Build one with `select`."""

    def __init__(self, probed: ProbeResult | None, reason: str | None = None) -> None:
        self.enabled = probed is not None and probed.ok and reason is None
        self.protocol_class = probed.protocol_class if probed is not None else None
        self.reason = reason or (
            "; ".join(probed.missing) if probed is not None and probed.missing else None
        )

    @classmethod
    def select(
        cls, setting: Literal["on", "off"] = "on", *, protocol_class: type[Any] | None = None
    ) -> FastPath:
        """The fast path if `setting` is on and the probe (against `protocol_class`, default
        uvicorn's sans-I/O protocol) finds what it needs; otherwise the ordinary path, said once
        in the log."""
        if setting == "off":
            _say_once(
                logging.INFO,
                "real-time fast path off (ACCOLADE_FAST_PATH=off): WebSocket connections use "
                "the ordinary ASGI path",
            )
            return cls(None, "switched off by ACCOLADE_FAST_PATH=off")
        probed = _default_probe() if protocol_class is None else probe.check(protocol_class)
        fast = cls(probed)
        if not fast.enabled:
            _say_once(
                logging.WARNING,
                f"real-time fast path unavailable ({fast.reason}): WebSocket connections use "
                "the ordinary ASGI path",
            )
        return fast

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The outermost ASGI layer: lets connections find their uvicorn transport."""
        if not self.enabled or self.protocol_class is None:
            return app
        return uvicorn_protocol.ExposeConnections(app, self.protocol_class)

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn options the fast path needs: the protocol it writes through, and no
        per-message deflate (its frames go out uncompressed; deflate state would only cost
        memory). Off: none, uvicorn's defaults."""
        if not self.enabled:
            return {}
        return {"ws": UVICORN_WS, "ws_per_message_deflate": False}

    def open_link(
        self, scope: Scope, limit_bytes: int, farewell: Callable[[], Iterable[bytes]] | None = None
    ) -> Link | None:
        """A link for this accepted WebSocket connection, or None: use ASGI `send`."""
        if not self.enabled:
            return None
        return uvicorn_protocol.open_link(scope, limit_bytes, farewell)

    def socketio_server(
        self,
        *,
        limits: ClientLimits,
        write_buffer_bytes: int,
        too_slow_error: dict[str, Any],
        **options: Any,
    ) -> socketio.AsyncServer:
        """python-socketio's server with Accolade's hooks (`socketio_hooks`); with the fast path
        on, websocket connections are served by our Engine.IO driver, each cut off (after
        `too_slow_error`) once more than `write_buffer_bytes` wait unsent for it."""
        server = Server(limits=limits, fast_path=self.enabled, **options)
        if self.enabled:
            farewell = too_slow_farewell(server, too_slow_error)
            server.eio._async = {
                **server.eio._async,
                "websocket": WebSocketTransport(write_buffer_bytes, farewell),
            }
        return server
