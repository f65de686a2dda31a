"""Engine.IO's HTTP side answering as the Node server does (socketio/engine.io, the reference).

python-engineio speaks the same packets, but refuses a request with a quoted sentence as
`text/plain` (`"Invalid session abc"`), a websocket handshake with a bare 403, a handshake
without `transport` as if it said `polling`, and a method it does not take with 405; and a
long-polling POST over `maxPayload`, or with a packet it cannot take, waits for the session's
queue to drain (until the next poll, or for ever) before answering. Here, as Node's engine.io:

- a refused request answers 400 `{"code": N, "message": ...}` (`application/json`), with Node's
  codes and messages (`ERRORS`); a refused websocket handshake answers HTTP 400 with the message;
- a POST over `maxPayload` answers 413 and closes the session; a POST with a packet that is not
  Engine.IO v4, or one a client may not send (a ping), answers `ok` and closes the session;
  packets a client may send but that mean nothing here (open, upgrade, noop) are dropped;
- an accepted POST answers `ok` (`text/html`), as the protocol document shows it;
- a second poll while one waits closes the session (the waiting one gets CLOSE, this one 400);
- a session the server closed gives its last packets (a noop and CLOSE) to the next poll.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import engineio
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from engineio.async_drivers import asgi as asgi_driver

log = logging.getLogger("accolade.engineio")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Close codes (RFC 6455, 7.4.1) as Node's `ws` sends them.
NORMAL_CLOSURE = 1000
INVALID_DATA = 1007
MESSAGE_TOO_BIG = 1009

# Node's engine.io error codes (`Server.errors`) and messages (`Server.errorMessages`).
UNKNOWN_TRANSPORT = 0
UNKNOWN_SID = 1
BAD_HANDSHAKE_METHOD = 2
BAD_REQUEST = 3
FORBIDDEN = 4
UNSUPPORTED_PROTOCOL_VERSION = 5
ERRORS = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}

# What a client may send once open: pong, message and close are handled; open, upgrade (outside
# an upgrade) and noop are ignored, as Node ignores them. Anything else (a ping: heartbeats go
# from the server; an unknown type) closes the session.
HANDLED = frozenset({eio_packet.PONG, eio_packet.MESSAGE, eio_packet.CLOSE})
IGNORED = frozenset({eio_packet.OPEN, eio_packet.UPGRADE, eio_packet.NOOP})


def decode_packet(data: str | bytes) -> eio_packet.Packet | None:
    """One Engine.IO v4 packet (a websocket message), or None when it is not one."""
    if isinstance(data, str) and (not data or data[0] not in "0123456"):
        return None
    try:
        return eio_packet.Packet(encoded_packet=data)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def client_packet(data: str | bytes) -> eio_packet.Packet | None:
    """One Engine.IO packet a client sent over an open websocket, decoded; None when it is not
    one a client may send (the connection is then closed). Ignored ones come back (`IGNORED`)."""
    pkt = decode_packet(data)
    if pkt is None or (pkt.packet_type not in HANDLED and pkt.packet_type not in IGNORED):
        return None
    return pkt


def _refusal(message: str | None) -> int:
    """Node's error code for one of python-engineio's `_bad_request` messages."""
    if message is None:
        return BAD_REQUEST
    if message.startswith("The client is using an unsupported version"):
        return UNSUPPORTED_PROTOCOL_VERSION
    if message == "Invalid session None":  # a POST without `sid`: a handshake must be a GET
        return BAD_HANDSHAKE_METHOD
    if message.startswith(("Invalid session ", "'Session is disconnected'")):
        return UNKNOWN_SID
    if message.endswith("is not an accepted origin."):
        return FORBIDDEN
    return BAD_REQUEST  # upgrade without the header, transport mismatch, after an upgrade


def _answer(code: int) -> dict[str, Any]:
    status = "403 FORBIDDEN" if code == FORBIDDEN else "400 BAD REQUEST"
    body = eio_packet.Packet.json.dumps({"code": code, "message": ERRORS[code]})
    return {
        "status": status,
        "headers": [("Content-Type", "application/json")],
        "response": body.encode(),
    }


async def make_response(
    status: str, headers: list[tuple[str, str]], payload: Any, environ: dict[str, Any]
) -> None:
    """Engine.IO's ASGI response, except that a refused websocket handshake is an HTTP 400 with
    Node's message (where the server can answer a handshake with a response, as uvicorn can)."""
    scope = environ["asgi.scope"]
    if (
        scope["type"] == "websocket"
        and not status.startswith("200 ")
        and "websocket.http.response" in scope.get("extensions", {})
    ):
        await _refuse_websocket(environ["asgi.send"], _message(payload))
        return
    await asgi_driver.make_response(status, headers, payload, environ)


