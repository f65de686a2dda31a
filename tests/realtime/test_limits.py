"""What one client may ask of a node (`realtime.limits`), with real clients on both transports.

A connection sending more than `ACCOLADE_WS_MAX_EVENTS_PER_S` messages a second has the excess
dropped and is told `error {code: "rate_limited"}`, and keeps its connection; one that keeps
flooding is closed (plain WebSocket 1008, Socket.IO disconnected by the server). Beyond
`ACCOLADE_WS_MAX_CONNECTIONS` new connections are refused at the handshake (Socket.IO
`connect_error`, plain WebSocket `error` then 1013). Other clients and `/health` are untouched
throughout. These do not touch the database: SQLite only (fast path on and off).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accolade.config import Settings
from accolade.realtime import limits
from accolade.realtime.fastpath import socketio_hooks
from tests.conftest import TEST_SECRET
from tests.realtime.conftest import LiveServer, live_settings, start_server, stop_server
from tests.realtime.node_client import NodeSocketClient
from tests.realtime.test_fastpath import RawSocketIO
from tests.realtime.test_socketio import TIMEOUT, TV, SioClient, broadcast
from tests.realtime.test_websocket import WsClient

NS = "/leaderboard"
EVENT = "achievement:celebration"
DATA = {"userId": 7, "title": "🏅 Still Here Badge Earned!"}
FLOOD = 1000
# Keeps a flooding client going until the server closes it; the server does so after
# `limits.FLOOD_SECONDS`, so this is only a bound on a broken server.
FLOOD_BOUND_S = 30.0


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, **overrides: object) -> AsyncIterator[LiveServer]:
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'limits.db'}",
        jwt_secret=TEST_SECRET,
        _env_file=None,
    )
    live, server, task = await start_server(live_settings(base, **overrides))
    try:
        yield live
    finally:
        await stop_server(server, task)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server with the default limits (50 messages a second per connection)."""
    async with serving(tmp_path) as server:
        assert server.settings.ws_max_events_per_s == 50
        yield server


async def assert_health(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=TIMEOUT) as http:
        assert (await http.get("/health")).status_code == 200


async def assert_still_receives(live: LiveServer, *clients: SioClient | WsClient) -> None:
    await broadcast(live, NS, TV, EVENT, DATA)
    for client in clients:
        received = await client.inbox.expect(EVENT)
        data = received["data"] if isinstance(client, WsClient) else received
        assert data["title"] == DATA["title"]


async def answered_again(client: SioClient | WsClient) -> None:
    """Once its flood is over, the connection answers requests again (after a quiet second)."""
    for _ in range(5):
        await asyncio.sleep(1.1)
        if isinstance(client, SioClient):
            await client.emit("leave:tv-display")
        else:
            await client.send({"type": "leave:tv-display"})
        with contextlib.suppress(AssertionError):
            await client.inbox.next(("left",), timeout=2.0)
            return
    raise AssertionError("the connection never answered again after its flood")


def errors_seen(client: SioClient | WsClient) -> list[dict[str, Any]]:
    errors = [data for name, data in client.inbox.seen if name == "error"]
    return [e["data"] if isinstance(client, WsClient) else e for e in errors]


async def test_a_socketio_client_sending_1000_joins_a_second_is_throttled_and_others_keep_theirs(
    live: LiveServer,
) -> None:
    async with SioClient(live, NS) as bystander, SioClient(live, NS) as flooder:
        await bystander.join(TV)
        for _ in range(FLOOD):
            await flooder.emit("join:tv-display")
        await assert_still_receives(live, bystander)
        await answered_again(flooder)
        assert flooder.connected
        joined = [name for name, _ in flooder.inbox.seen if name == "joined"]
        errors = errors_seen(flooder)
        assert errors and {e["code"] for e in errors} == {limits.RATE_LIMITED}
        assert "dropped" in errors[0]["message"]
        assert len(joined) + len(errors) < FLOOD  # the excess is dropped, not each answered
        await assert_still_receives(live, bystander)
    await assert_health(live)


