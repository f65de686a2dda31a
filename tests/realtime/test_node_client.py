"""The official Socket.IO v4 client (Node.js socket.io-client) against a live server.

The scripts run in tests/node/client.js (see tests/realtime/node_client.py); each test checks one
thing a real browser or Node client relies on: transports, payloads, seed 003's `/` usage and
errors that leave the connection usable.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.realtime.conftest import LiveServer
from tests.realtime.node_client import Event, NodeSocketClient
from tests.realtime.test_socketio import (
    CELEBRATION_FIELDS,
    TIMEOUT,
    TV,
    USER_ID,
    celebrate,
    room_events,
    token,
)

TIMEOUT_MS = int(TIMEOUT * 1000)
JOIN_TV_THEN_COLLECT: list[dict[str, Any]] = [
    {"emit": "join:tv-display"},
    {"waitFor": "joined", "match": {"room": TV}},
    {"print": "ready"},
    {"collect": "achievement:celebration"},
]


async def upgraded(client: NodeSocketClient) -> Event:
    """The `__transport__` line that reports the upgrade to websocket."""
    while True:
        line = await client.next_event("__transport__", TIMEOUT)
        if line.get("via") == "upgrade":
            return line


def dropped(client: NodeSocketClient) -> list[Event]:
    """Disconnects the script did not ask for (its own end is "io client disconnect")."""
    return [
        line
        for line in client.seen("disconnect")
        if line["data"].get("reason") != "io client disconnect"
    ]


def assert_celebration(data: dict[str, Any], user_id: object, name: str) -> None:
    assert set(data) >= CELEBRATION_FIELDS, data
    assert data["userId"] == user_id
    assert data["achievementType"] == "milestone"
    assert data["title"] == f"🏅 {name} Badge Earned!"
    assert data["description"] == f"Earned {name}"
    assert isinstance(data["timestamp"], str)
    assert isinstance(data["eventId"], int)


async def test_websocket_transport_receives_celebration_with_contract_fields(
    live: LiveServer,
) -> None:
    async with NodeSocketClient(
        live.url,
        "/leaderboard",
        transports=["websocket"],
        steps=JOIN_TV_THEN_COLLECT,
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_ready("ready", TIMEOUT)
        achievement = await celebrate(live, USER_ID)
        event = await client.next_event("achievement:celebration", TIMEOUT)
        await client.wait_done(TIMEOUT)
    assert_celebration(event["data"], USER_ID, achievement["name"])
    assert {line["name"] for line in client.seen("__transport__")} == {"websocket"}


async def test_polling_upgrades_to_websocket_and_receives_celebration(live: LiveServer) -> None:
    async with NodeSocketClient(
        live.url, "/leaderboard", steps=JOIN_TV_THEN_COLLECT, timeout_ms=TIMEOUT_MS
    ) as client:
        await client.wait_ready("ready", TIMEOUT)
        upgrade = await upgraded(client)
        achievement = await celebrate(live, USER_ID)
        event = await client.next_event("achievement:celebration", TIMEOUT)
        await client.wait_done(TIMEOUT)
    assert client.seen("__transport__")[0]["name"] == "polling"
    assert upgrade["name"] == "websocket"
    assert_celebration(event["data"], USER_ID, achievement["name"])


async def test_join_tv_display_with_since_answers_joined_then_the_missed_celebrations(
    live: LiveServer,
) -> None:
    await celebrate(live)
    (first,) = await room_events(live, TV, 0, 1)
    names = [(await celebrate(live))["name"] for _ in range(2)]
    missed = await room_events(live, TV, first["id"], 2)
    async with NodeSocketClient(
        live.url,
        "/leaderboard",
        transports=["websocket"],
        steps=[
            {"emit": "join:tv-display", "data": {"since": first["id"]}},
            {"waitFor": "joined", "match": {"room": TV}},
            {"collect": "achievement:celebration", "count": 2},
        ],
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_done(TIMEOUT)
    received = [
        line for line in client.events if line["event"] in ("achievement:celebration", "joined")
    ]
    assert [line["event"] for line in received] == ["joined"] + ["achievement:celebration"] * 2
    assert [line["data"]["eventId"] for line in received[1:]] == [e["id"] for e in missed]
    assert [line["data"]["title"] for line in received[1:]] == [
        f"🏅 {name} Badge Earned!" for name in names
    ]
    assert received[0]["data"]["recovered"] is True


async def test_root_contest_subscribe_with_auth_token_answers_joined(live: LiveServer) -> None:
    async with NodeSocketClient(
        live.url,
        "/",
        auth={"token": token(USER_ID)},
        steps=[
            {"emit": "contest:subscribe", "data": {"contestId": 1}},
            {"waitFor": "joined", "match": {"room": "contest:1"}},
        ],
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_done(TIMEOUT)
    assert client.seen("error") == []


async def test_root_error_for_bad_request_keeps_the_connection(live: LiveServer) -> None:
    async with NodeSocketClient(
        live.url,
        "/",
        auth={"token": token(USER_ID)},
        steps=[
            {"emit": "contest:subscribe", "data": {"contestId": [1]}},
            {"waitFor": "error", "match": {"code": "validation_error"}},
            {"emit": "heartbeat"},
            {"waitFor": "heartbeat", "match": {"ok": True}},
            {"emit": "contest:subscribe", "data": {"contestId": 1}},
            {"waitFor": "joined", "match": {"room": "contest:1"}},
        ],
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_done(TIMEOUT)
    assert dropped(client) == []
    (error,) = client.seen("error")
    assert isinstance(error["data"]["message"], str) and error["data"]["message"]


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        pytest.param({"token": token(USER_ID)}, "forbidden", id="someone-elses-room"),
        pytest.param(None, "unauthorized", id="anonymous"),
    ],
)
async def test_refused_join_user_keeps_the_connection(
    live: LiveServer, auth: dict[str, str] | None, code: str
) -> None:
    async with NodeSocketClient(
        live.url,
        "/leaderboard",
        auth=auth,
        transports=["websocket"],
        steps=[
            {"emit": "join:user", "data": {"userId": USER_ID + 1}},
            {"waitFor": "error", "match": {"code": code}},
            {"emit": "join:tv-display"},
            {"waitFor": "joined", "match": {"room": TV}},
        ],
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_done(TIMEOUT)
    assert dropped(client) == []


async def test_a_bad_token_is_told_unauthorized_then_disconnected(live: LiveServer) -> None:
    async with NodeSocketClient(
        live.url,
        "/leaderboard",
        auth={"token": "garbage"},
        transports=["websocket"],
        steps=[
            {"waitFor": "error", "match": {"code": "unauthorized"}},
            {"waitFor": "disconnect"},
        ],
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_done(TIMEOUT)
    names = [line["event"] for line in client.events if not line["event"].startswith("__")]
    assert names == ["connect", "error", "disconnect"]
    (disconnect,) = client.seen("disconnect")
    assert disconnect["data"]["reason"] == "io server disconnect"
