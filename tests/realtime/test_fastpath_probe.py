"""The fast path's start-up probe and its switch (`realtime.fastpath.probe`, `FastPath.select`).

The probe looks for every version and attribute the fast path relies on; when one is missing the
server says so in one log line and serves every connection on the ordinary ASGI path, which
clients cannot tell apart. `ACCOLADE_FAST_PATH=off` does the same on purpose. The ranges the probe
knows are the ones `pyproject.toml` declares, and the pinned versions lie inside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets
from engineio.async_socket import AsyncSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from accolade.app import create_app
from accolade.cli import uvicorn_options
from accolade.config import Settings
from accolade.realtime.fastpath import FastPath, probe
from tests.conftest import TEST_SECRET, unused_port
from tests.nodes import Node
from tests.realtime.conftest import LiveServer, live_settings, stop_server
from tests.realtime.test_fastpath import (
    DATA,
    EVENT,
    NS,
    TV,
    RawSocketIO,
    plain_join_tv,
    plain_members,
    sio_frame,
    socketio_sockets,
)
from tests.realtime.test_socketio import TIMEOUT, SioClient, broadcast

ROOT = Path(__file__).resolve().parents[2]
FAST_PATH_LOGGER = "accolade.fastpath"


class WithoutFrames(WebSocketsSansIOProtocol):
    """uvicorn's protocol as a version without its `frames` attribute would be: uvicorn itself
    still works (it sets `frames` again on the first message), the fast path's take-over would
    fail with AttributeError."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.frames


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    return live_settings(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'probe.db'}",
            jwt_secret=TEST_SECRET,
            _env_file=None,
        ),
        **overrides,
    )


@contextlib.asynccontextmanager
async def serve(
    settings: Settings, fast_path: FastPath | None, **uvicorn_config: Any
) -> AsyncIterator[LiveServer]:
    port = unused_port()
    app = create_app(settings, fast_path=fast_path)
    server = uvicorn.Server(
        uvicorn.Config(
            app.state.asgi, host="127.0.0.1", port=port, log_level="warning", **uvicorn_config
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started, "the server did not start"
    try:
        yield LiveServer(app, port, settings)
    finally:
        await stop_server(server, task)


async def assert_served_on_the_ordinary_path(live: LiveServer) -> None:
    """Socket.IO (raw and python-socketio) and plain WebSocket clients join and receive a
    broadcast, with the same frames, while no connection has a fast-path link."""
    async with (
        RawSocketIO.connect(live) as raw,
        SioClient(live, NS) as client,
        websockets.connect(f"{live.ws_url}/leaderboard") as plain,
    ):
        await raw.join_tv()
        await client.join(TV)
        await plain_join_tv(plain)
        await broadcast(live, NS, TV, EVENT, DATA)
        frame = await raw.recv()
        received = await client.inbox.expect(EVENT)
        envelope = json.loads(await asyncio.wait_for(plain.recv(), TIMEOUT))
        assert frame == sio_frame(NS, EVENT, received)
        assert envelope["data"] == received
        assert [type(s) for s in socketio_sockets(live)] == [AsyncSocket, AsyncSocket]
        assert [m.link for m in plain_members(live, "/leaderboard", TV)] == [None]


def test_the_installed_versions_have_everything_the_fast_path_needs() -> None:
    result = probe.check()
    assert result.missing == ()
    assert result.protocol_class is WebSocketsSansIOProtocol


def test_the_probe_refuses_a_protocol_lacking_an_attribute_it_relies_on() -> None:
    assert probe.check(WithoutFrames).missing == ("WithoutFrames has no `frames`",)


def test_the_probe_refuses_a_version_outside_the_known_ranges() -> None:
    installed = {"uvicorn": "0.55.0", "python-engineio": "4.15.1"}
    installed |= {"python-socketio": "5.18.1", "websockets": "17.4"}
    assert probe.check(versions=installed).missing == (
        "uvicorn 0.55.0 is not a known version (>=0.54,<0.55)",
    )


async def test_a_refused_probe_says_so_once_and_the_server_serves_the_ordinary_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=FAST_PATH_LOGGER):
        fast_path = FastPath.select("on", protocol_class=WithoutFrames)
        FastPath.select("on", protocol_class=WithoutFrames)  # a second look says nothing more
    assert not fast_path.enabled
    lines = [r for r in caplog.records if r.name == FAST_PATH_LOGGER]
    assert [r.levelno for r in lines] == [logging.WARNING]
    assert "WithoutFrames has no `frames`" in lines[0].getMessage()
    assert "ordinary ASGI path" in lines[0].getMessage()
    assert fast_path.uvicorn_options() == {}

    settings = settings_for(tmp_path, fast_path="on")
    async with serve(settings, fast_path, ws=WithoutFrames) as live:
        await assert_served_on_the_ordinary_path(live)


async def test_fast_path_off_serves_every_connection_on_the_ordinary_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCOLADE_FAST_PATH", "off")
    settings = settings_for(tmp_path)
    assert settings.fast_path == "off"
    options = uvicorn_options(settings)
    assert "ws" not in options  # uvicorn's own choice of protocol
    config = {k: v for k, v in options.items() if k not in ("host", "port", "log_level")}
    async with serve(settings, None, **config) as live:
        assert not live.app.state.fast_path.enabled
        await assert_served_on_the_ordinary_path(live)


def test_fast_path_on_runs_uvicorn_with_the_protocol_the_probe_checked(tmp_path: Path) -> None:
    options = uvicorn_options(settings_for(tmp_path, fast_path="on"))
    assert options["ws"] == "websockets-sansio"
    assert options["ws_per_message_deflate"] is False


def _declared_range(dependencies: list[str], name: str) -> tuple[str, str]:
    for spec in dependencies:
        match = re.fullmatch(rf"{re.escape(name)}(\[[\w,]+\])?>=([\w.]+),<([\w.]+)", spec)
        if match:
            return match.group(2), match.group(3)
    raise AssertionError(f"pyproject.toml has no `{name}>=X,<Y` dependency: {dependencies}")


def test_pyproject_ranges_are_the_versions_the_probe_knows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for name, known in probe.KNOWN_VERSIONS.items():
        assert _declared_range(project["dependencies"], name) == known, name


def test_the_pinned_versions_lie_inside_the_known_ranges() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert probe.check(versions={name: pins[name] for name in probe.KNOWN_VERSIONS}).ok


def start_serve(tmp_path: Path, fast_path: str) -> Node:
    """`accolade serve` on a fresh SQLite file with `ACCOLADE_FAST_PATH=fast_path`."""
    node = Node("serve", tmp_path, f"sqlite:///{tmp_path}/a.db", fast_path=fast_path)
    node.start()
    return node


@pytest.mark.live
@pytest.mark.parametrize(
    ("mode", "shown"), [("on", "on"), ("off", "off (switched off by ACCOLADE_FAST_PATH=off)")]
)
async def test_accolade_serve_says_whether_the_fast_path_is_on_and_serves_either_way(
    tmp_path: Path, mode: str, shown: str
) -> None:
    node = start_serve(tmp_path, mode)
    try:
        await node.ready()
        assert re.search(rf"Fast path\s+{re.escape(shown)}", node.output()), node.output()
        async with websockets.connect(f"{node.url.replace('http', 'ws')}/leaderboard") as plain:
            assert await plain_join_tv(plain) == {"room": TV}
    finally:
        node.stop()