async def test_a_plain_websocket_sending_1000_joins_a_second_is_throttled_and_others_keep_theirs(
    live: LiveServer,
) -> None:
    async with WsClient(live, NS) as bystander, WsClient(live, NS) as flooder:
        await bystander.join({"type": "join:tv-display"})
        for _ in range(FLOOD):
            await flooder.send({"type": "join:tv-display"})
        await assert_still_receives(live, bystander)
        await answered_again(flooder)
        assert flooder.open
        joined = [name for name, _ in flooder.inbox.seen if name == "joined"]
        errors = errors_seen(flooder)
        assert errors and {e["code"] for e in errors} == {limits.RATE_LIMITED}
        assert len(joined) + len(errors) < FLOOD
        await assert_still_receives(live, bystander)
    await assert_health(live)


async def test_a_socketio_client_that_keeps_flooding_is_disconnected_by_the_server(
    live: LiveServer,
) -> None:
    """Read raw, so the order is the server's: `error`s, then the namespace's DISCONNECT
    (`io server disconnect`), then Engine.IO's CLOSE and the WebSocket close."""
    received: list[str] = []

    async def read(raw: RawSocketIO) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in raw.ws:
                assert isinstance(frame, str)
                if frame == "2":  # an Engine.IO ping
                    await raw.ws.send("3")
                received.append(frame)

    async with SioClient(live, NS) as bystander, RawSocketIO.connect(live) as flooder:
        await bystander.join(TV)
        reader = asyncio.create_task(read(flooder))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLOOD_BOUND_S
        with contextlib.suppress(ConnectionClosed):
            while not reader.done() and loop.time() < deadline:
                await flooder.ws.send(f'42{NS},["join:tv-display"]')
                await asyncio.sleep(0.002)  # about 300 a second: over the limit every second
        await asyncio.wait_for(reader, TIMEOUT)
        errors = [
            json.loads(frame.partition(",")[2])[1]
            for frame in received
            if frame.startswith(f'42{NS},["error"')
        ]
        assert {e["code"] for e in errors} == {limits.RATE_LIMITED}
        assert "closed" in errors[-1]["message"]
        assert received[-2:] == [f"41{NS},", "1"]  # DISCONNECT, then Engine.IO's CLOSE
        await assert_still_receives(live, bystander)
    await assert_health(live)


async def test_a_plain_websocket_that_keeps_flooding_is_closed_with_1008(live: LiveServer) -> None:
    async with WsClient(live, NS) as bystander, WsClient(live, NS) as flooder:
        await bystander.join({"type": "join:tv-display"})
        assert flooder.ws is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLOOD_BOUND_S
        with contextlib.suppress(ConnectionClosed):
            while loop.time() < deadline:
                await flooder.send({"type": "join:tv-display"})
                await asyncio.sleep(0.002)
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            await asyncio.wait_for(flooder.ws.wait_closed(), TIMEOUT)
        assert flooder.ws.close_code == limits.FLOOD_CLOSE_CODE
        assert flooder.ws.close_reason == limits.FLOOD_CLOSE_REASON
        errors = errors_seen(flooder)
        assert {e["code"] for e in errors} == {limits.RATE_LIMITED}
        assert "closed" in errors[-1]["message"]
        await assert_still_receives(live, bystander)
    await assert_health(live)


async def refused_socketio(live: LiveServer) -> Any:
    """Connect a python-socketio client (polling, then websocket) and return its
    `connect_error` data; the connection must be refused."""
    refusals: list[Any] = []
    client = socketio.AsyncClient(reconnection=False)
    client.on("connect_error", lambda data: refusals.append(data), namespace=NS)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(live.url, namespaces=[NS], wait_timeout=TIMEOUT)
    with contextlib.suppress(Exception):
        await client.disconnect()
    assert len(refusals) == 1, refusals
    return refusals[0]