def _message(payload: Any) -> str:
    """Node's message for an error body `_answer` made (else the body's own text)."""
    text = payload.decode() if isinstance(payload, bytes) else str(payload)
    try:
        value = eio_packet.Packet.json.loads(text)
    except ValueError:
        return text
    return str(value.get("message", text)) if isinstance(value, dict) else str(value)


async def _refuse_websocket(send: Send, message: str) -> None:
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"text/html")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": message.encode()})


def _queued(socket: Any) -> list[eio_packet.Packet]:
    """The packets still queued for a closed long-polling session (taken from its queue)."""
    queue = socket.queue
    packets: list[eio_packet.Packet] = []
    while queue is not None and not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is not None:
            packets.append(pkt)
    return packets


def _environ(scope: dict[str, Any]) -> dict[str, Any]:
    """The WSGI-style keys python-engineio's origin and CORS checks read, from an ASGI scope."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.get("method", "GET"),
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    for name, value in scope.get("headers", []):
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


def _content_length(scope: dict[str, Any]) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit or not message.get("more_body"):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` again as one message, then what `receive` gives."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replay


class CheckedWebSocket(asgi_driver.WebSocket):  # type: ignore[misc]
    """Engine.IO's ordinary ASGI websocket (the one the fast path does not serve), reading as
    Node does: a message past `maxPayload` closes with 1009, one that is not a packet a client
    may send closes the connection (with a close frame, also when an upgrade goes wrong), and
    ignored packets are dropped here."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self._socket = getattr(handler, "__self__", None)
        # An upgrade from long-polling starts with two packets of its own: the probe, `5`.
        self._upgrade = [eio_packet.PING, eio_packet.UPGRADE] if self._connected() else []
        self._max_bytes: int = server.max_http_buffer_size

    def _connected(self) -> bool:
        return self._socket is not None and bool(self._socket.connected)

    async def wait(self) -> str | bytes:
        while True:
            data: str | bytes = await super().wait()  # OSError once the client is gone
            if len(data) > self._max_bytes:
                await self._close(MESSAGE_TOO_BIG)
            if self._upgrade:
                expected = self._upgrade.pop(0)
                pkt = decode_packet(data)
                if (
                    pkt is None
                    or pkt.packet_type != expected
                    or (expected == eio_packet.PING and pkt.data != "probe")
                ):
                    await self._close(NORMAL_CLOSURE)
                if expected == eio_packet.UPGRADE:
                    self._drop_queued_noop()
                return data
            pkt = client_packet(data)
            if pkt is None:
                await self._close(NORMAL_CLOSURE)
            elif pkt.packet_type not in IGNORED:
                return data

    def _drop_queued_noop(self) -> None:
        """The noop queued to end the pending poll stays off the websocket (Node sends none)."""
        queue = getattr(self._socket, "queue", None)
        if queue is None:
            return
        kept = []
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()
            if pkt is None or pkt.packet_type != eio_packet.NOOP:
                kept.append(pkt)
        for pkt in kept:
            queue.put_nowait(pkt)

    async def _close(self, code: int) -> NoReturn:
        if self._upgrade and self._socket is not None:
            self._socket.upgrading = False  # python-engineio leaves it set: polling would stall
        with contextlib.suppress(Exception):  # already closed: nothing to say
            await self.asgi_send({"type": "websocket.close", "code": code})
        raise OSError("closed: not a packet this server takes")


