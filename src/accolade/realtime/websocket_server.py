"""Plain WebSocket (JSON text frames) for wscat and non-Socket.IO clients.

Paths `/leaderboard` and `/training` take `{"type": "join:tv-display", "since"?: ID}` and the like;
`/game-events` streams the token's own user events without joining (seed 002's GameEvent).
The server sends `{"type", "data", "timestamp", "id"}`; `id` is the room event id for catch-up.

With the fast path on (`fastpath.FastPath`), each room event is framed once and the same bytes
are written to every member's transport (`fastpath.Link`); direct answers (`joined`, `error`) go
through the same link, so order holds. Otherwise (the fast path off, or a server it cannot write
to) a connection gets a writer task over ASGI `send`, with the same limits. On both, the node's
`limits` apply: messages a second per connection, connections per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from accolade.bus.messages import RoomMessage
from accolade.domain import rooms
from accolade.domain.errors import DomainError, Forbidden, InvalidInput, Unauthorized
from accolade.domain.identity import Principal, Role
from accolade.domain.wire import now_iso
from accolade.realtime import access
from accolade.realtime.fastpath import TOO_SLOW_CODE, TOO_SLOW_REASON, FastPath, text_frame
from accolade.realtime.fastpath import close_frame as ws_close_frame
from accolade.realtime.gateway import Gateway, Joined, joined_payload
from accolade.realtime.limits import (
    FLOOD_CLOSE_CODE,
    FLOOD_CLOSE_REASON,
    FULL_CLOSE_CODE,
    FULL_CLOSE_REASON,
    ClientLimits,
    EmitRate,
    Verdict,
)
from accolade.realtime.namespaces import GAME_EVENTS, LEADERBOARD, TRAINING, carries
from accolade.realtime.registry import Registry, Session

log = logging.getLogger("accolade.websocket")

MAX_FRAME_CHARS = 64 * 1024

# Close codes (application range): the token was refused or is missing where one is required,
# or it may not use this path. The `error` event saying why is sent just before.
UNAUTHORIZED_CLOSE_CODE = 4401
FORBIDDEN_CLOSE_CODE = 4403

JOIN_KINDS = {
    LEADERBOARD: ("tv-display", "user", "team", "contest"),
    TRAINING: ("user",),
    GAME_EVENTS: (),
}


def envelope(
    kind: str, data: Any, event_id: int | None = None, timestamp: str | None = None
) -> str:
    return json.dumps(
        {"type": kind, "data": data, "timestamp": timestamp or now_iso(), "id": event_id},
        separators=(",", ":"),
    )


class Member:
    """One plain WebSocket connection. A slow reader delays only itself: past
    `write_buffer_bytes` unsent it is closed with 1013 and catches up by id on reconnect."""

    def __init__(
        self,
        websocket: WebSocket,
        path: str,
        principal: Principal | None,
        write_buffer_bytes: int,
        fast_path: FastPath,
        rate: EmitRate | None = None,
    ) -> None:
        self.id = "ws-" + uuid.uuid4().hex[:20]
        self.websocket = websocket
        self.path = path
        self.principal = principal
        self.rooms: set[str] = set()
        self.floors: dict[str, int] = {}  # room -> live events up to this id were replayed
        self.rate = rate  # its messages this second (None: no limit)
        self.link = fast_path.open_link(websocket.scope, write_buffer_bytes)
        # Without a link (another ASGI server): a writer task, bounded by queued characters.
        self.write_buffer_bytes = write_buffer_bytes
        self.queue: asyncio.Queue[str | None] | None = None
        self.queued_chars = 0
        self.closing: tuple[int, str] | None = None  # (code, reason) once `close` was called
        self.writer: asyncio.Task[None] | None = None
        if self.link is None:
            self.queue = asyncio.Queue()
            self.writer = asyncio.create_task(self.write_loop(), name=f"ws-writer-{self.id}")

    def send(self, frame: str) -> None:
        if self.link is not None:
            self.link.write(text_frame(frame))
        else:
            self.enqueue(frame)

    def send_frame(self, text: str, frame: bytes) -> None:
        """Send a room event already framed (`frame`) for the fast path, or as `text`."""
        if self.link is not None:
            self.link.write(frame)
        else:
            self.enqueue(text)

    def enqueue(self, text: str) -> None:
        assert self.queue is not None
        if self.queued_chars > self.write_buffer_bytes:
            self.queue.put_nowait(None)  # tells the writer to cut the connection
            return
        self.queued_chars += len(text)
        self.queue.put_nowait(text)

    def close(self, code: int, reason: str) -> None:
        """Close the connection after what was sent so far (requests that follow are ignored)."""
        if self.closing is not None:
            return
        self.closing = (code, reason)
        if self.link is not None:
            self.link.close(ws_close_frame(code, reason))
        else:
            assert self.queue is not None
            self.queue.put_nowait(None)

    async def write_loop(self) -> None:
        assert self.queue is not None
        while True:
            text = await self.queue.get()
            if text is None:
                code, reason = self.closing or (TOO_SLOW_CODE, TOO_SLOW_REASON)
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=code, reason=reason)
                return
            self.queued_chars -= len(text)
            await self.websocket.send_text(text)

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer


class PlainWebSockets:
    """The plain WebSocket transport: routes for the app, and room delivery for the gateway."""

    def __init__(
        self,
        gateway: Gateway,
        registry: Registry,
        token_reader: Callable[[str], Principal],
        public_display: bool,
        *,
        write_buffer_bytes: int = 1024 * 1024,
        team_membership: access.TeamMembership | None = None,
        fast_path: FastPath | None = None,
        limits: ClientLimits | None = None,
    ) -> None:
        self.gateway = gateway
        self.fast_path = fast_path or FastPath(None, "not requested")
        self.limits = limits or ClientLimits()
        self.team_membership = team_membership
        self.write_buffer_bytes = write_buffer_bytes
        self.registry = registry
        self.read_token = token_reader
        self.public_display = public_display
        self.members: dict[str, dict[str, set[Member]]] = {path: {} for path in JOIN_KINDS}
        gateway.add_transport(self)

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute(path, self._endpoint(path)) for path in JOIN_KINDS]

    async def deliver(self, message: RoomMessage) -> None:
        for path, by_room in self.members.items():
            members = by_room.get(message.room)
            if not members or not carries(path, message):
                continue
            data = message.data()
            if path == GAME_EVENTS:
                data = {"userId": data.get("userId"), **data}
            text = envelope(message.event, data, message.seq, message.timestamp)
            frame = text_frame(text)  # once for every member: server frames are unmasked
            for member in members:
                if member.floors and (floor := member.floors.get(message.room)) is not None:
                    if message.seq <= floor:
                        continue
                    del member.floors[message.room]
                member.send_frame(text, frame)

    def _enter(self, member: Member, room: str, floor: int = 0) -> None:
        if floor:
            member.floors[room] = floor
        self.members[member.path].setdefault(room, set()).add(member)
        member.rooms.add(room)
        self.registry.entered(member.id, room)

    def _leave(self, member: Member, room: str) -> None:
        rooms = self.members[member.path]
        if room in rooms:
            rooms[room].discard(member)
            if not rooms[room]:
                del rooms[room]
        member.rooms.discard(room)
        self.registry.left(member.id, room)

    def _endpoint(self, path: str) -> Callable[[WebSocket], Any]:
        async def endpoint(websocket: WebSocket) -> None:
            await self._serve(websocket, path)

        return endpoint

    async def _serve(self, websocket: WebSocket, path: str) -> None:
        await websocket.accept()
        if not self.limits.admit_connection():
            await self._refuse_full(websocket)
            return
        try:
            await self._serve_admitted(websocket, path)
        finally:
            self.limits.connection_closed()

    async def _refuse_full(self, websocket: WebSocket) -> None:
        """Beyond the node's connection cap: the `error` saying why, then close 1013."""
        with contextlib.suppress(Exception):
            await websocket.send_text(envelope("error", self.limits.full_error()))
            await websocket.close(FULL_CLOSE_CODE, FULL_CLOSE_REASON)

    async def _serve_admitted(self, websocket: WebSocket, path: str) -> None:
        principal: Principal | None = None
        problem: DomainError | None = None
        token = websocket.query_params.get("token")
        if token:
            try:
                principal = self.read_token(token)
            except DomainError as exc:
                problem = exc
        member = Member(
            websocket,
            path,
            principal,
            self.write_buffer_bytes,
            self.fast_path,
            self.limits.rate(),
        )
        self.registry.open(
            Session(
                id=member.id,
                namespace=path,
                transport="websocket",
                user_key=principal.subject if principal else None,
                role=principal.role.value if principal else None,
            )
        )
        try:
            if problem is not None:
                self._refuse(member, problem)  # a refused token: told why, then closed
            elif path == GAME_EVENTS:
                await self._join_own_events(member)
            await self._read_loop(member)
        finally:
            for room in list(member.rooms):
                self._leave(member, room)
            self.registry.close(member.id)
            await member.stop()

    async def _join_own_events(self, member: Member) -> None:
        principal = member.principal
        if principal is None:
            self._refuse(member, Unauthorized("/game-events needs ?token= of a user"))
            return
        if principal.role not in (Role.USER, Role.ADMIN, Role.SERVICE):
            self._refuse(member, Forbidden("/game-events needs a user, service or admin token"))
            return
        try:
            since = access.parse_since(_int_or_none(member.websocket.query_params.get("since")))
        except DomainError as exc:
            self._error(member, exc)
            since = None
        await self._join(member, rooms.user(principal.subject), since)

    async def _read_loop(self, member: Member) -> None:
        websocket = member.websocket
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if websocket.client_state != WebSocketState.CONNECTED:
                return
            if member.closing is not None:
                continue  # closed by us: what still arrives is not answered
            if member.rate is not None:
                verdict = member.rate.check(asyncio.get_running_loop().time())
                if verdict is not Verdict.ADMIT:
                    self._over_rate(member, verdict)
                    continue
            try:
                await self._handle(member, message)
            except DomainError as exc:
                self._error(member, exc)
            except Exception:
                log.exception("plain websocket request failed")
                member.send(
                    envelope("error", {"code": "internal", "message": "the server failed; logged"})
                )

    async def _handle(self, member: Member, message: MutableMapping[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            raise InvalidInput("send JSON text frames, not binary")
        if len(text) > MAX_FRAME_CHARS:
            raise InvalidInput(f"frames are limited to {MAX_FRAME_CHARS} characters")
        try:
            request = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InvalidInput("the frame is not valid JSON (or nested too deeply)") from exc
        if not isinstance(request, dict) or not isinstance(request.get("type"), str):
            raise InvalidInput('send an object with a "type", e.g. {"type": "join:tv-display"}')
        kind: str = request["type"]
        if kind in ("heartbeat", "ping"):
            self.registry.heartbeat(member.id)
            member.send(envelope("heartbeat" if kind == "heartbeat" else "pong", {"ok": True}))
            return
        action, _, room_kind = kind.partition(":")
        if action not in ("join", "leave") or room_kind not in JOIN_KINDS[member.path]:
            raise InvalidInput(f"unknown request type {kind[:100]!r} on {member.path}")
        public = self.public_display if action == "join" else True
        join = access.join_request(room_kind, request, member.principal, public)
        if action == "leave":
            self._leave(member, join.room)
            member.send(envelope("left", {"room": join.room}))
            return
        await access.admit(join, member.principal, self.team_membership)
        await self._join(member, join.room, join.since)

    async def _join(self, member: Member, room: str, since: int | None) -> None:
        """Answer `joined`, then replay what the member missed, then admit it to live events."""
        path = member.path

        async def announce(joined: Joined) -> None:
            member.send(envelope("joined", joined_payload(joined)))

        async def send(message: RoomMessage) -> None:
            member.send(envelope(message.event, message.data(), message.seq, message.timestamp))

        await self.gateway.join(
            room,
            since,
            announce=announce,
            send=send,
            visible=lambda m: carries(path, m),
            enter=lambda floor: self._enter(member, room, floor),
        )

    def _over_rate(self, member: Member, verdict: Verdict) -> None:
        """A message beyond the connection's rate: dropped; told once a second; a connection
        that keeps flooding is told and closed with 1008 (policy violation)."""
        if verdict is Verdict.DROP:
            return
        closing = verdict is Verdict.CLOSE
        member.send(envelope("error", self.limits.rate_limited_error(closing)))
        if closing:
            log.warning("closing a plain WebSocket that keeps flooding (%s)", member.path)
            member.close(FLOOD_CLOSE_CODE, FLOOD_CLOSE_REASON)

    def _error(self, member: Member, exc: DomainError) -> None:
        member.send(envelope("error", {"code": exc.code, "message": exc.message}))

    def _refuse(self, member: Member, exc: DomainError) -> None:
        """The `error` saying why, then close 4401 (no usable token) or 4403 (wrong role)."""
        self._error(member, exc)
        code = FORBIDDEN_CLOSE_CODE if isinstance(exc, Forbidden) else UNAUTHORIZED_CLOSE_CODE
        member.close(code, exc.code)


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidInput("`since` must be an integer event id") from exc
