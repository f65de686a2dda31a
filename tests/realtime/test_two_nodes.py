"""Two real `accolade serve` processes on one PostgreSQL database, fanned out through Redis.

Each test gets a fresh database and two nodes, A and B, started as an operator starts them
(`accolade serve --database-url ... --redis-url ...`, the same ACCOLADE_JWT_SECRET). Clients
are the official python-socketio client; REST calls trigger the celebrations.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.conftest import fresh_postgres_database
from tests.nodes import ADMIN, Node

__all__ = ["ADMIN", "Node", "cluster_database", "nodes"]  # test_fastpath_two_nodes takes them

pytestmark = pytest.mark.live

NAMESPACE = "/leaderboard"
WAIT_S = 10


@pytest.fixture
async def cluster_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test's two nodes, dropped at the end."""
    async with fresh_postgres_database("accolade_nodes") as url:
        yield url


@pytest.fixture
async def nodes(
    tmp_path: Path, cluster_database: str, redis_url: str, fast_path: str, started: list[Node]
) -> tuple[Node, Node]:
    """Nodes A and B, started together (they race to migrate the empty database), with the
    ACCOLADE_FAST_PATH of this test (tests/realtime/conftest.py)."""
    a, b = (Node(name, tmp_path, cluster_database, redis_url, fast_path) for name in ("a", "b"))
    started.extend([a, b])
    a.start()
    b.start()
    await asyncio.gather(a.ready(), b.ready())
    return a, b


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
