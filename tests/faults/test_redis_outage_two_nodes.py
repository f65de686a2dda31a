"""Redis gone for a while under traffic, then back, with two nodes sharing PostgreSQL and Redis.

A Redis server of the test's own (never the machine's shared one) carries the bus between nodes
A and B. Plain WebSocket clients follow `tv-display` on A and on B, and a python-socketio client
follows it on A. Idempotent `xp` events go to A, a few a second, before, during and after the
outage: event i gives user `out-i` 1000 + i XP, so each one is celebrated on `tv-display`
(`⭐ 1,000 XP Milestone!` for that user) and the xp board's values name the events.
Redis is killed (SIGKILL, our own process) for OUTAGE_S seconds, then started on the same port.

What must hold: every POST to A answered 2xx, the outage too; A's own clients got every
`tv-display` event in id order, once, and the celebrations of the outage before Redis came back;
B's client got every id by itself, once each, without joining again (what it could not hear
on the bus reaches it from its own relay's retries, or from the history once Redis is back);
joining B again with `since` (the last id it saw before the outage) replays exactly what came
after, once; and B's `GET /api/leaderboards/xp` answered 200 with the right values during the
outage (the boards fall back to the database). The counts are printed (-s) and are part of
every failure message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import socketio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accolade.auth import issue_token
from accolade.domain import notices
from accolade.domain.identity import Role
from tests.faults.conftest import ADMIN, SECRET, Node
from tests.realtime.test_bus_outage import OwnRedis
from tests.realtime.test_bus_outage import own_redis as own_redis  # the fixture

pytestmark = pytest.mark.live

BEFORE_S = 3.0  # traffic before the outage
OUTAGE_S = 7.0  # Redis away (then up to CATCH_UP_S more while A's clients are checked)
AFTER_S = 3.0  # traffic after Redis is back
EVENT_INTERVAL_S = 0.25  # about 4 events a second
BOARD_EVERY = 6  # B's board is read after every 6th event of the outage
WAIT_S = 15.0
CATCH_UP_S = 3.0
ADMIN_TOKEN = issue_token(SECRET, "admin", Role.ADMIN, 3600)
TV = "tv-display"
TV_EVENTS = notices.carried_by(notices.LEADERBOARD)


def event(i: int) -> dict[str, Any]:
    return {"userId": f"out-{i:03d}", "type": "xp", "value": 1000 + i, "idempotencyKey": f"o-{i}"}


def milestone_of(frame: dict[str, Any]) -> str | None:
    """The user whose 1,000 XP milestone this frame celebrates, if it is one."""
    data = frame.get("data") or {}
    if frame.get("type") == "achievement:celebration" and "1,000 XP Milestone" in str(
        data.get("title")
    ):
        return str(data.get("userId"))
    return None


@dataclass
class Counts:
    sent: int = 0
    acknowledged: int = 0
    sent_during_outage: int = 0
    acknowledged_during_outage: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    board_reads_during_outage: int = 0
    board_wrong: list[str] = field(default_factory=list)
    tv_events_stored: int = 0
    celebrated_events: int = 0  # events whose milestone reached A's plain client
    delivered_a: int = 0
    delivered_a_sio: int = 0
    delivered_a_during_outage: int = 0  # milestones of outage events seen on A before Redis back
    delivered_b_during_outage: int = 0  # the same, on B (its relay delivers the backlog locally)
    delivered_b_live: int = 0
    missing_b_live: int = 0
    recovered_by_since: int = 0
    since_expected: int = 0
    lost: int = 0
    doubled: int = 0

    def __str__(self) -> str:
        refused = f" refused={self.refused[:5]}" if self.refused else ""
        wrong = f" board_wrong={self.board_wrong[:2]}" if self.board_wrong else ""
        return (
            f"sent={self.sent} acknowledged={self.acknowledged} "
            f"sent_during_outage={self.sent_during_outage} "
            f"acknowledged_during_outage={self.acknowledged_during_outage} "
            f"board_reads_during_outage={self.board_reads_during_outage} "
            f"tv_events_stored={self.tv_events_stored} celebrated_events={self.celebrated_events} "
            f"delivered_a={self.delivered_a} delivered_a_sio={self.delivered_a_sio} "
            f"delivered_a_during_outage={self.delivered_a_during_outage} "
            f"delivered_b_during_outage={self.delivered_b_during_outage} "
            f"delivered_b_live={self.delivered_b_live} missing_b_live={self.missing_b_live} "
            f"recovered_by_since={self.recovered_by_since}/{self.since_expected} "
            f"lost={self.lost} doubled={self.doubled}{refused}{wrong}"
        )


@dataclass
class Received:
    id: int
    frame: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class PlainTv:
    """A plain WebSocket client on /leaderboard following `tv-display` (from `since` if given)."""

    node: Node
    since: int | None = None
    got: list[Received] = field(default_factory=list)
    joined_frame: dict[str, Any] | None = None
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    closed: str | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async with connect(f"{self.node.ws_url}/leaderboard?token={ADMIN_TOKEN}") as ws:
                join: dict[str, Any] = {"type": f"join:{TV}"}
                if self.since is not None:
                    join["since"] = self.since
                await ws.send(json.dumps(join))
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["type"] == "joined":
                        self.joined_frame = frame
                        self.joined.set()
                    elif frame.get("id") is not None:
                        self.got.append(Received(int(frame["id"]), frame))
        except (ConnectionClosed, OSError) as exc:
            self.closed = repr(exc)

    def ids(self) -> list[int]:
        return [r.id for r in self.got]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class SioTv:
    """python-socketio's client on /leaderboard following `tv-display`; `eventId` is the id."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.got: list[Received] = []
        self.joined = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._any, namespace=notices.LEADERBOARD)

    async def _any(self, event: str, *args: Any) -> None:
        data = args[0] if args else None
        if event == "joined":
            self.joined.set()
        elif isinstance(data, dict) and data.get("eventId") is not None:
            self.got.append(Received(int(data["eventId"]), {"type": event, "data": data}))

    async def start(self) -> None:
        await self.sio.connect(
            self.node.url,
            auth={"token": ADMIN_TOKEN},
            namespaces=[notices.LEADERBOARD],
            transports=["websocket"],
            wait_timeout=10,
        )
        await self.sio.emit(f"join:{TV}", {}, namespace=notices.LEADERBOARD)

    def ids(self) -> list[int]:
        return [r.id for r in self.got]

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # closing at the end, whatever state it is in
            await asyncio.wait_for(self.sio.disconnect(), 5)