async def refused_plain(live: LiveServer) -> tuple[dict[str, Any], int | None, str | None]:
    """A plain WebSocket's first envelope and close code and reason; it must be closed."""
    async with connect(f"{live.ws_url}{NS}", open_timeout=TIMEOUT) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        return first, ws.close_code, ws.close_reason


async def test_beyond_the_connection_cap_new_connections_are_refused_at_the_handshake(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, ws_max_connections=2) as live:
        async with SioClient(live, NS) as held_sio, WsClient(live, NS) as held_plain:
            await held_sio.join(TV)
            await held_plain.join({"type": "join:tv-display"})

            refusal = await refused_socketio(live)
            assert refusal["data"]["code"] == limits.TOO_MANY_CONNECTIONS
            assert "connection limit (2)" in refusal["message"]

            first, code, reason = await refused_plain(live)
            assert first["type"] == "error"
            assert first["data"]["code"] == limits.TOO_MANY_CONNECTIONS
            assert (code, reason) == (limits.FULL_CLOSE_CODE, limits.FULL_CLOSE_REASON)

            await assert_still_receives(live, held_sio, held_plain)
            await assert_health(live)

        # The held connections are gone: their places are free again.
        for _ in range(int(TIMEOUT / 0.05)):
            if live.app.state.sio.limits.connections == 0:
                break
            await asyncio.sleep(0.05)
        async with SioClient(live, NS) as again, WsClient(live, NS) as plain_again:
            await again.join(TV)
            await plain_again.join({"type": "join:tv-display"})
            await assert_still_receives(live, again, plain_again)


async def test_a_refused_socketio_connection_that_stays_open_is_closed_by_the_server(
    tmp_path: Path,
) -> None:
    """A client that ignores its `connect_error` (official clients close at once) does not keep
    a place: raw Engine.IO over a websocket, beyond a cap of one."""
    async with serving(tmp_path, ws_max_connections=1) as live, WsClient(live, NS) as held:
        await held.join({"type": "join:tv-display"})
        url = f"{live.ws_url}/socket.io/?EIO=4&transport=websocket"
        async with connect(url, open_timeout=TIMEOUT) as ws:
            opened = await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert isinstance(opened, str) and opened.startswith('0{"sid":')
            await ws.send(f"40{NS},")
            refusal = await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert isinstance(refusal, str) and refusal.startswith(f"44{NS},")
            error = json.loads(refusal.partition(",")[2])
            assert error["data"]["code"] == limits.TOO_MANY_CONNECTIONS
            bound = 3 * socketio_hooks.REFUSED_CLOSE_AFTER_S
            frames: list[str | bytes] = []
            with pytest.raises(ConnectionClosed):
                while True:  # pings, then (on the fast path) Engine.IO's CLOSE, and the close
                    frames.append(await asyncio.wait_for(ws.recv(), bound))
                    if frames[-1] == "2":
                        await ws.send("3")
            assert set(frames) <= {"2", "1"}, frames
        await assert_still_receives(live, held)


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]])
async def test_the_official_client_beyond_the_cap_gets_connect_error_saying_why(
    tmp_path: Path, transports: list[str]
) -> None:
    async with serving(tmp_path, ws_max_connections=1) as live, WsClient(live, NS) as held:
        await held.join({"type": "join:tv-display"})
        async with NodeSocketClient(
            live.url,
            NS,
            transports=transports,
            steps=[{"waitFor": "connect_error"}, {"sleepMs": 300}],
            timeout_ms=int(TIMEOUT * 1000),
        ) as client:
            await client.wait_done(TIMEOUT)
        (refusal,) = client.seen("connect_error")
        assert refusal["data"]["data"]["code"] == limits.TOO_MANY_CONNECTIONS
        assert "connection limit (1)" in refusal["data"]["message"]
        assert client.seen("connect") == []  # refused, and not retried by itself
        await assert_still_receives(live, held)
