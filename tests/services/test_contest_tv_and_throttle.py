"""The TV hears contests start and end on `tv-display` (no polling needed), and `contest:update`
goes out at most about once a second per contest, the last state always included."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets

from accolade.services.contest_scoring import UpdateThrottle
from tests.realtime.conftest import LiveServer
from tests.realtime.test_socketio import TIMEOUT, SioClient
from tests.services.test_contest_realtime import end, live_contest, solve


async def test_tv_display_hears_contest_status_and_ended(live: LiveServer) -> None:
    async with (
        SioClient(live, "/leaderboard") as tv,
        websockets.connect(f"{live.ws_url}/leaderboard") as plain_tv,
    ):
        await tv.join("tv-display")
        await plain_tv.send(json.dumps({"type": "join:tv-display"}))
        assert json.loads(await plain_tv.recv())["type"] == "joined"
        cid = await live_contest(live, 42)
        started = await tv.inbox.expect("contest:status")
        assert (started["contestId"], started["status"]) == (cid, "LIVE")
        await end(live, cid)
        ended_status = await tv.inbox.expect("contest:status")
        assert ended_status["status"] == "ENDED" and ended_status["previousStatus"] == "LIVE"
        ended = await tv.inbox.expect("contest:ended")
        assert ended["contestId"] == cid and ended["leaderboard"][0]["userId"] == 42

        kinds: list[str] = []
        while "contest:ended" not in kinds:
            frame = json.loads(await asyncio.wait_for(plain_tv.recv(), TIMEOUT))
            kinds.append(frame["type"])
        assert kinds == ["contest:status", "contest:status", "contest:ended"]


async def test_contest_updates_are_throttled_and_the_last_state_is_sent(live: LiveServer) -> None:
    cid = await live_contest(live, 42)
    solves = 15
    async with SioClient(live, "/leaderboard") as screen:
        await screen.join("contest", {"contestId": cid})
        began = time.monotonic()
        for _ in range(solves):
            await solve(live, 42, cid)
        updates: list[dict[str, Any]] = []
        while not updates or updates[-1]["value"] < solves:
            updates.append(await screen.inbox.expect("contest:update", timeout=TIMEOUT))
        elapsed_s = time.monotonic() - began
        await screen.inbox.quiet("contest:update", within=1.5)  # nothing owed any more
    assert len(updates) <= elapsed_s + 2, (len(updates), elapsed_s)
    assert len(updates) < solves
    assert updates[-1]["value"] == solves and updates[-1]["userId"] == 42


async def test_the_throttle_owes_one_trailing_update_after_the_interval() -> None:
    sent: list[dict[int, dict[str, Any]]] = []

    async def flush(due: dict[int, dict[str, Any]]) -> None:
        sent.append(due)

    throttle = UpdateThrottle(flush, interval_s=0.2)
    throttle._owe({})  # nothing owed: no timer
    assert throttle._timer is None
    throttle._sent_at[1] = throttle.clock()
    throttle._owe({1: {"value": 2}})
    throttle._owe({1: {"value": 3}})  # the latest held wins
    await asyncio.sleep(0.4)
    assert sent == [{1: {"value": 3}}]
    await throttle.close()
