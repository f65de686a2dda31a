"""Two real `accolade serve` processes on one PostgreSQL database, fanned out through Redis.

Each test gets a fresh database and two nodes, A and B, started as an operator starts them
(`accolade serve --database-url ... --redis-url ...`, the same ACCOLADE_JWT_SECRET). Clients
are the official python-socketio client; REST calls trigger the celebrations.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
import socketio

from accolade.auth import issue_token
from accolade.domain.identity import Role
from tests.conftest import fresh_postgres_database, unused_port

pytestmark = pytest.mark.live

ACCOLADE = [sys.executable, "-m", "accolade"]
SECRET = "two-nodes-secret-" + "x" * 40
NAMESPACE = "/leaderboard"
WAIT_S = 10
START_S = 30
ADMIN = {"Authorization": f"Bearer {issue_token(SECRET, 'admin', Role.ADMIN, 3600)}"}


def clean_env(**extra: str) -> dict[str, str]:
    # ACCOLADE_FAST_PATH stays: tests/realtime/conftest.py sets it per test (on, or off).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ACCOLADE_") or k == "ACCOLADE_FAST_PATH"
    }
    env.update(extra)
    return env


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[str]
    log_path: Path
    log: TextIO

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=ADMIN, timeout=WAIT_S)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


def start_node(name: str, cwd: Path, database_url: str, redis_url: str) -> Node:
    port = unused_port()
    log_path = cwd / f"node-{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            *ACCOLADE,
            "serve",
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--redis-url",
            redis_url,
        ],
        cwd=cwd,
        env=clean_env(
            ACCOLADE_JWT_SECRET=SECRET,
            ACCOLADE_SESSION_FLUSH_INTERVAL_S="0.5",
            ACCOLADE_RELAY_POLL_INTERVAL_S="0.2",
            COLUMNS="200",
        ),
        stdout=log,  # a file, not a pipe: a chatty server never blocks on a full pipe
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Node(name, port, process, log_path, log)


async def wait_ready(node: Node) -> None:
    deadline = time.monotonic() + START_S
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                raise AssertionError(f"node {node.name} exited:\n{node.output()}")
            try:
                if (await http.get(f"{node.url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"node {node.name} did not start in {START_S}s:\n{node.output()}")


def stop_node(node: Node) -> None:
    node.process.terminate()
    try:
        node.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        node.process.kill()
        node.process.wait(timeout=10)
    node.log.close()


@pytest.fixture
async def cluster_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test's two nodes, dropped at the end."""
    async with fresh_postgres_database("accolade_nodes") as url:
        yield url


@pytest.fixture
async def nodes(
    tmp_path: Path, cluster_database: str, redis_url: str
) -> AsyncIterator[tuple[Node, Node]]:
    """Nodes A and B, started together (they race to migrate the empty database)."""
    started: list[Node] = []
    try:
        for name in ("a", "b"):
            started.append(start_node(name, tmp_path, cluster_database, redis_url))
        await asyncio.gather(*(wait_ready(node) for node in started))
        yield started[0], started[1]
    finally:
        for node in started:
            stop_node(node)


