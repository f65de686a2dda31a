"""The fan-out fast path (`realtime.fastpath`): frames built once and written to each transport.

These tests fail if the fast path breaks what clients see: the exact text of every frame
(compared with python-socketio's own encoder and the plain WebSocket envelope, as received by
the official Node `socket.io-client` and by `websockets`), one order for replayed events, live
broadcasts and direct answers, long-polling and upgrading clients in the same room, and the cut
of a client that stops reading; and servers it cannot write to keep the ordinary ASGI path. The
fast path does not touch the database, so these run on SQLite only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
import uvicorn
import websockets
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet
from websockets.asyncio.client import ClientConnection

from accolade.app import create_app
from accolade.config import Settings
from accolade.realtime import fastpath
from accolade.realtime.fastpath.engineio_connection import EngineIOConnection
from accolade.realtime.fastpath.engineio_socket import FastSocket
from accolade.realtime.websocket_server import PlainWebSockets
from tests.conftest import TEST_SECRET
from tests.realtime.conftest import LiveServer, live_settings, start_server, stop_server
from tests.realtime.node_client import ensure_node_modules
from tests.realtime.test_socketio import SioClient, broadcast, room_events

TIMEOUT = 10.0
NS = "/leaderboard"
TV = "tv-display"
EVENT = "achievement:celebration"
DATA = {"userId": 123, "userName": "Zoë “Ace” Müller", "title": "🏅 Level 10 Achieved!"}
FRAMES_JS = Path(__file__).resolve().parent / "fastpath_frames.js"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, **overrides: object) -> AsyncIterator[LiveServer]:
    """A live server on a fresh SQLite database, with settings `overrides`."""
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'fastpath.db'}",
        jwt_secret=TEST_SECRET,
        _env_file=None,
    )
    server_live, server, task = await start_server(live_settings(base, **overrides))
    try:
        yield server_live
    finally:
        await stop_server(server, task)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serving(tmp_path) as server:
        yield server


def sio_frame(namespace: str, event: str, data: Any) -> str:
    """What python-socketio itself sends for `emit(event, data)`: the Engine.IO message text."""
    encoded: str = sio_packet.Packet(
        sio_packet.EVENT, namespace=namespace, data=[event, data]
    ).encode()
    return "4" + encoded


def expected_data(event_id: int, seq: int, sent_at: int) -> dict[str, Any]:
    """The payload the admin broadcast sends: our data, `seq`, `sentAt`, then `eventId`."""
    return {**DATA, "seq": seq, "sentAt": sent_at, "eventId": event_id}


def socketio_sockets(live: LiveServer) -> list[Any]:
    return list(live.app.state.sio.eio.sockets.values())


def plain_members(live: LiveServer, path: str, room: str) -> list[Any]:
    transports = live.app.state.services.gateway.transports
    plain = next(t for t in transports if isinstance(t, PlainWebSockets))
    return list(plain.members[path].get(room, ()))


class RawSocketIO:
    """Engine.IO v4 and Socket.IO v5 spoken by hand over `websockets`: every frame's exact text."""

    def __init__(self, ws: ClientConnection, namespace: str) -> None:
        self.ws = ws
        self.namespace = namespace

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, live: LiveServer, namespace: str = NS, **options: Any
    ) -> AsyncIterator[RawSocketIO]:
        url = f"{live.ws_url}/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url, max_size=None, **options) as ws:
            client = cls(ws, namespace)
            opened = await client.recv()
            assert opened.startswith('0{"sid":'), opened
            await ws.send(f"40{namespace},")
            connected = await client.recv()
            assert connected.startswith(f'40{namespace},{{"sid":'), connected
            yield client

    async def recv(self) -> str:
        """The next frame's text, answering Engine.IO pings on the way."""
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
            assert isinstance(frame, str), frame
            if frame == "2":
                await self.ws.send("3")
                continue
            return frame

    async def emit(self, event: str, data: Any = None) -> None:
        args = [event] if data is None else [event, data]
        await self.ws.send(f"42{self.namespace}," + json.dumps(args, separators=(",", ":")))

    async def join_tv(self, since: int | None = None) -> str:
        await self.emit("join:tv-display", None if since is None else {"since": since})
        while not (frame := await self.recv()).startswith(f'42{self.namespace},["joined"'):
            pass
        return frame


async def plain_join_tv(ws: ClientConnection, since: int | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"type": "join:tv-display"}
    if since is not None:
        request["since"] = since
    await ws.send(json.dumps(request))
    while True:
        envelope = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if envelope["type"] == "joined":
            joined: dict[str, Any] = envelope["data"]
            return joined


