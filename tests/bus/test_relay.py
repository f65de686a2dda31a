"""The outbox relay over a real database, and the bus contract (in-process and Redis).

Room events are written with `add_room_event` inside a transaction; the relay numbers them
(`seq`, the public catch-up id) in commit order and publishes them. Most tests stop the app's
relay first and drive `relay_once()` themselves, so nothing publishes behind their back.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from accolade.api.deps import Services
from accolade.app import create_app
from accolade.bus import from_url
from accolade.bus.base import Bus, MessageHandler
from accolade.bus.memory import MemoryBus
from accolade.bus.messages import RoomMessage
from accolade.bus.redis import RedisBus
from accolade.bus.relay import PRUNED_THROUGH_KEY, Relay, to_message
from accolade.config import Settings
from accolade.domain import notices
from accolade.realtime.gateway import Gateway
from accolade.services import instance
from accolade.storage.models import InstanceSetting, RoomEvent, utcnow
from accolade.storage.outbox import add_room_event
from tests.conftest import REDIS_URL, reachable_redis

TV = "tv-display"
# The relay carries any event; a test one of its own keeps the payloads small.
NOTICE = notices.custom("relay:test", notices.LEADERBOARD)
EVENT = NOTICE.name
WAIT_S = 10


class Recorder:
    """A gateway transport that keeps what it is handed: a subscriber of every room."""

    def __init__(self) -> None:
        self.messages: list[RoomMessage] = []
        self._changed = asyncio.Event()

    async def deliver(self, message: RoomMessage) -> None:
        self.messages.append(message)
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        async def wait() -> None:
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout=WAIT_S)


class RecordingBus:
    """Wraps a bus and keeps every message published through it (one entry per room event)."""

    def __init__(self, inner: Bus) -> None:
        self.inner = inner
        self.published: list[RoomMessage] = []

    async def start(self, handler: MessageHandler) -> None:
        await self.inner.start(handler)

    async def publish(self, messages: list[RoomMessage]) -> None:
        self.published.extend(messages)
        await self.inner.publish(messages)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
async def stopped(app: FastAPI) -> Services:
    """The app's services with its relay stopped: rows stay pending until a test relays them."""
    services: Services = app.state.services
    await services.relay.stop()
    return services


async def write(
    services: Services, tag: object, *, count: int = 1, room: str = TV, pause_s: float = 0
) -> None:
    """One committed transaction queuing `count` room events tagged `tag`."""
    async with services.database.transaction() as session:
        for index in range(count):
            add_room_event(session, room, NOTICE, {"tag": tag, "index": index})
            if pause_s:
                await session.flush()
                await asyncio.sleep(pause_s)


async def room_rows(services: Services) -> list[RoomEvent]:
    async with services.database.transaction() as session:
        return list((await session.scalars(select(RoomEvent).order_by(RoomEvent.id))).all())


async def published_rows(services: Services) -> list[RoomEvent]:
    rows = [row for row in await room_rows(services) if row.seq is not None]
    return sorted(rows, key=lambda row: row.seq or 0)


async def age(services: Services, seconds: int) -> None:
    """Make every room event written so far `seconds` old."""
    async with services.database.transaction() as session:
        await session.execute(
            update(RoomEvent).values(created_at=utcnow() - timedelta(seconds=seconds))
        )


def assert_strictly_rising(seqs: list[int]) -> None:
    assert all(a < b for a, b in itertools.pairwise(seqs)), seqs


# --- numbering -----------------------------------------------------------------------------------


async def test_ids_rise_in_commit_order(stopped):
    for tag in range(6):
        await write(stopped, tag, count=2)
        if tag % 2:
            await stopped.relay.relay_once()
    await stopped.relay.relay_once()
    rows = await published_rows(stopped)
    assert [(row.payload["tag"], row.payload["index"]) for row in rows] == [
        (tag, index) for tag in range(6) for index in range(2)
    ]


async def test_ids_are_unique_and_every_committed_row_gets_one(stopped):
    for tag in range(5):
        await write(stopped, tag, count=3)
    await stopped.relay.relay_once()
    rows = await room_rows(stopped)
    seqs = [row.seq for row in rows]
    assert None not in seqs
    assert len(set(seqs)) == len(rows) == 15


async def test_a_transaction_committing_after_a_publish_gets_a_later_id(backend, stopped):
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: transactions cannot interleave")
    async with stopped.database.transaction() as slow:
        add_room_event(slow, TV, NOTICE, {"tag": "written-first"})
        await slow.flush()  # the lower row id, but not committed yet
        await write(stopped, "committed-first")
        assert await stopped.relay.relay_once() == 1
    await stopped.relay.relay_once()
    assert [row.payload["tag"] for row in await published_rows(stopped)] == [
        "committed-first",
        "written-first",
    ]


