"""Socket.IO gateway, driven by python-socketio's AsyncClient against a live server.

Covers the contract's "Real time" section for `/leaderboard`, `/training` and `/`: joins and their
answers, who may join what, refused and malformed requests (an `error {code, message}` that leaves
the connection usable), and catch-up by `since` (in order, `recovered`, across a restart).

The helpers here (tokens, REST triggers, `SioClient`) are shared with the other real-time tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
import socketio

from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from tests.conftest import TEST_SECRET, empty_database
from tests.realtime.conftest import LiveServer, live_settings, start_server, stop_server

TIMEOUT = 5.0
DEFS = "/api/users/achievements/definitions"
UNLOCK = "/api/users/achievements/progress/unlock"
TV = "tv-display"
USER_ID = 42
OTHER_USER_ID = 43
CELEBRATION_FIELDS = {
    "userId",
    "userName",
    "achievementType",
    "title",
    "description",
    "icon",
    "timestamp",
    "eventId",
}

Event = tuple[str, Any]


# --- tokens and REST triggers ------------------------------------------------------------------


def token(subject: object = USER_ID, role: str = "user") -> str:
    return issue_token(TEST_SECRET, str(subject), Role(role), 3600)


def bearer(subject: object = "admin", role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject, role)}"}


async def create_achievement(http: httpx.AsyncClient, name: str | None = None) -> dict[str, Any]:
    name = name or f"Badge {uuid.uuid4().hex[:10]}"
    response = await http.post(DEFS, json={"name": name, "description": f"Earned {name}"})
    assert response.status_code == 201, response.text
    achievement: dict[str, Any] = response.json()
    return achievement


async def celebrate(live: LiveServer, user_id: object = USER_ID) -> dict[str, Any]:
    """Unlock a fresh achievement for `user_id`: one celebration on tv-display and user:{id}."""
    async with live.http(bearer()) as http:
        achievement = await create_achievement(http)
        response = await http.put(
            UNLOCK, json={"userId": user_id, "achievementId": achievement["id"]}
        )
        assert response.status_code == 200, response.text
    return achievement


async def broadcast(
    live: LiveServer,
    namespace: str,
    room: str,
    event: str,
    data: dict[str, Any],
    repeat: int = 1,
) -> None:
    body = {"namespace": namespace, "room": room, "event": event, "data": data, "repeat": repeat}
    async with live.http(bearer()) as http:
        response = await http.post("/api/admin/broadcast", json=body)
    assert response.status_code == 202, response.text


async def room_events(live: LiveServer, room: str, since: int, count: int) -> list[dict[str, Any]]:
    """The room's stored events after `since`, once there are at least `count` of them."""
    async with live.http(bearer()) as http:
        for _ in range(int(TIMEOUT / 0.05)):
            params = {"since": since, "limit": 1000}
            response = await http.get(f"/api/rooms/{room}/events", params=params)
            assert response.status_code == 200, response.text
            events: list[dict[str, Any]] = response.json()["events"]
            if len(events) >= count:
                return events
            await asyncio.sleep(0.05)
    raise AssertionError(f"{room} did not get {count} events after {since} within {TIMEOUT} s")


# --- a recording Socket.IO client --------------------------------------------------------------