class NodeFrames:
    """tests/realtime/fastpath_frames.js: the official client, recording raw message text."""

    def __init__(self, live: LiveServer, count: int) -> None:
        node_dir = ensure_node_modules()
        env = {**os.environ, "NODE_PATH": str(node_dir / "node_modules")}
        self.process = subprocess.Popen(
            ["node", str(FRAMES_JS), live.url, NS, EVENT, str(count)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []

    async def until(self, key: str) -> None:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        while True:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), TIMEOUT * 2)
            assert line, f"the Node client ended early: {self.lines}"
            self.lines.append(json.loads(line))
            if key in self.lines[-1]:
                return
            assert "error" not in self.lines[-1] and "timeout" not in self.lines[-1], self.lines

    def raw(self) -> list[str]:
        return [line["raw"] for line in self.lines if "raw" in line]

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


async def test_broadcast_frames_are_byte_for_byte_what_the_reference_encoders_produce(
    live: LiveServer,
) -> None:
    count = 5
    node = NodeFrames(live, count)
    try:
        async with (
            RawSocketIO.connect(live) as raw,
            websockets.connect(f"{live.ws_url}/leaderboard") as plain,
        ):
            await raw.join_tv()
            await plain_join_tv(plain)
            await node.until("ready")
            await broadcast(live, NS, TV, EVENT, DATA, repeat=count)

            raw_frames = [await raw.recv() for _ in range(count)]
            plain_frames = [await asyncio.wait_for(plain.recv(), TIMEOUT) for _ in range(count)]
            await node.until("done")

            assert all(type(s) is FastSocket for s in socketio_sockets(live))
            assert all(m.link is not None for m in plain_members(live, "/leaderboard", TV))
    finally:
        node.close()

    first = json.loads(raw_frames[0].partition(",")[2])[1]
    event_ids = range(first["eventId"], first["eventId"] + count)
    sent_at = first["sentAt"]
    expected = [
        sio_frame(NS, EVENT, expected_data(event_id, seq, sent_at))
        for seq, event_id in enumerate(event_ids, start=1)
    ]
    assert raw_frames == expected
    node_events = [frame for frame in node.raw() if frame.startswith(f'42{NS},["{EVENT}"')]
    assert node_events == expected

    for text, seq, event_id in zip(plain_frames, itertools.count(1), event_ids, strict=False):
        envelope = json.loads(text)
        assert text == json.dumps(
            {
                "type": EVENT,
                "data": expected_data(event_id, seq, sent_at),
                "timestamp": envelope["timestamp"],
                "id": event_id,
            },
            separators=(",", ":"),
        )


async def test_replayed_events_direct_answers_and_live_broadcasts_keep_one_order(
    live: LiveServer,
) -> None:
    total = 240  # a fresh database: these are room events 1..240
    await broadcast(live, NS, TV, EVENT, DATA, repeat=40)
    async with SioClient(live, NS) as late:
        live_burst = asyncio.create_task(broadcast(live, NS, TV, EVENT, DATA, repeat=200))
        joined = await late.join(TV, {"since": 0})  # the replay races the burst
        await live_burst
        while not any(d.get("eventId") == total for _, d in late.inbox.seen if _ == EVENT):
            await late.inbox.next((EVENT,))
        assert type(socketio_sockets(live)[0]) is FastSocket

    names = [name for name, _ in late.inbox.seen]
    assert joined["recovered"] is True
    assert names[0] == "joined"  # `joined` first, then the replay, then live events
    assert 40 <= joined["replayed"] <= total
    ids = [data["eventId"] for name, data in late.inbox.seen if name == EVENT]
    assert ids == list(range(1, total + 1))  # every event once, in id order


async def test_polling_and_upgrading_clients_in_the_room_receive_what_websocket_members_do(
    live: LiveServer,
) -> None:
    inboxes: dict[str, list[Any]] = {"polling": [], "upgrading": [], "websocket": []}
    clients: dict[str, socketio.AsyncClient] = {}
    joined = asyncio.Event()
    for name, transports in (
        ("polling", ["polling"]),
        ("upgrading", ["polling", "websocket"]),
        ("websocket", ["websocket"]),
    ):
        client = socketio.AsyncClient(reconnection=False)
        client.on(EVENT, inboxes[name].append, namespace=NS)
        client.on("joined", lambda _data: joined.set(), namespace=NS)
        await client.connect(live.url, namespaces=[NS], transports=transports)
        clients[name] = client
    try:
        for client in clients.values():
            joined.clear()
            await client.emit("join:tv-display", namespace=NS)
            await asyncio.wait_for(joined.wait(), TIMEOUT)
        await broadcast(live, NS, TV, EVENT, DATA, repeat=10)  # may meet the upgrade midway
        for _ in range(int(TIMEOUT / 0.05)):
            if all(len(inbox) >= 10 for inbox in inboxes.values()):
                break
            await asyncio.sleep(0.05)
        await broadcast(live, NS, TV, EVENT, DATA, repeat=10)  # upgraded by now
        for _ in range(int(TIMEOUT / 0.05)):
            if all(len(inbox) >= 20 for inbox in inboxes.values()):
                break
            await asyncio.sleep(0.05)
        assert clients["upgrading"].transport() == "websocket"
        assert clients["polling"].transport() == "polling"
        kinds = sorted(type(s).__name__ for s in socketio_sockets(live))
        assert kinds == ["AsyncSocket", "FastSocket", "FastSocket"]
    finally:
        for client in clients.values():
            await client.disconnect()

    assert len(inboxes["websocket"]) == 20
    assert inboxes["polling"] == inboxes["websocket"]
    assert inboxes["upgrading"] == inboxes["websocket"]
    assert [data["seq"] for data in inboxes["websocket"]] == list(range(1, 11)) * 2


