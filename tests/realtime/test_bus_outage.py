"""Redis away for a while under traffic: the node keeps answering 2xx, and the celebrations
published while it was away still reach the clients that stayed connected, in id order, once
(the gateway reads what the bus lost back from the history). A Redis server of the test's own
is started and killed; the machine's shared one is never touched."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from accolade.bus.messages import RoomMessage
from accolade.config import Settings
from accolade.realtime.gateway import Gateway
from accolade.storage.models import utcnow
from tests.conftest import empty_database, unavailable, unused_port
from tests.realtime.conftest import LiveServer, live_settings, start_server, stop_server
from tests.realtime.test_socketio import TIMEOUT, TV, SioClient, celebrate, room_events


@dataclass
class OwnRedis:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()  # our own process, by its id
            self.process.wait(timeout=10)
            self.process = None

    async def wait_ready(self) -> None:
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        return
                except (OSError, aioredis.RedisError):
                    await asyncio.sleep(0.05)
            raise AssertionError("the test's redis-server did not start")
        finally:
            await client.aclose()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    try:
        subprocess.run(["redis-server", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable(f"redis-server cannot be run: {exc}")
    server = OwnRedis(unused_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def redis_live(settings: Settings, own_redis: OwnRedis) -> AsyncIterator[LiveServer]:
    await own_redis.wait_ready()
    await empty_database(settings)
    live, server, task = await start_server(live_settings(settings, redis_url=own_redis.url))
    try:
        yield live
    finally:
        await stop_server(server, task)


async def test_celebrations_published_while_redis_was_away_still_reach_connected_clients(
    redis_live: LiveServer, own_redis: OwnRedis
) -> None:
    live = redis_live
    async with SioClient(live, "/leaderboard") as tv:
        await tv.join("tv-display")
        await celebrate(live)
        before = (await tv.inbox.expect("achievement:celebration"))["eventId"]

        own_redis.kill()
        await asyncio.sleep(1.5)  # the node's subscriber notices and backs off
        missed = [(await celebrate(live))["name"] for _ in range(3)]  # 2xx while Redis is away
        stored = await room_events(live, TV, before, 3)
        own_redis.start()
        await own_redis.wait_ready()

        # Nothing newer is sent: the node must notice by itself that it missed these.
        received = [
            await tv.inbox.expect("achievement:celebration", timeout=TIMEOUT * 3) for _ in missed
        ]
        assert [e["eventId"] for e in received] == [e["id"] for e in stored]
        assert [e["title"] for e in received] == [f"🏅 {name} Badge Earned!" for name in missed]

        await celebrate(live)
        after = await tv.inbox.expect("achievement:celebration", timeout=TIMEOUT * 2)
        assert after["eventId"] > received[-1]["eventId"]
        await tv.inbox.quiet("achievement:celebration", within=0.5)  # nothing twice


class StoredHistory:
    """A stand-in for `History.between`: the stored events, by id."""

    def __init__(self, messages: list[RoomMessage]) -> None:
        self.messages = messages

    async def between(self, after: int, before: int | None, limit: int) -> list[RoomMessage]:
        found = [m for m in self.messages if m.seq > after and (before is None or m.seq < before)]
        return found[:limit]


class Recorder:
    def __init__(self) -> None:
        self.seqs: list[int] = []

    async def deliver(self, message: RoomMessage) -> None:
        self.seqs.append(message.seq)


def message(seq: int) -> RoomMessage:
    return RoomMessage(seq=seq, room=TV, event="bench:burst", payload={}, created_at=utcnow())


async def test_a_gap_in_the_bus_ids_is_filled_from_the_history_before_the_next_message() -> None:
    gateway = Gateway(StoredHistory([message(seq) for seq in range(1, 8)]))  # type: ignore[arg-type]
    recorder = Recorder()
    gateway.add_transport(recorder)
    await gateway.on_bus_message([message(1)])
    await gateway.on_bus_message([message(5)])  # 2..4 were lost on the way
    await gateway.on_bus_message([message(5), message(6)])  # a re-publish: 5 once
    assert recorder.seqs == [1, 2, 3, 4, 5, 6]
    await gateway.catch_up()  # after a reconnect: 7 went out while the bus was away
    assert recorder.seqs == [1, 2, 3, 4, 5, 6, 7]