async def test_two_relays_on_one_postgresql_publish_every_row_once_in_id_order(backend, stopped):
    if backend == "sqlite":
        pytest.skip("several relays (nodes) need PostgreSQL")
    shared = RecordingBus(MemoryBus())  # both "nodes" publish into one recorded stream
    relays = [Relay(stopped.database, shared) for _ in range(2)]

    async def writer(tag: int) -> None:
        await write(stopped, tag)
        await relays[tag % 2].relay_once()

    await asyncio.gather(*(writer(tag) for tag in range(20)))
    for relay in relays:
        await relay.relay_once()
    seqs = [m.seq for m in shared.published]
    assert sorted(m.payload["tag"] for m in shared.published) == list(range(20))
    assert_strictly_rising(seqs)


# --- a crash between commit and publish ----------------------------------------------------------


async def test_rows_left_pending_by_a_crash_are_published_by_a_new_relay(stopped):
    await write(stopped, "orphan", count=3)
    bus = RecordingBus(MemoryBus())
    assert await Relay(stopped.database, bus).relay_once() == 3
    assert [(m.payload["tag"], m.payload["index"]) for m in bus.published] == [
        ("orphan", 0),
        ("orphan", 1),
        ("orphan", 2),
    ]
    assert_strictly_rising([m.seq for m in bus.published])


async def test_a_second_relay_run_publishes_nothing_again(stopped):
    await write(stopped, "orphan", count=3)
    bus = RecordingBus(MemoryBus())
    relay = Relay(stopped.database, bus)
    await relay.relay_once()
    assert await relay.relay_once() == 0
    assert await Relay(stopped.database, bus).relay_once() == 0
    assert len(bus.published) == 3


async def test_a_restarted_node_delivers_pending_rows_to_subscribers_once(
    stopped, settings: Settings
):
    await write(stopped, "orphan", count=3)
    restarted = create_app(settings)  # a new process over the same database
    recorder = Recorder()
    # Subscribe before the lifespan starts the relay, whose first run is at start-up.
    restarted.state.sio.namespace_handlers["/leaderboard"].context.gateway.add_transport(recorder)
    async with restarted.router.lifespan_context(restarted):
        await recorder.wait_for(3)
        assert await restarted.state.services.relay.relay_once() == 0
    assert [(m.payload["tag"], m.payload["index"]) for m in recorder.messages] == [
        ("orphan", 0),
        ("orphan", 1),
        ("orphan", 2),
    ]
    assert [m.seq for m in recorder.messages] == [r.seq for r in await published_rows(stopped)]


async def test_pending_rows_are_delivered_to_subscribers_when_the_relay_starts(stopped):
    recorder = Recorder()
    stopped.gateway.add_transport(recorder)
    recording = RecordingBus(stopped.relay.bus)
    stopped.relay.bus = recording
    await write(stopped, "orphan", count=3)
    await stopped.relay.start()
    await recorder.wait_for(3)
    assert await stopped.relay.relay_once() == 0
    assert [(m.payload["tag"], m.payload["index"]) for m in recorder.messages] == [
        ("orphan", 0),
        ("orphan", 1),
        ("orphan", 2),
    ]
    assert len(recording.published) == 3


async def test_a_rolled_back_transaction_publishes_nothing(stopped):
    with pytest.raises(RuntimeError):
        async with stopped.database.transaction() as session:
            add_room_event(session, TV, NOTICE, {"tag": "never"})
            await session.flush()
            raise RuntimeError("the command failed")
    bus = RecordingBus(MemoryBus())
    assert await Relay(stopped.database, bus).relay_once() == 0
    assert bus.published == []
    assert await room_rows(stopped) == []


# --- failures and races around the publish --------------------------------------------------------