class Inbox:
    """Every event received, in order; `expect` takes the first matching one not yet taken."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.seen: list[Event] = []
        self._changed = asyncio.Event()

    def put(self, name: str, data: Any) -> None:
        self.pending.append((name, data))
        self.seen.append((name, data))
        self._changed.set()

    def _take(self, names: Iterable[str] | None) -> Event | None:
        wanted = None if names is None else set(names)
        for index, (name, _data) in enumerate(self.pending):
            if wanted is None or name in wanted:
                return self.pending.pop(index)
        return None

    async def next(self, names: Iterable[str] | None = None, timeout: float = TIMEOUT) -> Event:  # noqa: ASYNC109
        """The first event not yet taken (of `names` when given), waiting up to `timeout`."""
        names = None if names is None else tuple(names)

        async def wait() -> Event:
            while (event := self._take(names)) is None:
                self._changed.clear()
                await self._changed.wait()
            return event

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no {names or 'event'} within {timeout} s; received so far: {self.seen}"
            ) from None

    async def expect(self, name: str, timeout: float = TIMEOUT) -> Any:  # noqa: ASYNC109
        return (await self.next((name,), timeout))[1]

    async def quiet(self, name: str, within: float = 0.5) -> None:
        """Assert that no `name` event arrives within `within` seconds."""
        await asyncio.sleep(within)
        assert self._take((name,)) is None, f"unexpected {name}: {self.seen}"


class SioClient:
    """python-socketio's AsyncClient on one namespace, recording every event into `inbox`."""

    def __init__(
        self,
        live: LiveServer,
        namespace: str,
        token: str | None = None,
        *,
        auth: Any = None,
    ) -> None:
        self.url = live.url
        self.namespace = namespace
        self.auth = auth if auth is not None else ({"token": token} if token else None)
        self.inbox = Inbox()
        self.disconnected = False
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._any, namespace=namespace)
        self.sio.on("disconnect", self._disconnect, namespace=namespace)

    async def _any(self, event: str, *args: Any) -> None:
        self.inbox.put(event, args[0] if args else None)

    async def _disconnect(self, *args: Any) -> None:
        self.disconnected = True

    async def __aenter__(self) -> SioClient:
        await asyncio.wait_for(
            self.sio.connect(
                self.url,
                auth=self.auth,
                namespaces=[self.namespace],
                transports=["websocket"],
                wait_timeout=TIMEOUT,
            ),
            TIMEOUT,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), TIMEOUT)

    @property
    def connected(self) -> bool:
        return self.sio.connected and not self.disconnected

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def ask(self, event: str, data: Any = None) -> Event:
        """Emit and return the answer: the next `joined`, `left` or `error`."""
        await self.emit(event, data)
        return await self.inbox.next(("joined", "left", "error"))

    async def join(self, kind: str, data: Any = None) -> dict[str, Any]:
        name, answer = await self.ask(f"join:{kind}", data)
        assert name == "joined", answer
        joined: dict[str, Any] = answer
        return joined

    async def refused(self, event: str, data: Any = None) -> dict[str, Any]:
        name, answer = await self.ask(event, data)
        assert name == "error", answer
        error: dict[str, Any] = answer
        assert isinstance(error.get("code"), str)
        assert isinstance(error.get("message"), str) and error["message"]
        return error

    async def assert_usable(self) -> None:
        """The connection survived: still connected, and a join is still answered."""
        assert self.connected
        assert await self.join("tv-display") == {"room": TV}


async def sync(client: SioClient) -> None:
    """A `/` round trip: whatever the server did on connect is done when the answer comes."""
    await client.emit("heartbeat")
    assert await client.inbox.expect("heartbeat") == {"ok": True}


# --- /leaderboard ------------------------------------------------------------------------------