class EngineIOServer(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's ASGI server with Node's answers to refused and malformed requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._polls: set[str] = set()  # sessions with a poll waiting
        drivers: dict[str, Any] = self._async  # type: ignore[has-type]
        self._async = {
            **drivers,
            "make_response": make_response,
            "websocket": CheckedWebSocket,
        }

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        scope, receive, send = args
        environ = _environ(scope)
        if self._origin_refused(environ):  # python-engineio refuses it (`FORBIDDEN`)
            return await super().handle_request(scope, receive, send)
        respond = functools.partial(self._respond, environ, send)
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))
        transport = query.get("transport", [None])[0]
        sid = query.get("sid", [None])[0]
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        if transport not in self.transports:
            return await self._refuse(scope, receive, send, UNKNOWN_TRANSPORT)
        if method not in ("GET", "POST", "OPTIONS"):
            code = BAD_HANDSHAKE_METHOD if sid is None else BAD_REQUEST
            return await self._refuse(scope, receive, send, code)
        socket = self.sockets.get(sid) if sid is not None else None
        if method == "POST" and socket is not None and socket.connected and not socket.upgraded:
            if _content_length(scope) > self.max_http_buffer_size:
                await self._close_session(sid, self.reason.TRANSPORT_ERROR)
                return await respond(413, "text/plain", b"")
            body = await _read_body(receive, self.max_http_buffer_size)
            packets = self._client_payload(body)
            if packets is None:
                await self._close_session(sid, self.reason.TRANSPORT_ERROR)
                return await respond(200, "text/html", b"ok")
            kept = eio_payload.Payload(packets=packets).encode().encode()
            scope = {
                **scope,
                "headers": [
                    (name, value)
                    for name, value in scope.get("headers", [])
                    if name != b"content-length"
                ]
                + [(b"content-length", str(len(kept)).encode())],
            }
            receive = _replay(kept, receive)
        polling = scope["type"] == "http" and method == "GET" and transport == "polling"
        if polling and socket is not None and socket.closed:
            # A session the server closed: its last packets (CLOSE) go to this poll.
            self.sockets.pop(sid, None)
            last = _queued(socket)
            if last:
                body = eio_payload.Payload(packets=last).encode().encode()
                return await respond(200, "text/plain; charset=UTF-8", body)
            return await super().handle_request(scope, receive, send)
        if not polling or socket is None or not socket.connected or socket.upgraded:
            return await super().handle_request(scope, receive, send)
        if sid in self._polls:
            # Two polls at once: Node closes the session (the first poll gets CLOSE).
            socket.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))
            await self._close_session(sid, self.reason.TRANSPORT_ERROR)
            return await respond(400, "application/json", _answer(BAD_REQUEST)["response"])
        self._polls.add(sid)
        try:
            return await super().handle_request(scope, receive, send)
        finally:
            self._polls.discard(sid)

    def _client_payload(self, body: bytes) -> list[eio_packet.Packet] | None:
        """The packets of a long-polling POST that are to be handled; None when one of them
        closes the session (not Engine.IO v4, or not a packet a client may send)."""
        try:
            packets = eio_payload.Payload(encoded_payload=body.decode()).packets
        except (ValueError, IndexError, UnicodeDecodeError):
            return None
        if any(
            pkt.packet_type not in HANDLED and pkt.packet_type not in IGNORED for pkt in packets
        ):
            return None
        return [pkt for pkt in packets if pkt.packet_type in HANDLED]

    async def _refuse(self, scope: dict[str, Any], receive: Receive, send: Send, code: int) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            if "websocket.http.response" in scope.get("extensions", {}):
                await _refuse_websocket(send, ERRORS[code])
            else:
                await send({"type": "websocket.close"})
            return
        answer = _answer(code)
        status = int(answer["status"].split()[0])
        await self._respond(_environ(scope), send, status, "application/json", answer["response"])

    def _origin_refused(self, environ: dict[str, Any]) -> bool:
        """Would python-engineio refuse this request's `Origin`?"""
        origin = environ.get("HTTP_ORIGIN")
        if self.cors_allowed_origins == [] or not origin:
            return False
        allowed = self._cors_allowed_origins(environ)
        return allowed is not None and origin not in allowed

    async def _respond(
        self, environ: dict[str, Any], send: Send, status: int, content_type: str, body: bytes
    ) -> None:
        """An HTTP answer of our own, with the CORS headers python-engineio adds to its own."""
        headers = [(b"content-type", content_type.encode())] + [
            (name.lower().encode(), value.encode()) for name, value in self._cors_headers(environ)
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _close_session(self, sid: str, reason: Any) -> None:
        socket = self.sockets.get(sid)
        if socket is not None:
            log.info("closing Engine.IO session %s: a request out of protocol", sid)
            await socket.close(wait=False, abort=True, reason=reason)
            self.sockets.pop(sid, None)

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session without waiting for a poll to take its last packets (python-engineio
        waits, and a POST that closes the session would wait with it); or all of them."""
        if sid is None:
            await super().disconnect()
            return
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
            self.sockets.pop(sid, None)

    def _bad_request(self, message: str | None = None) -> dict[str, Any]:
        return _answer(_refusal(message))

    def _method_not_found(self) -> dict[str, Any]:
        return _answer(BAD_HANDSHAKE_METHOD)

    def _ok(
        self,
        packets: list[eio_packet.Packet] | None = None,
        headers: list[tuple[str, str]] | None = None,
        jsonp_index: int | None = None,
    ) -> dict[str, Any]:
        if packets is None:
            return {
                "status": "200 OK",
                "headers": [("Content-Type", "text/html")],
                "response": b"ok",
            }
        answer: dict[str, Any] = super()._ok(packets, headers, jsonp_index)
        return answer