class FlakyBus(RecordingBus):
    """Refuses the first publish (Redis restarting), then works."""

    def __init__(self) -> None:
        super().__init__(MemoryBus())
        self.failures = 1

    async def publish(self, messages: list[RoomMessage]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the bus is down")
        await super().publish(messages)


async def test_events_whose_publish_failed_are_published_by_the_next_run(stopped):
    await write(stopped, "unlucky", count=2)
    bus = FlakyBus()
    relay = Relay(stopped.database, bus)
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    await relay.relay_once()  # the retry at the next poll
    assert [m.payload["index"] for m in bus.published] == [0, 1]


class GatedBus:
    """Hands messages to the node only once `gate` is set: a slow bus after the commit."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.handler: MessageHandler | None = None

    async def start(self, handler: MessageHandler) -> None:
        self.handler = handler

    async def publish(self, messages: list[RoomMessage]) -> None:
        await self.gate.wait()
        assert self.handler is not None
        await self.handler(messages)

    async def close(self) -> None:
        self.handler = None


class Member:
    """One client of a room: gets live deliveries once it has entered."""

    def __init__(self) -> None:
        self.inside = False
        self.floor = 0
        self.seqs: list[int] = []

    async def deliver(self, message: RoomMessage) -> None:
        if self.inside and message.seq > self.floor:
            self.seqs.append(message.seq)

    async def send(self, message: RoomMessage) -> None:
        self.seqs.append(message.seq)

    def enter(self, floor: int) -> None:
        """As the transports do: live delivery skips what was replayed (up to `floor`)."""
        self.inside = True
        self.floor = floor


async def test_joining_with_since_while_an_event_is_in_flight_gets_it_once(stopped):
    gateway = Gateway(stopped.history)
    member = Member()
    gateway.add_transport(member)
    bus = GatedBus()
    await bus.start(gateway.on_bus_message)
    await write(stopped, "in-flight")
    publishing = asyncio.create_task(Relay(stopped.database, bus).relay_once())
    try:
        for _ in range(WAIT_S * 50):  # until the relay has committed the id (not delivered)
            if rows := await published_rows(stopped):
                break
            await asyncio.sleep(0.02)
        seq = rows[0].seq
        joined = await gateway.join(
            TV, 0, send=member.send, visible=lambda _: True, enter=member.enter
        )
        assert joined.last_event_id == seq
        bus.gate.set()
        await asyncio.wait_for(publishing, timeout=WAIT_S)
    finally:
        bus.gate.set()
        await asyncio.wait_for(publishing, timeout=WAIT_S)
    assert member.seqs == [seq]


# --- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_writers_are_all_published_with_distinct_rising_ids(app):
    services: Services = app.state.services
    recorder = Recorder()
    services.gateway.add_transport(recorder)
    await asyncio.gather(*(write(services, tag, pause_s=0.01) for tag in range(20)))
    await recorder.wait_for(20)
    assert sorted(m.payload["tag"] for m in recorder.messages) == list(range(20))
    assert_strictly_rising([m.seq for m in recorder.messages])
    rows = await room_rows(services)
    assert len({row.seq for row in rows}) == 20
    assert None not in {row.seq for row in rows}


# --- pruning -------------------------------------------------------------------------------------


async def _old_and_new(services: Services) -> tuple[list[int], list[int]]:
    """Three published events two hours old, then two fresh ones; returns their ids."""
    await write(services, "old", count=3)
    await services.relay.relay_once()
    await age(services, 7200)
    old = [row.seq for row in await published_rows(services)]
    await write(services, "new", count=2)
    await services.relay.relay_once()
    new = [row.seq for row in await published_rows(services)][3:]
    return [s for s in old if s is not None], [s for s in new if s is not None]


async def test_prune_removes_only_rows_older_than_keep(stopped):
    _, new = await _old_and_new(stopped)
    assert await stopped.history.prune(3600) == 3
    assert [row.seq for row in await room_rows(stopped)] == new


async def test_prune_remembers_the_newest_id_it_removed(stopped):
    old, _ = await _old_and_new(stopped)
    await stopped.history.prune(3600)
    async with stopped.database.transaction() as session:
        watermark = await session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.key == PRUNED_THROUGH_KEY)
        )
    assert watermark is not None
    assert int(watermark) == max(old)


async def test_catch_up_from_below_the_pruned_ids_is_not_recovered(stopped):
    await _old_and_new(stopped)
    await stopped.history.prune(3600)
    catch_up = await stopped.history.since(TV, 0)
    assert catch_up.recovered is False


async def test_catch_up_from_the_newest_pruned_id_is_recovered(stopped):
    old, new = await _old_and_new(stopped)
    await stopped.history.prune(3600)
    catch_up = await stopped.history.since(TV, max(old))
    assert catch_up.recovered is True
    assert [m.seq for m in catch_up.messages] == new


async def test_ids_keep_rising_above_pruned_ones_when_everything_was_pruned(stopped):
    await write(stopped, "old", count=3)
    await stopped.relay.relay_once()
    highest = max(row.seq or 0 for row in await room_rows(stopped))
    await age(stopped, 7200)
    assert await stopped.history.prune(3600) == 3
    assert await room_rows(stopped) == []
    await write(stopped, "after")
    await stopped.relay.relay_once()
    [row] = await room_rows(stopped)
    assert row.seq is not None
    assert row.seq > highest


async def test_prune_keeps_pending_rows_however_old(stopped):
    await write(stopped, "pending", count=2)
    await age(stopped, 7200)
    assert await stopped.history.prune(3600) == 0
    assert await stopped.relay.relay_once() == 2


async def test_prune_with_nothing_old_removes_nothing_and_keeps_catch_up_whole(stopped):
    await write(stopped, "new", count=2)
    await stopped.relay.relay_once()
    assert await stopped.history.prune(3600) == 0
    catch_up = await stopped.history.since(TV, 0)
    assert catch_up.recovered is True
    assert len(catch_up.messages) == 2


# --- the bus contract ----------------------------------------------------------------------------


async def _redis_bus() -> RedisBus:
    await reachable_redis()
    # A channel of its own: other nodes on the same Redis must not see the test's messages.
    return RedisBus(REDIS_URL, channel=f"accolade:test:{uuid.uuid4().hex}")


@pytest.fixture(params=["memory", "redis"])
async def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def batch(tag: object, seq: int = 1) -> list[RoomMessage]:
    """A one-event batch as the relay publishes it."""
    at = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)
    return [RoomMessage(seq=seq, room=TV, event=EVENT, payload={"tag": tag}, created_at=at)]


class Inbox:
    def __init__(self) -> None:
        self.items: list[list[RoomMessage]] = []
        self._changed = asyncio.Event()

    async def __call__(self, messages: list[RoomMessage]) -> None:
        self.items.append(messages)
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        async def wait() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout=WAIT_S)


async def _make_bus(kind: str) -> Any:
    return MemoryBus() if kind == "memory" else await _redis_bus()


async def test_bus_hands_a_published_message_to_the_handler(bus_kind):
    bus = await _make_bus(bus_kind)
    inbox = Inbox()
    await bus.start(inbox)
    try:
        await bus.publish(batch("hello"))
        await inbox.wait_for(1)
        assert inbox.items == [batch("hello")]
    finally:
        await bus.close()


async def test_bus_delivers_messages_in_publish_order(bus_kind):
    bus = await _make_bus(bus_kind)
    inbox = Inbox()
    await bus.start(inbox)
    try:
        sent = [batch(f"message-{n}", n + 1) for n in range(200)]
        for message in sent:
            await bus.publish(message)
        await inbox.wait_for(len(sent))
        assert inbox.items == sent
    finally:
        await bus.close()


async def test_redis_bus_reaches_every_node_in_order():
    first = await _redis_bus()
    second = RedisBus(REDIS_URL, channel=first.channel)
    inboxes = [Inbox(), Inbox()]
    await first.start(inboxes[0])
    await second.start(inboxes[1])
    try:
        sent = [batch(f"m{n}", n + 1) for n in range(50)]
        for n, message in enumerate(sent):
            await (first if n % 2 else second).publish(message)
        for inbox in inboxes:
            await inbox.wait_for(len(sent))
            assert inbox.items == sent
    finally:
        await first.close()
        await second.close()


def test_bus_url_picks_the_bus():
    assert isinstance(from_url(None), MemoryBus)
    assert isinstance(from_url("redis://127.0.0.1:6379/0"), RedisBus)
    with pytest.raises(ValueError, match="unsupported bus URL"):
        from_url("amqp://localhost")


async def test_two_clusters_on_one_redis_never_hear_each_other():
    await (await _redis_bus()).close()  # skips (or fails in CI) when Redis is not there
    scope_a, scope_b = uuid.uuid4().hex, uuid.uuid4().hex
    node_a1, node_a2, node_b = RedisBus(REDIS_URL), RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    inbox_a2, inbox_b = Inbox(), Inbox()
    await node_a1.start(Inbox(), scope_a)
    await node_a2.start(inbox_a2, scope_a)
    await node_b.start(inbox_b, scope_b)
    try:
        await node_a1.publish(batch("for cluster a"))
        await node_b.publish(batch("for cluster b"))
        await inbox_a2.wait_for(1)
        await inbox_b.wait_for(1)
        assert inbox_a2.items == [batch("for cluster a")]
        assert inbox_b.items == [batch("for cluster b")]
    finally:
        for node in (node_a1, node_a2, node_b):
            await node.close()


async def test_every_node_on_one_database_gets_the_same_cluster_id(stopped):
    first = await instance.cluster_id(stopped.database)
    assert first and await instance.cluster_id(stopped.database) == first


async def test_rows_this_node_committed_are_published_as_stored(backend, stopped):
    """A running relay publishes what this node committed from memory: the messages are the
    rows as stored (id, room, event, payload, time), in id order, and nothing is kept after."""
    bus = RecordingBus(MemoryBus())
    relay = Relay(stopped.database, bus, poll_interval_s=60)
    stopped.database.after_outbox_commit = relay.committed
    await relay.start()
    try:
        await write(stopped, "fresh", count=3)
        for _ in range(WAIT_S * 50):
            if len(bus.published) == 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await relay.stop()
        stopped.database.after_outbox_commit = stopped.relay.committed
    stored = [to_message(row) for row in await published_rows(stopped)]
    assert bus.published == stored
    assert [m.payload["index"] for m in bus.published] == [0, 1, 2]
    assert relay._fresh == {}
