"""kill -9 of a node in the middle of a burst of 300 idempotent events, then the client retries.

A client sends 300 `xp` events concurrently, each with its own idempotencyKey and its own value
(1..300, so every answer and every celebration names one event). When 100 have been answered the
node taking them gets SIGKILL. Then the client retries every event it got no answer for, through
the restarted node (one node) or the surviving one (two nodes), and then, to be strict, all 300.

What must hold: every event stored once (rows, XP, the leaderboard, `xp:gained` room events),
every 2xx answered before the kill answered again with the same `eventId`, and each event's
celebration reaching a client that follows the user's room once (clients of a dead node come
back with `since`). The counts are printed, and are part of every failure message.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from accolade.auth import issue_token
from accolade.domain.identity import Role
from tests.faults.conftest import ADMIN, SECRET, Node

pytestmark = pytest.mark.live

EVENTS = 300
KILL_AFTER = 100  # answers before the kill
IN_FLIGHT = 30  # concurrent requests
USERS = ("burst-a", "burst-b", "burst-c")
WAIT_S = 30
ADMIN_TOKEN = issue_token(SECRET, "admin", Role.ADMIN, 3600)


def burst() -> list[dict[str, Any]]:
    return [
        {"userId": USERS[i % len(USERS)], "type": "xp", "value": i + 1, "idempotencyKey": f"k-{i}"}
        for i in range(EVENTS)
    ]


def expected_xp(user_id: str) -> int:
    return sum(e["value"] for e in burst() if e["userId"] == user_id)


@dataclass
class Tally:
    sent: int = 0
    acknowledged_before_kill: int = 0  # 2xx answers when the kill was sent
    acknowledged: int = 0  # 2xx answers of the first send (some were on their way at the kill)
    failed_at_kill: int = 0  # no answer (connection refused, reset or cut)
    refused: list[tuple[int, int, str]] = field(default_factory=list)  # non-2xx answers
    retried: int = 0  # retries of unanswered events, then all of them once more
    stored_without_answer: int = 0  # unanswered, yet the retry says it was stored (replayed)
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    celebrations: int = 0
    celebrations_doubled: int = 0

    def __str__(self) -> str:
        refused = f" refused={self.refused[:5]}" if self.refused else ""
        return (
            f"sent={self.sent} acknowledged_before_kill={self.acknowledged_before_kill} "
            f"acknowledged={self.acknowledged} "
            f"unanswered={self.failed_at_kill} stored_without_answer={self.stored_without_answer} "
            f"retried={self.retried} stored={self.stored} lost={self.lost} "
            f"doubled={self.doubled} celebrations={self.celebrations} "
            f"celebrations_doubled={self.celebrations_doubled}{refused}"
        )


@dataclass
class Follower:
    """A plain WebSocket client following one user's room on /training; after its node dies it
    joins again with the last id it saw, on whichever node it is pointed at."""

    user_id: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    last_id: int | None = None
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    node: Node | None = None

    def follow(self, node: Node) -> None:
        self.joined = asyncio.Event()
        self.node = node
        self.task = asyncio.create_task(self._read(node.ws_url))

    async def _read(self, ws_url: str) -> None:
        try:
            async with connect(f"{ws_url}/training?token={ADMIN_TOKEN}") as ws:
                await self._join(ws)
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["type"] == "joined":
                        self.joined.set()
                    elif frame.get("id") is not None:
                        self.last_id = frame["id"]
                        self.frames.append(frame)
                        self.changed.set()
        except (ConnectionClosed, OSError):
            pass  # the node died; the test points this follower at another one

    async def _join(self, ws: ClientConnection) -> None:
        join: dict[str, Any] = {"type": "join:user", "userId": self.user_id}
        if self.last_id is not None:
            join["since"] = self.last_id
        await ws.send(json.dumps(join))

    def xp_amounts(self) -> list[int]:
        return [int(f["data"]["amount"]) for f in self.frames if f["type"] == "xp:gained"]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def send_burst(
    target: Callable[[int], Node], on_answer: Callable[[int], None], tally: Tally
) -> dict[int, dict[str, Any]]:
    """All events at once (IN_FLIGHT at a time); the 2xx answers by event index."""
    answers: dict[int, dict[str, Any]] = {}
    gate = asyncio.Semaphore(IN_FLIGHT)
    clients: dict[str, httpx.AsyncClient] = {}
    events = burst()

    async def one(i: int) -> None:
        node = target(i)
        http = clients.setdefault(
            node.url, httpx.AsyncClient(base_url=node.url, headers=ADMIN, timeout=WAIT_S)
        )
        async with gate:
            try:
                response = await http.post("/api/events", json=events[i])
            except httpx.TransportError:
                tally.failed_at_kill += 1
                return
        if response.is_success:
            answers[i] = response.json()
            on_answer(len(answers))
        else:
            tally.refused.append((i, response.status_code, response.text[:200]))

    tally.sent = EVENTS
    try:
        await asyncio.gather(*(one(i) for i in range(EVENTS)))
    finally:
        for http in clients.values():
            await http.aclose()
    return answers


async def retry(node: Node, indexes: list[int]) -> dict[int, httpx.Response]:
    events = burst()
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=node.url, headers=ADMIN, timeout=WAIT_S) as http:

        async def one(i: int) -> tuple[int, httpx.Response]:
            async with gate:
                return i, await http.post("/api/events", json=events[i])

        return dict(await asyncio.gather(*(one(i) for i in indexes)))


async def stored_rows(database_url: str) -> tuple[int, Counter[str]]:
    """(rows in `events` for the burst's keys, `xp:gained` room events by room)."""
    events_sql = "SELECT count(*) FROM events WHERE idempotency_key LIKE 'k-%'"
    rooms_sql = "SELECT room, count(*) FROM room_events WHERE event = 'xp:gained' GROUP BY room"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            rows = db.execute(events_sql).fetchone()[0]
            rooms = Counter({room: n for room, n in db.execute(rooms_sql).fetchall()})
        return int(rows), rooms
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetchval(events_sql)
        rooms = Counter({r["room"]: r["count"] for r in await connection.fetch(rooms_sql)})
    finally:
        await connection.close()
    return int(rows), rooms


async def wait_for_celebrations(followers: list[Follower]) -> None:
    """Until every follower has seen as many `xp:gained` as its user has events (bounded), then
    a moment more, so a doubled celebration has the time to arrive too."""
    want = {f.user_id: sum(1 for e in burst() if e["userId"] == f.user_id) for f in followers}
    try:
        async with asyncio.timeout(WAIT_S):
            for follower in followers:
                while len(follower.xp_amounts()) < want[follower.user_id]:
                    follower.changed.clear()
                    await follower.changed.wait()
    except TimeoutError:
        return  # the checks that follow say what is missing
    await asyncio.sleep(1.0)


async def kill_retry_and_check(
    nodes: list[Node], database_url: str, retry_on: Callable[[], Node], restart: bool
) -> Tally:
    """The whole fault: followers, the burst, the kill of nodes[0], (restart,) the retries, and
    every check. Returns the counts."""
    tally = Tally()
    victim = nodes[0]
    followers = [Follower(user_id) for user_id in USERS]
    for n, follower in enumerate(followers):
        follower.follow(nodes[n % len(nodes)])
    try:
        async with asyncio.timeout(WAIT_S):
            await asyncio.gather(*(f.joined.wait() for f in followers))

        def kill_at(answered: int) -> None:
            running = victim.process is not None and victim.process.poll() is None
            if answered >= KILL_AFTER and running:
                tally.acknowledged_before_kill = answered
                victim.kill()

        first = await send_burst(lambda i: nodes[i % len(nodes)], kill_at, tally)
        tally.acknowledged = len(first)
        assert victim.process is not None and victim.process.poll() is not None, (
            f"the burst ended before the kill: {tally}"
        )
        assert not [r for r in tally.refused if r[1] >= 500], f"5xx during the burst: {tally}"

        if restart:
            victim.start()
            await victim.ready()
        survivor = retry_on()
        for follower in followers:
            if follower.node is victim and follower.task is not None:
                await asyncio.wait_for(follower.task, WAIT_S)  # it saw its node die
                follower.follow(survivor)  # and joins again with `since`

        unanswered = [i for i in range(EVENTS) if i not in first]
        again = await retry(survivor, unanswered)
        tally.retried = len(unanswered)
        bad = {i: (r.status_code, r.text[:200]) for i, r in again.items() if not r.is_success}
        assert not bad, f"retries refused: {bad}; {tally}"
        tally.stored_without_answer = sum(r.status_code == 200 for r in again.values())
        event_ids = {i: body["eventId"] for i, body in first.items()}
        event_ids.update({i: r.json()["eventId"] for i, r in again.items()})

        strict = await retry(survivor, list(range(EVENTS)))
        tally.retried += EVENTS
        not_replayed = {i: r.status_code for i, r in strict.items() if r.status_code != 200}
        assert not not_replayed, f"a third send was not a replay: {not_replayed}; {tally}"
        moved = {
            i: (event_ids[i], r.json()["eventId"])
            for i, r in strict.items()
            if r.json()["eventId"] != event_ids[i]
        }
        assert not moved, f"eventId changed on retry (index: before, after): {moved}; {tally}"
        assert len(set(event_ids.values())) == EVENTS, f"two events share an eventId; {tally}"

        await wait_for_celebrations(followers)
        rows, xp_rooms = await stored_rows(database_url)
        tally.stored = rows
        tally.lost = max(0, EVENTS - rows)
        tally.doubled = max(0, sum(xp_rooms.values()) - EVENTS) + max(0, rows - EVENTS)
        amounts = [a for f in followers for a in f.xp_amounts()]
        tally.celebrations = len(amounts)
        tally.celebrations_doubled = sum(n - 1 for n in Counter(amounts).values() if n > 1)
        print(f"\nkill -9 mid-burst on {len(nodes)} node(s): {tally}")

        assert rows == EVENTS, f"events stored: {rows}; {tally}"
        assert sum(xp_rooms.values()) == EVENTS, f"xp:gained in the outbox: {xp_rooms}; {tally}"
        async with httpx.AsyncClient(base_url=survivor.url, headers=ADMIN, timeout=WAIT_S) as http:
            for user_id in USERS:
                profile = (await http.get(f"/api/users/{user_id}/profile")).json()
                assert profile["xp"] == expected_xp(user_id), f"{user_id} {profile}; {tally}"
            board = (await http.get("/api/leaderboards/xp", params={"limit": 10})).json()
            values = {e["userId"]: e["value"] for e in board}
            assert values == {u: expected_xp(u) for u in USERS}, f"{board}; {tally}"
        for follower in followers:
            mine = sorted(e["value"] for e in burst() if e["userId"] == follower.user_id)
            assert sorted(follower.xp_amounts()) == mine, (
                f"{follower.user_id} celebrations (each once): "
                f"missing {sorted(set(mine) - set(follower.xp_amounts()))}, "
                f"doubled {[a for a, n in Counter(follower.xp_amounts()).items() if n > 1]}; "
                f"{tally}"
            )
            ids = [f["id"] for f in follower.frames]
            assert ids == sorted(set(ids)), f"{follower.user_id}: ids not rising once: {tally}"
        return tally
    finally:
        for follower in followers:
            await follower.close()


@pytest.fixture
def own_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'accolade.db'}"
    url: str = request.getfixturevalue("cluster_database")
    return url


async def test_kill_9_of_one_node_mid_burst_loses_and_doubles_nothing(
    tmp_path: Path, started: list[Node], own_database_url: str
) -> None:
    database_url = own_database_url
    node = Node("solo", tmp_path, database_url)
    started.append(node)
    node.start()
    await node.ready()
    await kill_retry_and_check([node], database_url, lambda: node, restart=True)


async def test_kill_9_of_one_of_two_nodes_mid_burst_loses_and_doubles_nothing(
    tmp_path: Path, started: list[Node], cluster_database: str, redis_url: str
) -> None:
    a = Node("a", tmp_path, cluster_database, redis_url)
    b = Node("b", tmp_path, cluster_database, redis_url)
    started.extend([a, b])
    a.start()
    b.start()
    await asyncio.gather(a.ready(), b.ready())
    await kill_retry_and_check([a, b], cluster_database, lambda: b, restart=False)
