"""A real server on a real port for real-time tests: uvicorn serving `create_asgi`, in-process.

Every real-time test runs with the fast path on; on SQLite, each test function runs once more
with `ACCOLADE_FAST_PATH=off` (ids `sqlite-fast-path-off` and `fast-path-off`), the ordinary ASGI
path, except the modules in `_FAST_PATH_ON_ONLY`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from _pytest.python import Metafunc
from fastapi import FastAPI

from accolade.app import create_app
from accolade.config import Settings
from tests.conftest import unused_port
from tests.nodes import started  # noqa: F401 - the fixture, for the tests that start nodes


@dataclass
class LiveServer:
    app: FastAPI
    port: int
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def http(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=headers or {}, timeout=10)


async def start_server(settings: Settings) -> tuple[LiveServer, uvicorn.Server, asyncio.Task[None]]:
    port = unused_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app.state.asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.025)
    else:
        raise RuntimeError("the test server did not start")
    return LiveServer(app, port, settings), server, task


async def stop_server(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, timeout=15)


def live_settings(settings: Settings, **overrides: object) -> Settings:
    """The test settings with faster relay polling and session flushing, plus `overrides`."""
    values = settings.model_dump()
    values.update(relay_poll_interval_s=0.2, session_flush_interval_s=0.5)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveServer]:
    """A server on a free port over this test's database (SQLite or PostgreSQL)."""
    from tests.conftest import empty_database

    await empty_database(settings)
    live_server, server, task = await start_server(live_settings(settings))
    try:
        yield live_server
    finally:
        await stop_server(server, task)


# backend x fast path: PostgreSQL adds nothing the fast path could tell apart, so `off` runs on
# SQLite only; the ids of the `on` runs stay those of the `backend` fixture.
_BACKEND_RUNS = [("sqlite", "on"), ("postgresql", "on"), ("sqlite", "off")]
_BACKEND_IDS = ["sqlite", "postgresql", "sqlite-fast-path-off"]
# Modules run with the fast path on only: its own (they say what they serve), and the path
# between nodes (the bus), which is the same for both; only the last hop differs, covered here.
_FAST_PATH_ON_ONLY = ("test_fastpath", "test_two_nodes", "test_bus_outage")


@pytest.hookimpl(tryfirst=True)  # before `backend`'s own params, which then stand aside
def pytest_generate_tests(metafunc: Metafunc) -> None:
    if metafunc.module.__name__.rpartition(".")[2].startswith(_FAST_PATH_ON_ONLY):
        return
    if "fast_path" not in metafunc.fixturenames:
        return
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize(
            ("backend", "fast_path"), _BACKEND_RUNS, ids=_BACKEND_IDS, indirect=["fast_path"]
        )
    else:
        metafunc.parametrize(
            "fast_path", ["on", "off"], ids=["fast-path-on", "fast-path-off"], indirect=True
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With the fast path off, each test runs once: its first variant (its other data variants,
    which exercise the same code above the transport, run with the fast path on)."""
    seen: set[tuple[str, str]] = set()
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("fast_path") != "off":
            kept.append(item)
            continue
        key = (str(item.path), item.originalname)  # type: ignore[attr-defined]
        (dropped if key in seen else kept).append(item)
        seen.add(key)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`ACCOLADE_FAST_PATH` for this test (and the servers it starts, in-process or not)."""
    mode = str(getattr(request, "param", "on"))
    monkeypatch.setenv("ACCOLADE_FAST_PATH", mode)
    return mode
