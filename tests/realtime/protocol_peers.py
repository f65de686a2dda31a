"""Raw Engine.IO v4 / Socket.IO v5 exchanges, run against Accolade and the Node reference server.

The protocol conformance tests (test_protocol_engineio.py, test_protocol_socketio.py) speak the
packets of socketio/engine.io-protocol and socketio/socket.io-protocol by hand, with `httpx` for
long-polling and `websockets` for the websocket transport, and compare each answer Accolade gives
with the one the Node Socket.IO 4.8 server gives (tests/node/reference_server.js, configured with
Accolade's ping interval, ping timeout and maxPayload).

What differs between two servers by nature is normalised: session ids (`<sid>`), the key order of
the open packet (compared as JSON), and the close frame of a normal close: Node's `ws` sends one
without a status code (1005 at the client), Accolade sends 1000. Both are `close`; a connection
dropped without a close frame is `dropped`, a close with another code `close <code>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from accolade.config import Settings
from tests.conftest import TEST_SECRET
from tests.realtime.conftest import live_settings, start_server, stop_server
from tests.realtime.node_client import ensure_node_modules

TIMEOUT_S = 5.0
MAX_PAYLOAD_BYTES = 1024 * 1024  # Accolade's Engine.IO maxPayload (socketio_server.MAX_FRAME_BYTES)
DEFAULT_PING_S = (25, 20)  # interval, timeout: Node's defaults and Accolade's
QUICK_PING_S = 1  # heartbeat tests: Engine.IO announces whole seconds
DEFAULT_CONNECT_S = 45.0  # Socket.IO's time to connect to a namespace: Node's default
QUICK_CONNECT_S = 1.0
REFERENCE_JS = "reference_server.js"
SID = re.compile(r'"sid":"[^"]+"')
NORMAL_CLOSE_CODES = (1000, 1005)


@dataclass(frozen=True)
class Peer:
    """One server under test: where it listens, and what it is."""

    name: str  # "node" or "accolade"
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/socket.io/?"

    def query(self, sid: str | None = None, transport: str = "polling") -> str:
        query = f"EIO=4&transport={transport}"
        return query if sid is None else f"{query}&sid={sid}"


@contextlib.asynccontextmanager
async def node_reference(
    ping_interval_s: float,
    ping_timeout_s: float,
    max_payload_bytes: int,
    connect_timeout_s: float = DEFAULT_CONNECT_S,
) -> AsyncIterator[Peer]:
    """The Node Socket.IO 4.8 server (tests/node/reference_server.js) on a free port."""
    node_dir = ensure_node_modules()
    node = shutil.which("node")
    assert node is not None  # ensure_node_modules checked it
    options = {
        "pingIntervalMs": int(ping_interval_s * 1000),
        "pingTimeoutMs": int(ping_timeout_s * 1000),
        "maxHttpBufferSize": max_payload_bytes,
        "connectTimeoutMs": int(connect_timeout_s * 1000),
    }
    process = await asyncio.create_subprocess_exec(
        node,
        str(node_dir / REFERENCE_JS),
        json.dumps(options),
        cwd=node_dir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, "the Node reference server exited before listening"
        port = json.loads(line)["port"]
        yield Peer("node", f"http://127.0.0.1:{port}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()


class Servers:
    """The servers of one test module, started on first use and kept until it ends: the Node
    reference and Accolade (one per fast-path mode) in a `profile`: `default` (Node's defaults:
    a ping every 25 s, a 20 s timeout, 45 s to connect to a namespace), `quick` (a ping every
    second, a one-second timeout) or `connect` (one second to connect to a namespace)."""

    def __init__(self, stack: contextlib.AsyncExitStack, directory: Path) -> None:
        self._stack = stack
        self._directory = directory
        self._started: dict[tuple[str, str], Peer] = {}

    async def pair(self, fast_path: str, profile: str = "default") -> tuple[Peer, Peer]:
        """(Node, Accolade with `ACCOLADE_FAST_PATH=fast_path`)."""
        return await self._peer("node", profile), await self._peer(fast_path, profile)

    async def _peer(self, kind: str, profile: str) -> Peer:
        key = (kind, profile)
        if key not in self._started:
            interval_s, timeout_s = (
                (QUICK_PING_S, QUICK_PING_S) if profile == "quick" else DEFAULT_PING_S
            )
            connect_s = QUICK_CONNECT_S if profile == "connect" else DEFAULT_CONNECT_S
            if kind == "node":
                server = node_reference(interval_s, timeout_s, MAX_PAYLOAD_BYTES, connect_s)
            else:
                server = accolade(
                    self._directory / f"{kind}-{profile}.db",
                    fast_path=kind,
                    socketio_ping_interval_s=interval_s,
                    socketio_ping_timeout_s=timeout_s,
                    socketio_connect_timeout_s=connect_s,
                )
            self._started[key] = await self._stack.enter_async_context(server)
        return self._started[key]


@contextlib.asynccontextmanager
async def accolade(database: Path, **overrides: object) -> AsyncIterator[Peer]:
    """An Accolade server on a free port over a new SQLite database, with settings `overrides`."""
    base = Settings(
        database_url=f"sqlite:///{database}",
        jwt_secret=TEST_SECRET,
        _env_file=None,
    )
    live, server, task = await start_server(live_settings(base, **overrides))
    try:
        yield Peer("accolade", live.url)
    finally:
        await stop_server(server, task)


def normalise(frame: str | bytes) -> str | bytes:
    """A received frame with its session ids replaced by `<sid>`."""
    if isinstance(frame, bytes):
        return frame
    return SID.sub('"sid":"<sid>"', frame)


def close_kind(exc: websockets.ConnectionClosed) -> str:
    received = exc.rcvd
    if received is None:
        return "dropped"
    if received.code in NORMAL_CLOSE_CODES:
        return "close"
    return f"close {received.code}"


class RawSocket:
    """One websocket connection speaking raw Engine.IO packets; answers pings unless told not to."""

    def __init__(self, ws: ClientConnection, *, answer_pings: bool = True) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.closed: str | None = None  # how it ended, once it has

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, peer: Peer, query: str | None = None, *, answer_pings: bool = True
    ) -> AsyncIterator[RawSocket]:
        url = peer.ws_url + (query or peer.query(transport="websocket"))
        async with websockets.connect(url, max_size=None, open_timeout=TIMEOUT_S) as ws:
            yield cls(ws, answer_pings=answer_pings)

    async def send(self, frame: str | bytes) -> None:
        """Send one frame, then wait until the server has read it (a WebSocket ping answered:
        Node handles a Socket.IO packet on its next tick, and one that arrived in the same read
        as the packet before would be handled in a state the client cannot have seen yet)."""
        with contextlib.suppress(websockets.ConnectionClosed):  # the answer is the close
            await self.ws.send(frame)
            pong = await self.ws.ping()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pong, TIMEOUT_S)

    async def recv(self, timeout_s: float = TIMEOUT_S, *, verbatim: bool = False) -> str | bytes:
        """The next frame (pings answered and skipped; sids normalised unless `verbatim`), or
        how the connection ended: `close`, `close <code>` or `dropped`; `<timeout>` when
        nothing came."""
        if self.closed is not None:
            return self.closed
        while True:
            try:
                frame = await asyncio.wait_for(self.ws.recv(), timeout_s)
            except TimeoutError:
                return "<timeout>"
            except websockets.ConnectionClosed as exc:
                self.closed = close_kind(exc)
                return self.closed
            if frame == "2" and self.answer_pings:
                await self.send("3")
                continue
            return frame if verbatim else normalise(frame)

    async def handshake(self) -> dict[str, Any]:
        """Read the Engine.IO open packet; its JSON."""
        opened = await self.recv(verbatim=True)
        assert isinstance(opened, str) and opened.startswith("0{"), opened
        value: dict[str, Any] = json.loads(opened[1:])
        return value


Step = str | bytes | None  # None: wait for one frame and record it

SENTINEL_ACK_ID = 9999
JOINED = '42/leaderboard,["joined",{"room":"tv-display"}]'
SENTINEL_ANSWER = [JOINED, f"43/leaderboard,{SENTINEL_ACK_ID}[]"]


def sentinel(connect: bool = False) -> list[str]:
    """`join:tv-display` on /leaderboard with an acknowledgement, which both servers answer
    `joined` then the ack (after CONNECT to /leaderboard first when `connect`): it ends a
    transcript, so what a server sent before it that it should not have shows up."""
    join = f'42/leaderboard,{SENTINEL_ACK_ID}["join:tv-display"]'
    return ["40/leaderboard,", join] if connect else [join]


async def exchange(peer: Peer, steps: Sequence[Step], end: Sequence[str] = ()) -> list[Any]:
    """Run `steps` on a new websocket session after its open packet: strings and bytes are sent,
    None records the next frame. Then, unless the server closed the connection, the `end`
    packets (`sentinel()`) are sent, one answer awaited after each, and what arrives is recorded
    up to the sentinel's acknowledgement. Returns the transcript, which ends with `open` (the
    sentinel was answered as expected), how the connection ended, or `<timeout>`."""
    transcript: list[Any] = []
    async with RawSocket.open(peer) as raw:
        await raw.handshake()
        for step in steps:
            if step is None:
                transcript.append(await raw.recv())
            else:
                await raw.send(step)
        if not end:
            transcript.append(await raw.recv())
            return transcript
        for packet in end:
            if raw.closed is not None:
                break
            await raw.send(packet)
            transcript.append(await raw.recv())
        if transcript[-1:] == [JOINED]:
            transcript.append(await raw.recv())
        if transcript[-2:] == SENTINEL_ANSWER:
            transcript[-2:] = ["open"]
    return transcript


@dataclass
class HttpAnswer:
    status: int
    content_type: str | None
    body: Any  # parsed JSON when the server says it is JSON, else the text

    @classmethod
    def of(cls, response: httpx.Response) -> HttpAnswer:
        content_type = response.headers.get("content-type")
        body: Any = response.text
        if content_type is not None and content_type.startswith("application/json"):
            body = response.json()
        return cls(
            response.status_code, content_type, normalise(body) if isinstance(body, str) else body
        )


async def http(
    peer: Peer, method: str, query: str, body: str | bytes | None = None
) -> HttpAnswer | str:
    """One request on a new connection (a server may close it after an error); `dropped` when
    the server closed it without an answer."""
    async with httpx.AsyncClient(base_url=peer.url, timeout=TIMEOUT_S) as client:
        try:
            response = await client.request(method, "/socket.io/", params=query, content=body)
        except httpx.RemoteProtocolError:
            return "dropped"
        except httpx.ReadTimeout:
            return "<timeout>"
    return HttpAnswer.of(response)


async def open_polling(peer: Peer) -> str:
    """A new long-polling session; its sid."""
    opened = await get_raw(peer, peer.query())
    sid: str = json.loads(opened[1:])["sid"]
    return sid


async def handshake_refused(peer: Peer, query: str) -> str:
    """`refused` when a websocket handshake with `query` opens no session: refused with HTTP 400
    (Accolade), or accepted and closed before any packet (Node, for a sid already upgraded)."""
    try:
        async with RawSocket.open(peer, query) as raw:
            first = await raw.recv()
    except websockets.InvalidStatus as exc:
        return "refused" if exc.response.status_code == 400 else f"HTTP {exc.response.status_code}"
    return "refused" if first == "close" else str(first)


async def get_raw(peer: Peer, query: str) -> str:
    async with httpx.AsyncClient(base_url=peer.url, timeout=TIMEOUT_S) as client:
        response = await client.get("/socket.io/", params=query)
    assert response.status_code == 200, response.text
    return response.text
