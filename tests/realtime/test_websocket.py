"""Plain WebSocket gateway (JSON text frames) driven by the `websockets` client.

`/leaderboard` and `/training` take `{"type": "join:...", ...}`; `/game-events?token=` streams the
token's own user events without joining. Every frame from the server is the envelope
`{"type", "data", "timestamp", "id"}`; `id` is the room event id used for catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.conftest import LiveServer
from tests.realtime.test_socketio import (
    CELEBRATION_FIELDS,
    OTHER_USER_ID,
    TIMEOUT,
    TV,
    USER_ID,
    Inbox,
    SioClient,
    broadcast,
    burst,
    celebrate,
    room_events,
    token,
)

ENVELOPE_FIELDS = {"type", "data", "timestamp", "id"}


class WsClient:
    """One plain WebSocket connection; a reader task records every envelope into `inbox`."""

    def __init__(self, live: LiveServer, path: str, token: str | None = None, **query: Any):
        params = {"token": token, **query} if token else query
        suffix = "&".join(f"{key}={value}" for key, value in params.items())
        self.url = f"{live.ws_url}{path}" + (f"?{suffix}" if suffix else "")
        self.inbox = Inbox()
        self.envelopes: list[dict[str, Any]] = []
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WsClient:
        self.ws = await connect(self.url, open_timeout=TIMEOUT, close_timeout=1)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None and self._reader is not None
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                assert isinstance(frame, str), f"the server sent a binary frame: {frame!r}"
                envelope = json.loads(frame)
                self.envelopes.append(envelope)
                self.inbox.put(envelope["type"], envelope)

    @property
    def open(self) -> bool:
        return self.ws is not None and self.ws.close_code is None

    async def send(self, frame: str | bytes | dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next envelope of type `kind` (the whole envelope)."""
        envelope: dict[str, Any] = await self.inbox.expect(kind)
        return envelope

    async def ask(self, frame: str | bytes | dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its answer: the next joined, left, error, heartbeat or pong."""
        await self.send(frame)
        _, envelope = await self.inbox.next(("joined", "left", "error", "heartbeat", "pong"))
        answer: dict[str, Any] = envelope
        return answer

    async def join(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = await self.ask(request)
        assert answer["type"] == "joined", answer
        data: dict[str, Any] = answer["data"]
        return data

    async def refused(self, frame: str | bytes | dict[str, Any]) -> dict[str, Any]:
        answer = await self.ask(frame)
        assert answer["type"] == "error", answer
        error: dict[str, Any] = answer["data"]
        assert isinstance(error.get("code"), str)
        assert isinstance(error.get("message"), str) and error["message"]
        return error

    async def assert_usable(self) -> None:
        assert self.open
        assert await self.join({"type": "join:tv-display"}) == {"room": TV}


# --- envelopes and joins -----------------------------------------------------------------------


async def test_join_tv_display_answers_joined_envelope(live: LiveServer) -> None:
    async with WsClient(live, "/leaderboard") as client:
        answer = await client.ask({"type": "join:tv-display"})
    assert set(answer) == ENVELOPE_FIELDS
    assert answer["type"] == "joined"
    assert answer["data"] == {"room": TV}
    assert isinstance(answer["timestamp"], str) and answer["timestamp"].endswith("Z")


async def test_tv_display_member_receives_celebration_envelope_with_integer_id(
    live: LiveServer,
) -> None:
    async with WsClient(live, "/leaderboard") as client:
        await client.join({"type": "join:tv-display"})
        achievement = await celebrate(live)
        envelope = await client.expect("achievement:celebration")
    assert set(envelope) == ENVELOPE_FIELDS
    assert isinstance(envelope["id"], int) and not isinstance(envelope["id"], bool)
    assert envelope["data"]["eventId"] == envelope["id"]
    assert set(envelope["data"]) >= CELEBRATION_FIELDS
    assert envelope["data"]["title"] == f"🏅 {achievement['name']} Badge Earned!"


async def test_user_joins_own_room_and_receives_achievement_earned(live: LiveServer) -> None:
    async with WsClient(live, "/leaderboard", token(USER_ID)) as client:
        joined = await client.join({"type": "join:user", "userId": USER_ID})
        await celebrate(live, USER_ID)
        envelope = await client.expect("achievement:earned")
    assert joined == {"room": f"user:{USER_ID}"}
    assert envelope["data"]["userId"] == USER_ID


async def test_training_join_user_receives_achievement_unlocked(live: LiveServer) -> None:
    async with WsClient(live, "/training", token(USER_ID)) as client:
        await client.join({"type": "join:user", "userId": USER_ID})
        await celebrate(live, USER_ID)
        envelope = await client.expect("achievement:unlocked")
    assert envelope["data"]["userId"] == USER_ID


async def test_leave_answers_left_and_stops_delivery(live: LiveServer) -> None:
    async with WsClient(live, "/leaderboard") as client:
        await client.join({"type": "join:tv-display"})
        answer = await client.ask({"type": "leave:tv-display"})
        assert (answer["type"], answer["data"]) == ("left", {"room": TV})
        await celebrate(live)
        await client.inbox.quiet("achievement:celebration")


@pytest.mark.parametrize("kind", ["heartbeat", "ping"])
async def test_heartbeat_and_ping_are_answered(live: LiveServer, kind: str) -> None:
    async with WsClient(live, "/leaderboard") as client:
        answer = await client.ask({"type": kind})
    assert answer["type"] == ("heartbeat" if kind == "heartbeat" else "pong")
    assert answer["data"] == {"ok": True}


# --- /game-events ------------------------------------------------------------------------------


async def test_game_events_joins_own_user_room_by_itself(live: LiveServer) -> None:
    async with WsClient(live, "/game-events", token(USER_ID)) as client:
        joined = await client.expect("joined")
    assert joined["data"] == {"room": f"user:{USER_ID}"}


async def test_game_events_streams_own_events_without_joining(live: LiveServer) -> None:
    async with WsClient(live, "/game-events", token(USER_ID)) as client:
        await client.expect("joined")
        await celebrate(live, USER_ID)
        earned = await client.expect("achievement:earned")
        notification = await client.expect("notification")
        unlocked = await client.expect("achievement:unlocked")
    for envelope in (earned, notification, unlocked):
        assert envelope["data"]["userId"] == USER_ID
        assert isinstance(envelope["id"], int)
    assert earned["id"] < notification["id"] < unlocked["id"]


async def test_game_events_does_not_stream_other_users_events(live: LiveServer) -> None:
    async with WsClient(live, "/game-events", token(USER_ID)) as client:
        await client.expect("joined")
        await celebrate(live, OTHER_USER_ID)
        await celebrate(live, USER_ID)
        await client.expect("achievement:unlocked")  # the last of USER_ID's three events
    streamed = [e for e in client.envelopes if e["type"] not in ("joined", "error")]
    assert len(streamed) == 3
    assert {e["data"]["userId"] for e in streamed} == {USER_ID}


async def closed_after_error(client: WsClient) -> tuple[dict[str, Any], int | None]:
    """The `error` the server sent, and the close code it closed the connection with."""
    error = await client.expect("error")
    assert client.ws is not None
    await asyncio.wait_for(client.ws.wait_closed(), TIMEOUT)
    assert client._reader is not None
    await asyncio.wait_for(client._reader, TIMEOUT)
    assert [e["type"] for e in client.envelopes] == ["error"]  # nothing else, then closed
    return error["data"], client.ws.close_code


async def test_game_events_without_token_answers_unauthorized_and_closes_4401(
    live: LiveServer,
) -> None:
    async with WsClient(live, "/game-events") as client:
        error, code = await closed_after_error(client)
    assert error["code"] == "unauthorized" and code == 4401


@pytest.mark.parametrize("path", ["/game-events", "/leaderboard", "/training"])
async def test_a_bad_token_answers_unauthorized_and_closes_4401(
    live: LiveServer, path: str
) -> None:
    async with WsClient(live, path, "garbage") as client:
        error, code = await closed_after_error(client)
    assert error["code"] == "unauthorized" and code == 4401


async def test_an_expired_token_answers_unauthorized_and_closes_4401(live: LiveServer) -> None:
    from accolade.auth import issue_token
    from accolade.domain.identity import Role
    from tests.conftest import TEST_SECRET

    expired = issue_token(TEST_SECRET, str(USER_ID), Role.USER, -10)
    async with WsClient(live, "/leaderboard", expired) as client:
        error, code = await closed_after_error(client)
    assert error["code"] == "unauthorized" and code == 4401


async def test_game_events_with_a_display_token_answers_forbidden_and_closes_4403(
    live: LiveServer,
) -> None:
    from accolade.auth import issue_token
    from accolade.domain.identity import Role
    from tests.conftest import TEST_SECRET

    display = issue_token(TEST_SECRET, "lobby-tv", Role.DISPLAY, 3600)
    async with WsClient(live, "/game-events", display) as client:
        error, code = await closed_after_error(client)
    assert error["code"] == "forbidden" and code == 4403


async def test_game_events_since_replays_missed_events(live: LiveServer) -> None:
    async with WsClient(live, "/game-events", token(USER_ID)) as client:
        await client.expect("joined")
        await celebrate(live, USER_ID)
        last_id = (await client.expect("achievement:unlocked"))["id"]
    await celebrate(live, USER_ID)
    await room_events(live, f"user:{USER_ID}", last_id, 3)
    async with WsClient(live, "/game-events", token(USER_ID), since=last_id) as client:
        joined = await client.inbox.next()
        replayed = [await client.inbox.next() for _ in range(3)]
    assert joined[0] == "joined"
    assert [kind for kind, _ in replayed] == [
        "achievement:earned",
        "notification",
        "achievement:unlocked",
    ]
    ids = [envelope["id"] for _, envelope in replayed]
    assert ids == sorted(ids) and ids[0] > last_id
    assert joined[1]["data"] == {
        "room": f"user:{USER_ID}",
        "recovered": True,
        "replayed": 3,
        "lastEventId": ids[-1],
    }


# --- malformed and refused requests keep the connection ------------------------------------------

MALFORMED = [
    pytest.param("not json {", id="not-json"),
    pytest.param("[1, 2, 3]", id="json-array"),
    pytest.param('"join:tv-display"', id="json-string"),
    pytest.param("null", id="json-null"),
    pytest.param(json.dumps({"userId": USER_ID}), id="missing-type"),
    pytest.param(json.dumps({"type": 5}), id="type-not-a-string"),
    pytest.param(b'{"type": "join:tv-display"}', id="binary-frame"),
    pytest.param(json.dumps({"type": "join:user", "userId": "x" * 100_000}), id="100kB-frame"),
    pytest.param(json.dumps({"type": "frobnicate"}), id="unknown-type"),
    pytest.param(json.dumps({"type": "join:galaxy"}), id="unknown-room-kind"),
    pytest.param(json.dumps({"type": "join:user"}), id="missing-user-id"),
    pytest.param(json.dumps({"type": "join:user", "userId": [USER_ID]}), id="list-user-id"),
    pytest.param(json.dumps({"type": "join:user", "userId": {"id": 1}}), id="dict-user-id"),
    pytest.param(json.dumps({"type": "join:user", "userId": True}), id="bool-user-id"),
    pytest.param(json.dumps({"type": "join:user", "userId": 1.5}), id="float-user-id"),
    pytest.param(json.dumps({"type": "join:tv-display", "since": -1}), id="negative-since"),
    pytest.param(json.dumps({"type": "join:tv-display", "since": 10**30}), id="huge-since"),
    pytest.param("[" * 5000 + "]" * 5000, id="deeply-nested-json"),
]


@pytest.mark.parametrize("frame", MALFORMED)
async def test_malformed_frame_answers_validation_error_and_keeps_connection(
    live: LiveServer, frame: str | bytes
) -> None:
    async with WsClient(live, "/leaderboard", token(USER_ID)) as client:
        error = await client.refused(frame)
        assert error["code"] == "validation_error"
        await client.assert_usable()


async def test_join_of_someone_elses_user_room_is_forbidden(live: LiveServer) -> None:
    async with WsClient(live, "/leaderboard", token(USER_ID)) as client:
        error = await client.refused({"type": "join:user", "userId": OTHER_USER_ID})
        assert error["code"] == "forbidden"
        await client.assert_usable()


async def test_anonymous_join_of_a_user_room_is_unauthorized(live: LiveServer) -> None:
    async with WsClient(live, "/leaderboard") as client:
        error = await client.refused({"type": "join:user", "userId": USER_ID})
        assert error["code"] == "unauthorized"
        await client.assert_usable()


# --- catch-up and the one publish path ----------------------------------------------------------


async def test_rejoin_with_since_answers_joined_then_the_missed_events_in_order(
    live: LiveServer,
) -> None:
    async with WsClient(live, "/leaderboard") as client:
        await client.join({"type": "join:tv-display"})
        await celebrate(live)
        last_id = (await client.expect("achievement:celebration"))["id"]
    for _ in range(3):
        await celebrate(live)
    await room_events(live, TV, last_id, 3)
    async with WsClient(live, "/leaderboard") as client:
        # A client that waits for `joined` before it reads on loses nothing.
        joined = await client.join({"type": "join:tv-display", "since": last_id})
        replayed = [(await client.inbox.next())[1] for _ in range(3)]
        await celebrate(live)
        live_event = await client.expect("achievement:celebration")
    assert [e["type"] for e in replayed] == ["achievement:celebration"] * 3
    ids = [e["id"] for e in replayed]
    assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > last_id
    assert joined == {"room": TV, "recovered": True, "replayed": 3, "lastEventId": ids[-1]}
    assert live_event["id"] > ids[-1]
    assert [e["type"] for e in client.envelopes][:5] == ["joined", *["achievement:celebration"] * 4]


async def test_join_with_since_during_a_burst_misses_and_repeats_nothing(
    live: LiveServer,
) -> None:
    await burst(live, "/leaderboard", 1, 50)
    await room_events(live, TV, 0, 50)
    async with WsClient(live, "/leaderboard") as client:
        sender = asyncio.create_task(burst(live, "/leaderboard", 10, 20))
        await client.send({"type": "join:tv-display", "since": 0})
        received = [await client.expect("bench:burst") for _ in range(250)]
        await sender
    stored = await room_events(live, TV, 0, 250)
    assert [envelope["id"] for envelope in received] == [event["id"] for event in stored]
    assert client.envelopes[0]["type"] == "joined"  # before any replayed or live event


async def test_rejoin_with_since_older_than_pruned_history_is_not_recovered(
    live: LiveServer,
) -> None:
    await celebrate(live)
    (first,) = await room_events(live, TV, 0, 1)
    await celebrate(live)
    await room_events(live, TV, first["id"], 1)
    await asyncio.sleep(0.05)  # prune(0) removes what is strictly older than now
    assert await live.app.state.services.history.prune(keep_s=0) > 0
    async with WsClient(live, "/leaderboard") as client:
        joined = await client.join({"type": "join:tv-display", "since": first["id"]})
    assert joined["recovered"] is False


async def test_admin_broadcast_reaches_socketio_and_websocket_members_of_one_room(
    live: LiveServer,
) -> None:
    async with (
        SioClient(live, "/leaderboard") as sio_client,
        WsClient(live, "/leaderboard") as ws_client,
    ):
        await sio_client.join("tv-display")
        await ws_client.join({"type": "join:tv-display"})
        await broadcast(live, "/leaderboard", TV, "bench:ping", {"n": 1})
        sio_data = await sio_client.inbox.expect("bench:ping")
        ws_envelope = await ws_client.expect("bench:ping")
    assert ws_envelope["data"] == sio_data
    assert sio_data["n"] == 1 and sio_data["seq"] == 1 and isinstance(sio_data["sentAt"], int)
    assert ws_envelope["id"] == sio_data["eventId"]


async def test_admin_broadcast_on_another_namespace_does_not_reach_the_room(
    live: LiveServer,
) -> None:
    async with WsClient(live, "/leaderboard") as client:
        await client.join({"type": "join:tv-display"})
        await broadcast(live, "/training", TV, "bench:ping", {"n": 1})
        await broadcast(live, "/leaderboard", TV, "bench:pong", {"n": 2})
        await client.expect("bench:pong")
    assert "bench:ping" not in [e["type"] for e in client.envelopes]