async def test_join_tv_display_answers_joined(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard") as client:
        assert await client.join("tv-display") == {"room": TV}


async def test_tv_display_member_receives_celebration_with_contract_fields(
    live: LiveServer,
) -> None:
    async with SioClient(live, "/leaderboard") as client:
        await client.join("tv-display")
        achievement = await celebrate(live, USER_ID)
        celebration = await client.inbox.expect("achievement:celebration")
    assert set(celebration) >= CELEBRATION_FIELDS
    assert celebration["userId"] == USER_ID
    assert celebration["achievementType"] == "milestone"
    assert celebration["title"] == f"🏅 {achievement['name']} Badge Earned!"
    assert celebration["description"] == achievement["description"]
    assert isinstance(celebration["eventId"], int)


@pytest.mark.parametrize("data", [USER_ID, str(USER_ID), {"userId": USER_ID}])
async def test_user_joins_own_room_and_receives_achievement_earned(
    live: LiveServer, data: Any
) -> None:
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        assert await client.join("user", data) == {"room": f"user:{USER_ID}"}
        await celebrate(live, USER_ID)
        earned = await client.inbox.expect("achievement:earned")
    assert earned["userId"] == USER_ID
    assert isinstance(earned["eventId"], int)


async def test_user_room_does_not_receive_other_users_celebrations(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        await client.join("user", USER_ID)
        await celebrate(live, OTHER_USER_ID)
        await celebrate(live, USER_ID)
        earned = await client.inbox.expect("achievement:earned")
        assert earned["userId"] == USER_ID
        await client.inbox.quiet("achievement:earned")


async def test_leave_tv_display_answers_left_and_stops_celebrations(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard") as client:
        await client.join("tv-display")
        assert await client.ask("leave:tv-display") == ("left", {"room": TV})
        await celebrate(live)
        await client.inbox.quiet("achievement:celebration")


# --- /training ---------------------------------------------------------------------------------


async def test_training_join_user_receives_achievement_unlocked(live: LiveServer) -> None:
    async with SioClient(live, "/training", token(USER_ID)) as client:
        assert await client.join("user", USER_ID) == {"room": f"user:{USER_ID}"}
        achievement = await celebrate(live, USER_ID)
        unlocked = await client.inbox.expect("achievement:unlocked")
    assert unlocked["userId"] == USER_ID
    assert unlocked["title"] == f"🏅 {achievement['name']} Badge Earned!"


# --- / (seed 003) ------------------------------------------------------------------------------


async def test_root_delivers_own_achievement_earned_without_joining(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        await sync(client)
        await celebrate(live, USER_ID)
        earned = await client.inbox.expect("achievement:earned")
    assert earned["userId"] == USER_ID


async def test_root_delivers_own_notification_without_joining(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        await sync(client)
        achievement = await celebrate(live, USER_ID)
        notification = await client.inbox.expect("notification")
    assert notification["userId"] == USER_ID
    assert notification["title"] == f"🏅 {achievement['name']} Badge Earned!"


async def test_root_delivers_own_rank_change_as_player_rank_change(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        await sync(client)
        async with live.http(bearer()) as http:
            response = await http.post(f"/api/sales-reps/{USER_ID}/sales", json={"amount": 1200})
            assert response.status_code in (200, 201), response.text
        change = await client.inbox.expect("player:rank-change")
    assert change["userId"] == USER_ID
    assert change["newRank"] == 1 and change["metric"] == "revenue"


async def test_training_join_user_receives_quest_progress(live: LiveServer) -> None:
    quest = {
        "title": "Tutorial",
        "description": "Learn the ropes",
        "type": "ONBOARDING",
        "difficulty": "EASY",
        "steps": [{"id": "intro", "title": "Read the intro"}],
    }
    async with SioClient(live, "/training", token(USER_ID)) as client:
        await client.join("user", USER_ID)
        async with live.http(bearer()) as http:
            created = await http.post("/api/quests", json=quest)
            assert created.status_code == 201, created.text
            quest_id = created.json()["id"]
            started = await http.post(f"/api/quests/{quest_id}/start", json={"userId": USER_ID})
            assert started.status_code in (200, 201), started.text
        progress = await client.inbox.expect("quest:progress")
    assert progress["questId"] == quest_id and progress["status"] == "IN_PROGRESS"
    assert progress["title"] == "Tutorial"


async def test_root_does_not_deliver_other_users_events(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        await sync(client)
        await celebrate(live, OTHER_USER_ID)
        await client.inbox.quiet("achievement:earned")


async def test_root_contest_subscribe_joins_contest_room(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        assert await client.ask("contest:subscribe", {"contestId": 1}) == (
            "joined",
            {"room": "contest:1"},
        )


async def test_root_problem_subscribe_joins_problem_room(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        assert await client.ask("problem:subscribe", {"problemId": "two-sum"}) == (
            "joined",
            {"room": "problem:two-sum"},
        )


async def test_root_heartbeat_is_answered(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        await client.emit("heartbeat")
        assert await client.inbox.expect("heartbeat") == {"ok": True}


async def disconnected_after_error(client: SioClient) -> dict[str, Any]:
    """The `error` the server sent before it disconnected the client."""
    error: dict[str, Any] = await client.inbox.expect("error")
    for _ in range(int(TIMEOUT / 0.02)):
        if client.disconnected:
            break
        await asyncio.sleep(0.02)
    assert client.disconnected
    assert [name for name, _ in client.inbox.seen] == ["error"]
    return error


async def test_root_without_token_answers_unauthorized_and_disconnects(live: LiveServer) -> None:
    async with SioClient(live, "/") as client:
        assert (await disconnected_after_error(client))["code"] == "unauthorized"


async def _notification_ids(live: LiveServer, user_id: object) -> list[int]:
    views = await live.app.state.services.notifications.list_for(user_id)
    return [view.id for view in views]


async def test_root_notification_read_marks_own_notification_read(live: LiveServer) -> None:
    await celebrate(live, USER_ID)
    (notification_id,) = await _notification_ids(live, USER_ID)
    async with SioClient(live, "/", token(USER_ID)) as client:
        await client.emit("notification:read", {"id": notification_id})
        answer = await client.inbox.next(("notification:read", "error"))
    assert answer[0] == "notification:read", answer
    assert answer[1]["id"] == notification_id
    assert isinstance(answer[1]["readAt"], str) and answer[1]["readAt"].endswith("Z")
    (view,) = await live.app.state.services.notifications.list_for(USER_ID)
    assert view.read_at is not None


async def test_root_notification_read_of_someone_elses_is_not_found(live: LiveServer) -> None:
    await celebrate(live, OTHER_USER_ID)
    (notification_id,) = await _notification_ids(live, OTHER_USER_ID)
    async with SioClient(live, "/", token(USER_ID)) as client:
        error = await client.refused("notification:read", {"id": notification_id})
        assert error["code"] == "not_found"
        await sync(client)
        assert client.connected
    (view,) = await live.app.state.services.notifications.list_for(OTHER_USER_ID)
    assert view.read_at is None


async def test_root_notification_event_carries_the_id_notification_read_takes(
    live: LiveServer,
) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        await sync(client)
        await celebrate(live, USER_ID)
        notification = await client.inbox.expect("notification")
    (notification_id,) = await _notification_ids(live, USER_ID)
    assert notification.get("id") == notification_id


# --- refused and malformed requests keep the connection ------------------------------------------

TEN_KB = "x" * 10_000

REFUSALS = [
    pytest.param("join:user", OTHER_USER_ID, "forbidden", id="someone-elses-user-room"),
    pytest.param("join:user", {"userId": OTHER_USER_ID}, "forbidden", id="someone-elses-object"),
    pytest.param("join:team", {"teamId": 1}, "forbidden", id="team-as-user"),
    pytest.param("join:user", None, "validation_error", id="missing-id"),
    pytest.param("join:user", {}, "validation_error", id="missing-user-id"),
    pytest.param("join:user", [USER_ID], "validation_error", id="list-id"),
    pytest.param("join:user", {"userId": {"id": USER_ID}}, "validation_error", id="dict-id"),
    pytest.param("join:user", True, "validation_error", id="bool-id"),
    pytest.param("join:user", {"userId": 42.0}, "validation_error", id="float-id"),
    pytest.param("join:user", {"userId": TEN_KB}, "validation_error", id="10kB-id"),
    pytest.param("join:contest", TEN_KB, "validation_error", id="10kB-contest-id"),
    pytest.param("join:tv-display", {"since": -1}, "validation_error", id="negative-since"),
    pytest.param("join:tv-display", {"since": "5"}, "validation_error", id="string-since"),
    pytest.param("join:galaxy", {"id": 1}, "validation_error", id="unknown-join"),
    pytest.param("frobnicate", {"a": 1}, "validation_error", id="unknown-event"),
]


@pytest.mark.parametrize(("event", "data", "code"), REFUSALS)
async def test_refused_request_answers_error_and_keeps_connection(
    live: LiveServer, event: str, data: Any, code: str
) -> None:
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        error = await client.refused(event, data)
        assert error["code"] == code
        await client.assert_usable()


async def test_refused_request_on_root_keeps_connection(live: LiveServer) -> None:
    async with SioClient(live, "/", token(USER_ID)) as client:
        assert (await client.refused("contest:subscribe", [1]))["code"] == "validation_error"
        assert (await client.refused("notification:read", {"id": "x"}))["code"] == (
            "validation_error"
        )
        await sync(client)
        assert client.connected


@pytest.mark.parametrize("namespace", ["/leaderboard", "/training", "/"])
async def test_bad_token_answers_unauthorized_and_disconnects(
    live: LiveServer, namespace: str
) -> None:
    async with SioClient(live, namespace, "garbage") as client:
        assert (await disconnected_after_error(client))["code"] == "unauthorized"


async def test_a_token_that_is_not_a_string_answers_unauthorized_and_disconnects(
    live: LiveServer,
) -> None:
    async with SioClient(live, "/leaderboard", auth={"token": 12345}) as client:
        assert (await disconnected_after_error(client))["code"] == "unauthorized"


async def test_anonymous_joins_tv_display_by_default(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard") as client:
        assert await client.join("tv-display") == {"room": TV}


@pytest.fixture
async def private_live(settings: Settings) -> AsyncIterator[LiveServer]:
    """A second server whose public rooms need a token (ACCOLADE_PUBLIC_DISPLAY=false)."""
    server_live, server, task = await start_server(live_settings(settings, public_display=False))
    try:
        yield server_live
    finally:
        await stop_server(server, task)


async def test_anonymous_tv_display_refused_without_public_display(
    private_live: LiveServer,
) -> None:
    async with SioClient(private_live, "/leaderboard") as client:
        assert (await client.refused("join:tv-display"))["code"] == "unauthorized"
        assert client.connected


async def test_display_token_joins_tv_display_without_public_display(
    private_live: LiveServer,
) -> None:
    async with SioClient(private_live, "/leaderboard", token("tv-1", "display")) as client:
        assert await client.join("tv-display") == {"room": TV}


# --- catch-up by `since` -----------------------------------------------------------------------


async def _last_celebration_id(live: LiveServer) -> int:
    """Join tv-display, see one celebration, and return its eventId."""
    async with SioClient(live, "/leaderboard") as client:
        await client.join("tv-display")
        await celebrate(live)
        event_id: int = (await client.inbox.expect("achievement:celebration"))["eventId"]
    return event_id


async def test_rejoin_with_since_answers_joined_then_the_missed_events_in_order(
    live: LiveServer,
) -> None:
    last_id = await _last_celebration_id(live)
    missed = [(await celebrate(live))["name"] for _ in range(3)]
    stored = await room_events(live, TV, last_id, 3)
    async with SioClient(live, "/leaderboard") as client:
        await client.emit("join:tv-display", {"since": last_id})
        joined = await client.inbox.next()
        replayed = [await client.inbox.next() for _ in range(3)]
    assert [name for name, _ in replayed] == ["achievement:celebration"] * 3
    ids = [data["eventId"] for _, data in replayed]
    assert ids == sorted(ids) and ids[0] > last_id and len(set(ids)) == 3
    assert ids == [event["id"] for event in stored]
    assert [data["title"] for _, data in replayed] == [f"🏅 {n} Badge Earned!" for n in missed]
    assert joined == (
        "joined",
        {"room": TV, "recovered": True, "replayed": 3, "lastEventId": ids[-1]},
    )


async def test_rejoin_with_since_then_receives_live_events(live: LiveServer) -> None:
    last_id = await _last_celebration_id(live)
    await celebrate(live)
    await room_events(live, TV, last_id, 1)
    async with SioClient(live, "/leaderboard") as client:
        joined = await client.join("tv-display", {"since": last_id})
        assert joined["recovered"] is True
        replayed = await client.inbox.expect("achievement:celebration")
        await celebrate(live)
        live_event = await client.inbox.expect("achievement:celebration")
    assert live_event["eventId"] > replayed["eventId"] == joined["lastEventId"]


async def test_user_room_rejoin_with_since_replays_missed_events(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        await client.join("user", {"userId": USER_ID})
        await celebrate(live, USER_ID)
        last_id = (await client.inbox.expect("achievement:earned"))["eventId"]
    await celebrate(live, USER_ID)
    await room_events(live, f"user:{USER_ID}", last_id, 1)
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        joined = await client.join("user", {"userId": USER_ID, "since": last_id})
        earned = await client.inbox.expect("achievement:earned")
    assert earned["eventId"] > last_id
    assert joined["recovered"] is True
    assert joined["replayed"] == 1  # only what /leaderboard carries, not `notification`


async def burst(live: LiveServer, namespace: str, batches: int, size: int) -> None:
    """`batches` admin broadcasts of `size` `bench:burst` events each to tv-display."""
    for _ in range(batches):
        await broadcast(live, namespace, TV, "bench:burst", {}, repeat=size)


async def test_join_with_since_during_a_burst_misses_and_repeats_nothing(
    live: LiveServer,
) -> None:
    await burst(live, "/leaderboard", 1, 50)
    await room_events(live, TV, 0, 50)
    async with SioClient(live, "/leaderboard") as client:
        sender = asyncio.create_task(burst(live, "/leaderboard", 10, 20))
        await client.emit("join:tv-display", {"since": 0})
        received = [(await client.inbox.next(("bench:burst",)))[1] for _ in range(250)]
        await sender
    stored = await room_events(live, TV, 0, 250)
    assert [event["eventId"] for event in received] == [event["id"] for event in stored]
    assert client.inbox.seen[0][0] == "joined"  # before any replayed or live event


async def test_rejoin_with_since_older_than_pruned_history_is_not_recovered(
    live: LiveServer,
) -> None:
    last_id = await _last_celebration_id(live)
    await celebrate(live)
    await room_events(live, TV, last_id, 1)
    await asyncio.sleep(0.05)  # prune(0) removes what is strictly older than now
    assert await live.app.state.services.history.prune(keep_s=0) > 0
    async with SioClient(live, "/leaderboard") as client:
        joined = await client.join("tv-display", {"since": last_id})
    assert joined["room"] == TV
    assert joined["recovered"] is False


async def test_event_ids_keep_rising_across_a_restart_and_catch_up_works(
    settings: Settings,
) -> None:
    config = live_settings(settings)
    await empty_database(settings)
    first, server, task = await start_server(config)
    try:
        before = await _last_celebration_id(first)
        await celebrate(first)
        (missed,) = await room_events(first, TV, before, 1)
    finally:
        await stop_server(server, task)

    second, server, task = await start_server(config)
    try:
        async with SioClient(second, "/leaderboard") as client:
            joined = await client.join("tv-display", {"since": before})
            replayed = await client.inbox.expect("achievement:celebration")
            await celebrate(second)
            after = await client.inbox.expect("achievement:celebration")
    finally:
        await stop_server(server, task)
    assert replayed["eventId"] == missed["id"] > before
    assert joined == {"room": TV, "recovered": True, "replayed": 1, "lastEventId": missed["id"]}
    assert after["eventId"] > missed["id"]


# --- requests the Socket.IO layer must not mishandle ---------------------------------------------


async def test_requests_on_one_connection_are_handled_in_order(live: LiveServer) -> None:
    for _ in range(3):
        await celebrate(live)
    await room_events(live, TV, 0, 3)
    async with SioClient(live, "/leaderboard") as client:
        await client.emit("join:tv-display", {"since": 0})
        await client.emit("leave:tv-display")
        answers = [(await client.inbox.next(("joined", "left", "error")))[0] for _ in range(2)]
        assert answers == ["joined", "left"]
        for _ in range(3):  # the replayed ones, received before `joined`
            await client.inbox.expect("achievement:celebration")
        await celebrate(live)
        await client.inbox.quiet("achievement:celebration", within=1.0)
        assert len([n for n, _ in client.inbox.seen if n == "achievement:celebration"]) == 3


async def test_client_event_named_connect_is_refused_and_keeps_the_token(
    live: LiveServer,
) -> None:
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        await client.emit("connect", {"x": 1})
        await asyncio.sleep(0.2)
        await client.emit("join:user", USER_ID)
        await asyncio.sleep(0.5)
    answers = [(name, data.get("code")) for name, data in client.inbox.seen]
    assert answers == [("error", "validation_error"), ("joined", None)]


async def test_client_event_named_disconnect_is_refused_and_keeps_the_session(
    live: LiveServer,
) -> None:
    async with SioClient(live, "/leaderboard", token(USER_ID)) as client:
        await client.emit("disconnect", {"x": 1})
        await client.inbox.next(("error",), timeout=1)
        async with live.http(bearer()) as http:
            summary = (await http.get("/api/admin/connections")).json()
        assert summary["namespaces"]["/leaderboard"]["connections"] == 1


async def test_non_string_event_name_answers_validation_error(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard") as client:
        await client.sio.emit(123, {"a": 1}, namespace="/leaderboard")  # type: ignore[arg-type]
        error = (await client.inbox.next(("error",)))[1]
        assert error["code"] == "validation_error"
        await client.assert_usable()


async def test_100kb_message_answers_error_and_keeps_connection(live: LiveServer) -> None:
    async with SioClient(live, "/leaderboard") as client:
        await client.emit("join:user", "x" * 100_000)
        error = (await client.inbox.next(("error",), timeout=2))[1]
        assert error["code"] == "validation_error"
        await client.assert_usable()