@dataclass
class Listener:
    """A python-socketio client on /leaderboard that keeps the events it receives, in order."""

    client: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient())
    events: dict[str, list[Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        for event in ("joined", "error", "achievement:celebration"):
            self.client.on(event, self._keeper(event), namespace=NAMESPACE)

    def _keeper(self, event: str) -> Any:
        def keep(data: Any = None) -> None:  # synchronous: arrival order is kept
            self.events.setdefault(event, []).append(data)
            self.changed.set()

        return keep

    def got(self, event: str) -> list[Any]:
        return self.events.get(event, [])

    async def wait_for(self, event: str, count: int = 1) -> list[Any]:
        async def wait() -> None:
            while len(self.got(event)) < count:
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout=WAIT_S)
        except TimeoutError:
            raise AssertionError(
                f"waited {WAIT_S}s for {count} {event!r}; got {self.events}"
            ) from None
        return self.got(event)

    async def connect(self, node: Node) -> None:
        await self.client.connect(
            node.url, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=WAIT_S
        )

    async def join_tv(self, since: int | None = None) -> dict[str, Any]:
        before = len(self.got("joined"))
        await self.client.emit(
            "join:tv-display", {} if since is None else {"since": since}, namespace=NAMESPACE
        )
        joined: dict[str, Any] = (await self.wait_for("joined", before + 1))[-1]
        assert joined["room"] == "tv-display", self.events
        return joined

    async def close(self) -> None:
        await self.client.disconnect()


@pytest.fixture
async def listeners() -> AsyncIterator[list[Listener]]:
    made: list[Listener] = []
    try:
        yield made
    finally:
        for listener in made:
            await listener.close()


async def listen_on(node: Node, listeners: list[Listener]) -> Listener:
    listener = Listener()
    listeners.append(listener)
    await listener.connect(node)
    await listener.join_tv()
    return listener


async def unlock_badge(node: Node, badge: str, user_id: int = 123) -> None:
    """A REST call that celebrates: a new achievement unlocked for the user."""
    async with node.http() as http:
        created = await http.post(
            "/api/users/achievements/definitions", json={"name": badge, "description": badge}
        )
        assert created.status_code == 201, created.text
        unlocked = await http.put(
            "/api/users/achievements/progress/unlock",
            json={"userId": user_id, "achievementId": created.json()["id"]},
        )
        assert unlocked.status_code == 200, unlocked.text


async def tv_catch_up(node: Node, since: int = 0) -> dict[str, Any]:
    async with node.http() as http:
        response = await http.get("/api/rooms/tv-display/events", params={"since": since})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def catch_up_with(node: Node, count: int) -> list[dict[str, Any]]:
    """The node's tv-display catch-up once it holds `count` events (bounded wait)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        events: list[dict[str, Any]] = (await tv_catch_up(node))["events"]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.2)


def rising(ids: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(ids))


# --- tests ---------------------------------------------------------------------------------------


async def test_celebration_triggered_on_a_reaches_a_tv_client_on_b(nodes, listeners):
    a, b = nodes
    tv = await listen_on(b, listeners)
    await unlock_badge(a, "Closer")
    [celebration] = await tv.wait_for("achievement:celebration")
    assert celebration["title"] == "🏅 Closer Badge Earned!"
    assert celebration["userId"] == 123
    assert celebration["achievementType"] == "milestone"
    assert isinstance(celebration["eventId"], int)


async def test_both_nodes_catch_up_with_the_same_ids(nodes):
    a, b = nodes
    for n in range(6):
        await unlock_badge(a if n % 2 == 0 else b, f"Badge {n}")
    from_a = await catch_up_with(a, 6)
    from_b = await catch_up_with(b, 6)
    ids = [event["id"] for event in from_a]
    assert len(ids) == 6
    assert [event["id"] for event in from_b] == ids
    assert rising(ids)
    assert [e["data"]["title"] for e in from_a] == [e["data"]["title"] for e in from_b]


async def test_events_triggered_on_both_nodes_reach_b_with_rising_ids(nodes, listeners):
    a, b = nodes
    tv = await listen_on(b, listeners)
    for n in range(8):
        await unlock_badge(a if n % 2 == 0 else b, f"Badge {n}")
    received = await tv.wait_for("achievement:celebration", 8)
    ids = [event["eventId"] for event in received]
    assert rising(ids), ids
    assert len(received) == 8


async def test_events_triggered_one_after_another_arrive_in_that_order(nodes, listeners):
    a, b = nodes
    tv = await listen_on(b, listeners)
    for n in range(8):
        await unlock_badge(a if n % 2 == 0 else b, f"Badge {n}")
    received = await tv.wait_for("achievement:celebration", 8)
    assert [event["title"] for event in received] == [
        f"🏅 Badge {n} Badge Earned!" for n in range(8)
    ]


async def test_catch_up_ids_match_the_live_event_ids(nodes, listeners):
    a, b = nodes
    tv = await listen_on(b, listeners)
    for n in range(4):
        await unlock_badge(a if n % 2 == 0 else b, f"Badge {n}")
    live = [event["eventId"] for event in await tv.wait_for("achievement:celebration", 4)]
    assert [event["id"] for event in await catch_up_with(a, 4)] == live


async def test_rejoining_b_with_since_replays_what_a_published_meanwhile(nodes, listeners):
    a, b = nodes
    tv = await listen_on(b, listeners)
    await unlock_badge(a, "Seen")
    [seen] = await tv.wait_for("achievement:celebration")
    await tv.close()
    await unlock_badge(a, "Missed 1")
    await unlock_badge(a, "Missed 2")
    await catch_up_with(b, 3)
    again = Listener()
    listeners.append(again)
    await again.connect(b)
    joined = await again.join_tv(since=seen["eventId"])
    assert joined["recovered"] is True
    replayed = await again.wait_for("achievement:celebration", 2)
    assert [event["title"] for event in replayed] == [
        "🏅 Missed 1 Badge Earned!",
        "🏅 Missed 2 Badge Earned!",
    ]
    assert rising([seen["eventId"], *(event["eventId"] for event in replayed)])


async def test_admin_connections_on_a_counts_a_connection_made_to_b(nodes, listeners):
    a, b = nodes
    await listen_on(b, listeners)
    deadline = time.monotonic() + WAIT_S
    async with a.http() as http:
        while True:
            response = await http.get("/api/admin/connections")
            assert response.status_code == 200, response.text
            summary = response.json()
            leaderboard = summary["namespaces"].get(NAMESPACE, {})
            if leaderboard.get("rooms", {}).get("tv-display") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert leaderboard.get("connections") == 1, summary
    assert leaderboard["rooms"] == {"tv-display": 1}, summary
    assert summary["total"] == 1
    assert list(summary["nodes"].values()) == [1], summary