class CutWatcher(logging.Handler):
    """Collects the fast path's "cutting off" warnings of the in-process server."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.unsent: list[int] = []
        self.cut = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("cutting off"):
            assert isinstance(record.args, tuple)
            self.unsent.append(int(record.args[0]))  # type: ignore[call-overload]
            self.cut.set()


def stalled_socket(live: LiveServer) -> socket.socket:
    """A connection with a tiny receive buffer, so a client that stops reading is stuck soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", live.port))
    sock.setblocking(False)
    return sock


def shrink_server_send_buffer(live: LiveServer, client: socket.socket) -> None:
    """Give the server's end of `client`'s connection a small kernel send buffer (as a slow
    network would), so that what it cannot send piles up where the fast path limits it."""
    port = client.getsockname()[1]
    links = [s.link for s in socketio_sockets(live) if type(s) is FastSocket]
    links += [m.link for m in plain_members(live, "/leaderboard", TV)]
    for link in filter(None, links):
        server_end = link.transport.get_extra_info("socket")
        if link.transport.get_extra_info("peername")[1] == port:
            server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
            return
    raise AssertionError(f"no fast-path connection from port {port}")


async def drain(ws: ClientConnection) -> tuple[list[str], int | None, str | None]:
    """Read until the server closes: the frames, the close code and reason."""
    received: list[str] = []
    while True:
        try:
            frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
        except websockets.ConnectionClosed as closed:
            return (
                received,
                closed.rcvd.code if closed.rcvd else None,
                (closed.rcvd.reason if closed.rcvd else None),
            )
        assert isinstance(frame, str)
        received.append(frame)


async def test_a_client_that_stops_reading_is_cut_off_and_catches_up_while_others_receive(
    tmp_path: Path,
) -> None:
    limit = 64 * 1024
    batches, per_batch = 10, 20
    blob = {"blob": "x" * 8000}
    frame_bytes = 8200
    watcher = CutWatcher()
    logger = logging.getLogger("accolade.fastpath")
    logger.addHandler(watcher)
    try:
        async with (
            serving(tmp_path, ws_write_buffer_bytes=limit) as live,
            websockets.connect(f"{live.ws_url}/leaderboard", max_size=None) as reader,
            websockets.connect(
                f"{live.ws_url}/leaderboard",
                max_size=None,
                max_queue=1,
                sock=(stalled_sock := stalled_socket(live)),
            ) as stalled,
            RawSocketIO.connect(
                live, max_queue=1, sock=(stalled_sio_sock := stalled_socket(live))
            ) as stalled_sio,
        ):
            await plain_join_tv(reader)
            await plain_join_tv(stalled)
            await stalled_sio.join_tv()
            shrink_server_send_buffer(live, stalled_sock)
            shrink_server_send_buffer(live, stalled_sio_sock)
            # From here on the two stalled clients read nothing until both are cut off.

            async def read_all() -> list[dict[str, Any]]:
                return [
                    json.loads(await asyncio.wait_for(reader.recv(), TIMEOUT))
                    for _ in range(batches * per_batch)
                ]

            reading = asyncio.create_task(read_all())
            for batch in range(1, batches + 1):  # one relay batch each
                await broadcast(live, NS, TV, EVENT, blob, repeat=per_batch)
                await room_events(live, TV, 0, batch * per_batch)
            received = await reading
            while len(watcher.unsent) < 2:
                watcher.cut.clear()
                await asyncio.wait_for(watcher.cut.wait(), TIMEOUT)

            frames, code, reason = await drain(stalled)
            sio_frames, sio_code, sio_reason = await drain(stalled_sio.ws)

            # The stalled plain client comes back with the last id it saw and catches up.
            seen_ids = [e["id"] for e in map(json.loads, frames) if e["type"] == EVENT]
            async with websockets.connect(f"{live.ws_url}/leaderboard", max_size=None) as again:
                since = seen_ids[-1] if seen_ids else received[0]["id"] - 1
                rejoined = await plain_join_tv(again, since=since)
    finally:
        logger.removeHandler(watcher)

    count = batches * per_batch
    ids = [event["id"] for event in received]
    assert ids == list(range(ids[0], ids[0] + count))  # the reader got everything, in order

    assert (code, reason) == (fastpath.TOO_SLOW_CODE, fastpath.TOO_SLOW_REASON)
    assert seen_ids == ids[: len(seen_ids)]  # what it did get is a gap-free prefix
    assert len(seen_ids) < count
    assert rejoined["recovered"] is True
    assert rejoined["replayed"] == count - len(seen_ids)

    assert (sio_code, sio_reason) == (fastpath.TOO_SLOW_CODE, fastpath.TOO_SLOW_REASON)
    error = json.loads(sio_frames[-1].partition(",")[2])
    assert error[0] == "error" and error[1]["code"] == "too_slow"

    # Memory: what a connection held never passed the limit plus one relay batch.
    assert all(unsent <= limit + per_batch * frame_bytes for unsent in watcher.unsent)


