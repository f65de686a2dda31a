"""Socket.IO (official v4 clients, path /socket.io): namespaces /leaderboard, /training and /.

Handlers parse and authorise requests (`access`), then hand rooms to the gateway. Any refused or
malformed request is answered with `error {code, message}`; the connection stays open.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from accolade.bus.messages import RoomMessage
from accolade.domain import rooms
from accolade.domain.errors import DomainError, InvalidInput, Unauthorized
from accolade.domain.identity import Principal, Role
from accolade.realtime import access
from accolade.realtime.fastpath import FastPath, SocketIOTransport, enter_room
from accolade.realtime.gateway import Gateway, Joined, joined_payload
from accolade.realtime.limits import ClientLimits
from accolade.realtime.namespaces import LEADERBOARD, ROOT, TRAINING, carries
from accolade.realtime.registry import Registry, Session

log = logging.getLogger("accolade.socketio")

Handler = Callable[[str, Any], Awaitable[None]]
# Engine.IO closes a connection that sends a larger message (as Node's maxHttpBufferSize does);
# below it, our own checks refuse oversized fields with an `error` event and keep the connection.
MAX_FRAME_BYTES = 1024 * 1024
TOO_SLOW_ERROR = {
    "code": "too_slow",
    "message": "this connection stopped reading and was cut off; reconnect and join "
    "with `since` (the last eventId you saw) to catch up",
}


class Context:
    """What the namespaces share: the gateway, the registry and how to read tokens."""

    def __init__(
        self,
        gateway: Gateway,
        registry: Registry,
        token_reader: Callable[[str], Principal],
        public_display: bool,
        notifications: Callable[[Principal, Any], Awaitable[dict[str, Any]]] | None = None,
        contest_board: Callable[[int | str], Awaitable[dict[str, Any] | None]] | None = None,
        team_membership: access.TeamMembership | None = None,
    ) -> None:
        self.gateway = gateway
        self.registry = registry
        self.read_token = token_reader
        self.public_display = public_display
        self.mark_notification_read = notifications
        # Seed 003: `contest:subscribe` is answered with the standings (`leaderboard:update`).
        self.contest_board = contest_board
        self.team_membership = team_membership
        # Per connection: live events up to this id were already replayed to it (see Gateway.join).
        self.floors: dict[tuple[str, str], int] = {}  # (sid, room) -> id


class AccoladeNamespace(socketio.AsyncNamespace):
    """Common ground: token on connect, `join:*`/`leave:*`, errors as events."""

    join_kinds: tuple[str, ...] = ()

    def __init__(self, namespace: str, context: Context) -> None:
        super().__init__(namespace)
        self.context = context
        self.handlers: dict[str, Handler] = {}
        for kind in self.join_kinds:
            self.handlers[f"join:{kind}"] = self._joiner(kind)
            self.handlers[f"leave:{kind}"] = self._leaver(kind)

    # --- connection ----------------------------------------------------------------------------

    # Namespaces where a connection without a token can do nothing (seed 003's `/`).
    token_required = False

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        principal, problem = self._authenticate(auth)
        if problem is None and principal is None and self.token_required:
            problem = Unauthorized(f"the {self.namespace} namespace needs `auth: {{token}}`")
        if problem is not None:
            # Told why, then disconnected (the client's `disconnect` follows this `error`):
            # a connection whose token is refused is never left open doing nothing.
            # (A plain DISCONNECT: the one carrying refusal data after CONNECT, which
            # `always_connect` would send, is not understood by the official JS client.)
            await self._error(sid, problem)
            await self.disconnect(sid)
            return
        await self.save_session(sid, {"principal": principal})
        self.context.registry.open(
            Session(
                id=sid,
                namespace=self.namespace,
                transport="socket.io",
                user_key=principal.subject if principal else None,
                role=principal.role.value if principal else None,
            )
        )
        if principal is not None:
            await self.on_authenticated(sid, principal)

    async def on_authenticated(self, sid: str, principal: Principal) -> None:
        """Hook for namespaces that put a connection somewhere by itself."""

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.context.registry.close(sid)
        for key in [key for key in self.context.floors if key[0] == sid]:
            del self.context.floors[key]

    def _authenticate(self, auth: Any) -> tuple[Principal | None, DomainError | None]:
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is None:
            return None, None
        if not isinstance(token, str) or len(token) > 8192:
            return None, Unauthorized("`auth.token` must be a JWT string")
        try:
            return self.context.read_token(token), None
        except DomainError as exc:
            return None, exc

    async def principal(self, sid: str) -> Principal | None:
        session = await self.get_session(sid)
        principal: Principal | None = session.get("principal")
        return principal

    # --- events --------------------------------------------------------------------------------

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        handler = self.handlers.get(event)
        try:
            if handler is None:
                raise InvalidInput(f"unknown event {event[:100]!r} on {self.namespace}")
            await handler(sid, data)
        except DomainError as exc:
            await self._error(sid, exc)
        except Exception:
            log.exception("handling %s on %s failed", event, self.namespace)
            await self.emit(
                "error", {"code": "internal", "message": "the server failed; it is logged"}, to=sid
            )
        return None

    async def _error(self, sid: str, exc: DomainError) -> None:
        await self.emit("error", {"code": exc.code, "message": exc.message}, to=sid)

    def _joiner(self, kind: str) -> Handler:
        async def join(sid: str, data: Any) -> None:
            principal = await self.principal(sid)
            request = access.join_request(kind, data, principal, self.context.public_display)
            await access.admit(request, principal, self.context.team_membership)
            await self.join_room(sid, request.room, request.since)

        return join

    def _leaver(self, kind: str) -> Handler:
        async def leave(sid: str, data: Any) -> None:
            principal = await self.principal(sid)
            request = access.join_request(kind, data, principal, True)
            await self.leave_room(sid, request.room)
            self.context.registry.left(sid, request.room)
            await self.emit("left", {"room": request.room}, to=sid)

        return leave

    async def join_room(
        self, sid: str, room: str, since: int | None, *, announce: bool = True
    ) -> Joined:
        """Join `sid` to `room`: `joined` (unless `announce` is off), the missed events, live."""
        namespace = self.namespace

        async def answer(joined: Joined) -> None:
            if announce:
                await self.emit("joined", joined_payload(joined), to=sid)

        async def send(message: RoomMessage) -> None:
            await self.emit(message.event, message.data(), to=sid)

        def enter(floor: int) -> None:
            enter_room(self.server, sid, namespace, room)
            self.context.registry.entered(sid, room)
            if floor:
                self.context.floors[(sid, room)] = floor

        return await self.context.gateway.join(
            room,
            since,
            announce=answer,
            send=send,
            visible=lambda m: carries(namespace, m),
            enter=enter,
        )


class LeaderboardNamespace(AccoladeNamespace):
    join_kinds = ("tv-display", "user", "team", "contest")


class TrainingNamespace(AccoladeNamespace):
    join_kinds = ("user",)


class RootNamespace(AccoladeNamespace):
    """Seed 003's clients: a token is required; the user's own events arrive without joining."""

    def __init__(self, namespace: str, context: Context) -> None:
        super().__init__(namespace, context)
        self.handlers.update(
            {
                "contest:subscribe": self._subscribe("contest", "contestId"),
                "contest:unsubscribe": self._unsubscribe("contest", "contestId"),
                "problem:subscribe": self._subscribe("problem", "problemId"),
                "problem:unsubscribe": self._unsubscribe("problem", "problemId"),
                "notification:read": self._notification_read,
                "heartbeat": self._heartbeat,
            }
        )

    token_required = True

    async def on_authenticated(self, sid: str, principal: Principal) -> None:
        if principal.role is Role.USER:
            await self.join_room(sid, rooms.user(principal.subject), None, announce=False)

    async def _require_principal(self, sid: str) -> Principal:
        principal = await self.principal(sid)
        if principal is None:
            raise Unauthorized("this namespace needs `auth: {token}`")
        return principal

    def _subscribe(self, kind: str, field: str) -> Handler:
        async def subscribe(sid: str, data: Any) -> None:
            principal = await self._require_principal(sid)
            if not isinstance(data, dict):
                raise InvalidInput(f"send `{{{field}: id}}`")
            request = access.join_request(kind, data, principal, self.context.public_display)
            await access.admit(request, principal, self.context.team_membership)
            await self.join_room(sid, request.room, request.since)
            if kind == "contest" and self.context.contest_board is not None:
                board = await self.context.contest_board(request.room.partition(":")[2])
                if board is not None:
                    await self.emit("leaderboard:update", board, to=sid)

        return subscribe

    def _unsubscribe(self, kind: str, field: str) -> Handler:
        async def unsubscribe(sid: str, data: Any) -> None:
            principal = await self._require_principal(sid)
            if not isinstance(data, dict):
                raise InvalidInput(f"send `{{{field}: id}}`")
            request = access.join_request(kind, data, principal, True)
            await self.leave_room(sid, request.room)
            self.context.registry.left(sid, request.room)
            await self.emit("left", {"room": request.room}, to=sid)

        return unsubscribe

    async def _notification_read(self, sid: str, data: Any) -> None:
        principal = await self._require_principal(sid)
        if self.context.mark_notification_read is None:
            raise InvalidInput("notifications are not available")
        result = await self.context.mark_notification_read(principal, data)
        await self.emit("notification:read", result, to=sid)

    async def _heartbeat(self, sid: str, data: Any) -> None:
        self.context.registry.heartbeat(sid)
        await self.emit("heartbeat", {"ok": True}, to=sid)


def build_server(
    context: Context,
    cors_origins: list[str],
    *,
    write_buffer_bytes: int = 1024 * 1024,
    fast_path: FastPath | None = None,
    limits: ClientLimits | None = None,
    ping_interval_s: int = 25,
    ping_timeout_s: int = 20,
    connect_timeout_s: float = 45.0,
) -> socketio.AsyncServer:
    """The Socket.IO server; with `fast_path` on, websocket connections are written to directly
    (`fastpath`), each cut off once more than `write_buffer_bytes` wait unsent for it. `limits`:
    messages a second per connection and connections per node. Engine.IO pings every
    `ping_interval_s` and closes a connection whose pong is `ping_timeout_s` late, or that has
    connected to no namespace `connect_timeout_s` after it opened."""
    fast_path = fast_path or FastPath(None, "not requested")
    server = fast_path.socketio_server(
        limits=limits or ClientLimits(),
        write_buffer_bytes=write_buffer_bytes,
        too_slow_error=TOO_SLOW_ERROR,
        async_mode="asgi",
        cors_allowed_origins=cors_origins or None,
        max_http_buffer_size=MAX_FRAME_BYTES,
        ping_interval=ping_interval_s,
        ping_timeout=ping_timeout_s,
        connect_timeout_s=connect_timeout_s,
        always_connect=True,
        # One connection's requests are handled one after another, in the order sent
        # (`join` then `leave` must not be answered `left` then `joined`).
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )
    namespaces: dict[str, type[AccoladeNamespace]] = {
        LEADERBOARD: LeaderboardNamespace,
        TRAINING: TrainingNamespace,
        ROOT: RootNamespace,
    }
    for name, namespace in namespaces.items():
        server.register_namespace(namespace(name, context))
    context.gateway.add_transport(SocketIOTransport(server, namespaces, carries, context.floors))
    return server
