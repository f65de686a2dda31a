"""The start-up check: are the versions and private attributes the fast path relies on there?

The fast path writes to uvicorn's transports, takes connections over from uvicorn's
`websockets-sansio` protocol, replaces Engine.IO's websocket driver and overrides private hooks
of python-socketio. None of that is public API, so before any of it is used the probe looks for
every attribute and signature it touches, on real objects built for the purpose, and for
versions in the range this code is tested with (`KNOWN_VERSIONS`, the same bounds as
`pyproject.toml`). What it finds missing is the reason the server uses the ordinary ASGI path.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Distribution -> (lowest tested version, first version not known to work): pyproject.toml's
# ranges for the same packages (a test keeps the two in step).
KNOWN_VERSIONS: dict[str, tuple[str, str]] = {
    "uvicorn": ("0.54", "0.55"),
    "python-engineio": ("4.15", "4.16"),
    "python-socketio": ("5.18", "5.19"),
    "websockets": ("17.0", "18"),
}

# What the fast path reads or sets on uvicorn's protocol once its handshake is done.
UVICORN_PROTOCOL_ATTRIBUTES = (
    "transport",
    "handshake_complete",
    "close_sent",
    "close_timer",
    "queue",
    "connections",
    "frames",
    "read_paused",
    "conn",
    "send",
    "stop_keepalive",
)
PARSER_ATTRIBUTES = ("receive_data", "events_received", "data_to_send", "close_rcvd", "parser_exc")
ENGINEIO_SOCKET_ATTRIBUTES = (
    "send",
    "receive",
    "close",
    "schedule_ping",
    "check_ping_timeout",
    "queue",
    "connected",
    "upgraded",
    "upgrading",
    "closing",
    "closed",
    "last_ping",
    "server",
    "sid",
)
ENGINEIO_SERVER_ATTRIBUTES = (
    "sockets",
    "send_packet",
    "disconnect",
    "reason",
    "max_http_buffer_size",
    "ping_interval",
)
SOCKETIO_MANAGER_ATTRIBUTES = (
    "rooms",
    "get_participants",
    "basic_enter_room",
    "sid_from_eio_sid",
    "get_namespaces",
)


@dataclass(frozen=True)
class ProbeResult:
    """What the probe found missing (nothing: the fast path can be used)."""

    missing: tuple[str, ...] = ()
    protocol_class: type[Any] | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return not self.missing


def check(
    protocol_class: type[Any] | None = None,
    *,
    versions: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Check the installed versions (or `versions`, for a test) and every attribute the fast
    path relies on, against `protocol_class` (default: uvicorn's `WebSocketsSansIOProtocol`)."""
    missing: list[str] = []
    missing += _versions(versions)
    if protocol_class is None:
        try:
            from uvicorn.protocols.websockets.websockets_sansio_impl import (
                WebSocketsSansIOProtocol,
            )
        except ImportError as exc:
            missing.append(f"uvicorn's websockets-sansio protocol cannot be imported ({exc})")
        else:
            protocol_class = WebSocketsSansIOProtocol
    if protocol_class is not None:
        missing += _section("uvicorn", lambda: _uvicorn_protocol(protocol_class))
    missing += _section("websockets", _websockets)
    missing += _section("engineio", _engineio)
    missing += _section("socketio", _socketio)
    return ProbeResult(tuple(missing), protocol_class)


def _section(name: str, check: Callable[[], list[str]]) -> list[str]:
    try:
        return check()
    except Exception as exc:  # whatever broke is the reason not to go on
        return [f"{name}: the check failed ({type(exc).__name__}: {exc})"]


def _release(version: str) -> tuple[int, ...]:
    """`0.54.0` -> (0, 54, 0); a suffix such as `rc1` or `.post1` ends the numbers."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in numbers.group(0).split(".")) if numbers else ()


def _versions(installed: Mapping[str, str] | None) -> list[str]:
    problems = []
    for name, (lowest, beyond) in KNOWN_VERSIONS.items():
        try:
            version = installed[name] if installed is not None else importlib.metadata.version(name)
        except (KeyError, importlib.metadata.PackageNotFoundError):
            problems.append(f"{name} is not installed")
            continue
        if not _release(lowest) <= _release(version) < _release(beyond):
            problems.append(f"{name} {version} is not a known version (>={lowest},<{beyond})")
    return problems


def _lacking(owner: object, names: tuple[str, ...], shown: str) -> list[str]:
    return [f"{shown} has no `{name}`" for name in names if not hasattr(owner, name)]


def _uvicorn_protocol(protocol_class: type[Any]) -> list[str]:
    """Build the protocol as uvicorn would (a loaded config, a server state) and look."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never run
        pass

    config = Config(app, ws=protocol_class, lifespan="off", log_config=None)
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = protocol_class(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    shown = protocol_class.__name__
    problems = _lacking(protocol, UVICORN_PROTOCOL_ATTRIBUTES, shown)
    if hasattr(protocol, "conn"):
        problems += _lacking(protocol.conn, PARSER_ATTRIBUTES, f"{shown}.conn")
    return problems


def _websockets() -> list[str]:
    from websockets.frames import Close, Frame, Opcode

    problems = []
    if Frame(Opcode.TEXT, b"a").serialize(mask=False) != b"\x81\x01a":
        problems.append("websockets frames a text frame differently")
    if Close(1000, "").serialize() != b"\x03\xe8":
        problems.append("websockets encodes a close frame differently")
    return problems


def _engineio() -> list[str]:
    import engineio
    from engineio import async_socket
    from engineio.async_drivers import asgi

    problems: list[str] = []
    server = engineio.AsyncServer(async_mode="asgi")
    drivers = getattr(server, "_async", None)
    if not isinstance(drivers, dict) or "websocket" not in drivers:
        problems.append("engineio.AsyncServer has no `_async['websocket']` driver hook")
    problems += _lacking(server, ENGINEIO_SERVER_ATTRIBUTES, "engineio.AsyncServer")
    if not hasattr(asgi, "WebSocket"):
        problems.append("engineio.async_drivers.asgi has no `WebSocket`")
    socket = async_socket.AsyncSocket(server, "probe")
    problems += _lacking(socket, ENGINEIO_SOCKET_ATTRIBUTES, "engineio AsyncSocket")
    try:  # sockets become FastSockets by class assignment
        from accolade.realtime.fastpath.engineio_socket import FastSocket

        socket.__class__ = FastSocket
    except TypeError as exc:
        problems.append(f"an engineio AsyncSocket cannot become a FastSocket ({exc})")
    return problems


def _socketio() -> list[str]:
    import socketio

    from accolade.realtime.fastpath.socketio_hooks import OVERRIDDEN

    problems: list[str] = []
    for name, parameters in OVERRIDDEN.items():
        method = getattr(socketio.AsyncServer, name, None)
        if method is None:
            problems.append(f"socketio.AsyncServer has no `{name}`")
        elif tuple(inspect.signature(method).parameters) != parameters:
            problems.append(f"socketio.AsyncServer.{name} takes other parameters")
    server = socketio.AsyncServer(async_mode="asgi")
    if not hasattr(server, "_send_packet"):
        problems.append("socketio.AsyncServer has no `_send_packet`")
    problems += _lacking(server, ("packet_class", "eio", "manager"), "socketio.AsyncServer")
    problems += _lacking(server.manager, SOCKETIO_MANAGER_ATTRIBUTES, "socketio's manager")
    return problems
