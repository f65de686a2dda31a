"""Malformed frames on both transports: an `error {code: "validation_error"}` that keeps the
connection (or, for what cannot be read at all, a documented close code), never silence, and
nothing felt by other clients or `/health`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from accolade.app import create_app
from accolade.cli import uvicorn_options
from accolade.config import Settings
from tests.conftest import empty_database, unused_port
from tests.realtime.conftest import LiveServer, live_settings, stop_server
from tests.realtime.test_fastpath import RawSocketIO
from tests.realtime.test_socketio import TIMEOUT, TV, SioClient

NS = "/leaderboard"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def next_error_or_event(raw: RawSocketIO) -> tuple[str, Any]:
    frame = await raw.recv()
    prefix = f"42{NS},"
    assert frame.startswith(prefix), frame
    name, *args = json.loads(frame[len(prefix) :])
    return name, args[0] if args else None


async def assert_usable(raw: RawSocketIO) -> None:
    await raw.emit("join:tv-display")
    assert await next_error_or_event(raw) == ("joined", {"room": TV})


async def assert_health(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=TIMEOUT) as http:
        assert (await http.get("/health")).status_code == 200


SIO_MALFORMED = [
    pytest.param('["join:user",' + nested(990) + "]", id="nested-990-in-args"),
    pytest.param(nested(990), id="nested-990"),
    pytest.param(nested(5000), id="nested-5000"),
    pytest.param('["join:user", {"userId": ' + nested(2000) + "}]", id="nested-in-object"),
    pytest.param("[not json", id="not-json"),
    pytest.param('"join:tv-display"', id="not-an-array"),
]


@pytest.mark.parametrize("payload", SIO_MALFORMED)
async def test_a_malformed_socketio_event_answers_validation_error_and_keeps_the_connection(
    live: LiveServer, payload: str
) -> None:
    async with SioClient(live, NS) as bystander, RawSocketIO.connect(live) as raw:
        await bystander.join("tv-display")
        await raw.ws.send(f"42{NS}," + payload)
        name, error = await next_error_or_event(raw)
        assert name == "error" and error["code"] == "validation_error", error
        assert isinstance(error["message"], str) and error["message"]
        await assert_usable(raw)
        await bystander.assert_usable()
    await assert_health(live)


PLAIN_MALFORMED = [
    pytest.param(nested(990), id="nested-990"),
    pytest.param('{"type": "join:user", "userId": ' + nested(5000) + "}", id="nested-5000"),
    pytest.param("not json at all", id="not-json"),
    pytest.param(b"\x00\x01\x02binary", id="binary"),
    pytest.param(b'{"type": "join:tv-display"}', id="binary-json"),
]


@pytest.mark.parametrize("frame", [*PLAIN_MALFORMED, pytest.param("x" * 100_000, id="100kB")])
async def test_a_malformed_plain_frame_answers_validation_error_and_keeps_the_connection(
    live: LiveServer, frame: str | bytes
) -> None:
    async with (
        websockets.connect(f"{live.ws_url}{NS}") as bystander,
        websockets.connect(f"{live.ws_url}{NS}") as ws,
    ):
        await ws.send(frame)
        answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert answer["type"] == "error" and answer["data"]["code"] == "validation_error"
        await ws.send(json.dumps({"type": "join:tv-display"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "joined"
        await bystander.send(json.dumps({"type": "join:tv-display"}))
        assert json.loads(await asyncio.wait_for(bystander.recv(), TIMEOUT))["type"] == "joined"
    await assert_health(live)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[LiveServer]:
    """A server run the way `accolade serve` runs it (its uvicorn options, fast path on)."""
    await empty_database(settings)
    config = live_settings(settings, port=unused_port(), log_level="warning")
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app.state.asgi, lifespan="on", **uvicorn_options(config))
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started, "the server did not start"
    try:
        yield LiveServer(app, config.port, config)
    finally:
        await stop_server(server, task)


async def test_a_2mb_plain_frame_is_closed_with_1009_and_others_are_untouched(
    served: LiveServer,
) -> None:
    live = served
    big = json.dumps({"type": "join:user", "userId": "x" * (2 * 1024 * 1024)})
    async with (
        websockets.connect(f"{live.ws_url}{NS}") as bystander,
        websockets.connect(f"{live.ws_url}{NS}", max_size=None) as ws,
    ):
        await ws.send(big)
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert ws.close_code == 1009  # "message too big", as RFC 6455 names it
        await bystander.send(json.dumps({"type": "join:tv-display"}))
        assert json.loads(await asyncio.wait_for(bystander.recv(), TIMEOUT))["type"] == "joined"
    await assert_health(live)