async def test_servers_the_fast_path_cannot_write_to_keep_the_ordinary_path(
    tmp_path: Path,
) -> None:
    """Under uvicorn's wsproto protocol there is no link: the same frames go through ASGI."""
    settings = live_settings(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'wsproto.db'}",
            jwt_secret=TEST_SECRET,
            _env_file=None,
        )
    )
    app = create_app(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app.state.asgi, host="127.0.0.1", port=port, log_level="warning", ws="wsproto"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):
            if server.started:
                break
            assert not task.done(), task.result()
            await asyncio.sleep(0.025)
        else:
            raise AssertionError("the wsproto server did not start in 10 s")
        live = LiveServer(app, port, settings)
        async with (
            RawSocketIO.connect(live) as raw,
            websockets.connect(f"{live.ws_url}/leaderboard") as plain,
        ):
            await raw.join_tv()
            await plain_join_tv(plain)
            await broadcast(live, NS, TV, EVENT, DATA, repeat=3)
            raw_frames = [await raw.recv() for _ in range(3)]
            plain_frames = [
                json.loads(await asyncio.wait_for(plain.recv(), TIMEOUT)) for _ in range(3)
            ]
            assert [type(s) for s in socketio_sockets(live)] == [AsyncSocket]
            assert [m.link for m in plain_members(live, "/leaderboard", TV)] == [None]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)

    received = [json.loads(frame.partition(",")[2])[1] for frame in raw_frames]
    assert raw_frames == [sio_frame(NS, EVENT, data) for data in received]
    assert [envelope["data"] for envelope in plain_frames] == received


async def test_engineio_pings_keep_an_idle_fast_path_client_connected(live: LiveServer) -> None:
    eio = live.app.state.sio.eio
    eio.ping_interval, eio.ping_timeout = 1, 3  # announced to clients in the handshake
    async with SioClient(live, NS) as client:
        await client.join(TV)
        server_socket = socketio_sockets(live)[0]
        assert type(server_socket) is FastSocket
        pings: list[float] = []
        send_ping = server_socket.ping

        def counted_ping() -> None:
            pings.append(time.monotonic())
            send_ping()

        server_socket.ping = counted_ping  # type: ignore[method-assign]
        # Past pingInterval + pingTimeout: a client that got no pings would have given up.
        await asyncio.sleep(5.5)
        assert len(pings) >= 2
        assert client.connected
        assert await client.join(TV) == {"room": TV}


async def test_an_open_connection_is_served_without_asgi_and_cleaned_up_when_it_closes(
    live: LiveServer,
) -> None:
    registry = live.app.state.services.registry
    async with RawSocketIO.connect(live) as raw:
        # A fragmented message is read whole (as uvicorn would read it).
        await raw.ws.send([f"42{NS},", '["join:tv-display"]'])
        while not (await raw.recv()).startswith(f'42{NS},["joined"'):
            pass
        [server_socket] = socketio_sockets(live)
        assert server_socket.link is not None
        assert isinstance(server_socket.link.transport.get_protocol(), EngineIOConnection)
        assert [s.rooms for s in registry.sessions.values()] == [{TV}]
    for _ in range(int(TIMEOUT / 0.05)):  # the client closed: its socket and session go
        if not socketio_sockets(live) and not registry.sessions:
            break
        await asyncio.sleep(0.05)
    assert socketio_sockets(live) == []
    assert registry.sessions == {}