async def stored_tv_ids(database_url: str) -> list[int]:
    """The ids of the `tv-display` events a /leaderboard client should get, in id order."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT seq, event, namespace FROM room_events "
            "WHERE room = $1 AND seq IS NOT NULL ORDER BY seq",
            TV,
        )
    finally:
        await connection.close()
    return [
        int(r["seq"])
        for r in rows
        if (r["namespace"] == notices.LEADERBOARD)
        or (r["namespace"] is None and r["event"] in TV_EVENTS)
    ]


async def wait_until(check: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.1)
    return bool(check())


def doubled(ids: list[int]) -> int:
    return sum(n - 1 for n in Counter(ids).values() if n > 1)


async def test_redis_gone_under_traffic_then_back_two_nodes_lose_and_double_nothing(
    tmp_path: Path, started: list[Node], cluster_database: str, own_redis: OwnRedis
) -> None:
    await own_redis.wait_ready()
    a = Node("a", tmp_path, cluster_database, own_redis.url)
    b = Node("b", tmp_path, cluster_database, own_redis.url)
    started.extend([a, b])
    a.start()
    b.start()
    await asyncio.gather(a.ready(), b.ready())

    counts = Counts()
    tv_a, tv_b = PlainTv(a), PlainTv(b)
    sio_a = SioTv(a)
    tv_a.start()
    tv_b.start()
    await sio_a.start()
    rejoined: PlainTv | None = None
    outage = {"on": False, "done": False}
    acked_at: dict[int, float] = {}
    outage_events: list[int] = []
    board: dict[str, float] = {}

    async def post_events(stop: asyncio.Event) -> None:
        async with (
            httpx.AsyncClient(base_url=a.url, headers=ADMIN, timeout=WAIT_S) as http_a,
            httpx.AsyncClient(base_url=b.url, headers=ADMIN, timeout=WAIT_S) as http_b,
        ):
            i = 0
            while not stop.is_set():
                during = outage["on"]
                counts.sent += 1
                counts.sent_during_outage += during
                try:
                    response = await http_a.post("/api/events", json=event(i))
                except httpx.TransportError as exc:
                    counts.refused.append((i, repr(exc)))
                else:
                    if response.is_success:
                        counts.acknowledged += 1
                        acked_at[i] = time.monotonic()
                        board[event(i)["userId"]] = float(event(i)["value"])
                        if during and outage["on"]:
                            counts.acknowledged_during_outage += 1
                            outage_events.append(i)
                    else:
                        counts.refused.append((i, f"{response.status_code} {response.text[:200]}"))
                if during and outage["on"] and len(outage_events) % BOARD_EVERY == 1:
                    # Nothing in flight: B's board must show exactly what A acknowledged.
                    read = await http_b.get("/api/leaderboards/xp", params={"limit": 100})
                    counts.board_reads_during_outage += 1
                    if read.status_code != 200:
                        counts.board_wrong.append(f"{read.status_code} {read.text[:200]}")
                    else:
                        values = {e["userId"]: float(e["value"]) for e in read.json()}
                        if values != board:
                            missing = sorted(set(board) - set(values))
                            counts.board_wrong.append(f"missing={missing} extra/wrong={values}")
                i += 1
                await asyncio.sleep(EVENT_INTERVAL_S)

    try:
        async with asyncio.timeout(WAIT_S):
            await asyncio.gather(tv_a.joined.wait(), tv_b.joined.wait(), sio_a.joined.wait())
        stop = asyncio.Event()
        poster = asyncio.create_task(post_events(stop))
        await asyncio.sleep(BEFORE_S)

        b_last_before = max(tv_b.ids(), default=0)
        own_redis.kill()
        outage["on"] = True
        killed_at = time.monotonic()
        await asyncio.sleep(OUTAGE_S)

        # Still without Redis: A's own clients have the outage's celebrations (bounded wait).
        def a_has_outage_celebrations() -> bool:
            seen = {milestone_of(r.frame) for r in tv_a.got}
            return all(event(i)["userId"] in seen for i in outage_events)

        await wait_until(a_has_outage_celebrations, CATCH_UP_S)
        outage["on"] = False
        back_at = time.monotonic()
        outage_seen = {milestone_of(r.frame) for r in tv_a.got if r.at < back_at}
        counts.delivered_a_during_outage = sum(
            event(i)["userId"] in outage_seen for i in outage_events
        )
        outage_seen_b = {milestone_of(r.frame) for r in tv_b.got if r.at < back_at}
        counts.delivered_b_during_outage = sum(
            event(i)["userId"] in outage_seen_b for i in outage_events
        )
        own_redis.start()
        await own_redis.wait_ready()
        print(f"\nRedis away {back_at - killed_at:.1f}s (killed, then started on the same port)")
        await asyncio.sleep(AFTER_S)
        stop.set()
        await asyncio.wait_for(poster, WAIT_S)

        stored: list[int] = []

        def complete(ids: list[int]) -> bool:
            return set(stored) <= set(ids)

        # Twice: a throttled `leaderboard:refresh` may still be published after the last event.
        for _ in range(2):
            stored = await stored_tv_ids(cluster_database)
            await wait_until(
                lambda: complete(tv_a.ids()) and complete(sio_a.ids()) and complete(tv_b.ids()),
                WAIT_S,
            )
            await asyncio.sleep(1.5)  # a doubled event has the time to arrive too
        counts.tv_events_stored = len(stored)

        counts.delivered_a = len(tv_a.ids())
        counts.delivered_a_sio = len(sio_a.ids())
        counts.delivered_b_live = len(tv_b.ids())
        counts.missing_b_live = len(set(stored) - set(tv_b.ids()))
        counts.celebrated_events = len(
            {milestone_of(r.frame) for r in tv_a.got} & {event(i)["userId"] for i in acked_at}
        )

        # B joined again with the last id it saw before the outage: exactly what came after.
        rejoined = PlainTv(b, since=b_last_before)
        rejoined.start()
        after = [s for s in stored if s > b_last_before]
        counts.since_expected = len(after)
        async with asyncio.timeout(WAIT_S):
            await rejoined.joined.wait()
        await wait_until(lambda: complete([*range(b_last_before + 1), *rejoined.ids()]), WAIT_S)
        await asyncio.sleep(0.5)
        counts.recovered_by_since = len(set(after) & set(rejoined.ids()))
        b_union = set(tv_b.ids()) | set(rejoined.ids())
        counts.lost = len(set(stored) - set(tv_a.ids())) + len(set(stored) - b_union)
        counts.doubled = (
            doubled(tv_a.ids())
            + doubled(sio_a.ids())
            + doubled(tv_b.ids())
            + doubled(rejoined.ids())
        )
        print(f"Redis outage, two nodes: {counts}")

        assert not counts.refused, f"a POST to A was not answered 2xx: {counts}"
        assert counts.acknowledged_during_outage >= 10, (
            f"too little traffic in the outage: {counts}"
        )
        assert counts.board_reads_during_outage >= 2 and not counts.board_wrong, (
            f"B's board during the outage: {counts}"
        )
        assert counts.celebrated_events == counts.acknowledged, f"celebrations on A: {counts}"
        assert tv_a.ids() == stored, (
            f"A's plain client (every tv-display id, in order, once): "
            f"missing {sorted(set(stored) - set(tv_a.ids()))[:10]}; {counts}"
        )
        assert sio_a.ids() == stored, (
            f"A's Socket.IO client: missing {sorted(set(stored) - set(sio_a.ids()))[:10]}; {counts}"
        )
        assert rejoined.joined_frame is not None
        assert rejoined.joined_frame["data"]["recovered"] is True, rejoined.joined_frame
        assert rejoined.ids() == after, (
            f"B's rejoin with since={b_last_before}: "
            f"missing {sorted(set(after) - set(rejoined.ids()))[:10]}; {counts}"
        )
        assert tv_b.ids() == stored, (
            f"B's connected client after Redis came back (by itself, no rejoin): "
            f"missing {sorted(set(stored) - set(tv_b.ids()))[:10]}, "
            f"doubled {doubled(tv_b.ids())}; {counts}"
        )
        assert counts.delivered_a_during_outage == len(outage_events), (
            f"A's own clients did not get the outage's celebrations while Redis was away "
            f"(they came only after it was back): {counts}"
        )
    finally:
        outage["on"] = False
        for client in (tv_a, tv_b, rejoined):
            if client is not None:
                await client.close()
        await sio_a.close()
