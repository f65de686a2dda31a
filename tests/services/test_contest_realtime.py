"""Contests on the sockets, with real clients against a live server: seed 003's `/` flow
(python-socketio, and the official Node socket.io-client) and the `/leaderboard` contest room."""

from __future__ import annotations

from typing import Any

from tests.realtime.conftest import LiveServer
from tests.realtime.node_client import NodeSocketClient
from tests.realtime.test_socketio import TIMEOUT, SioClient, bearer, token

TIMEOUT_MS = int(TIMEOUT * 1000)
PROBLEM = "two-sum"


async def live_contest(live: LiveServer, *entrants: Any) -> int:
    """A LIVE contest on `problem.solved` with these entrants."""
    async with live.http(bearer()) as http:
        created = await http.post(
            "/api/contests", json={"name": "Weekly Arena", "metric": "problem.solved"}
        )
        assert created.status_code == 201, created.text
        cid: int = created.json()["id"]
        for user_id in entrants:
            entered = await http.post(
                f"/api/contests/{cid}/enter", json={"userId": user_id, "userName": "Ada"}
            )
            assert entered.status_code == 201, entered.text
        live_now = await http.patch(f"/api/contests/{cid}", json={"status": "LIVE"})
        assert live_now.status_code == 200, live_now.text
    return cid


async def solve(live: LiveServer, user_id: Any, cid: int) -> None:
    async with live.http(bearer()) as http:
        response = await http.post(
            "/api/events",
            json={
                "userId": user_id,
                "type": "problem.solved",
                "data": {"problemId": PROBLEM, "contestId": cid},
            },
        )
        assert response.status_code == 201, response.text


async def end(live: LiveServer, cid: int) -> None:
    async with live.http(bearer()) as http:
        response = await http.patch(f"/api/contests/{cid}", json={"status": "ENDED"})
        assert response.status_code == 200, response.text


async def expect_where(client: SioClient, name: str, **fields: Any) -> dict[str, Any]:
    """The next `name` event whose payload has these values (earlier ones are passed over)."""
    while True:
        data: dict[str, Any] = await client.inbox.expect(name)
        if all(data.get(key) == value for key, value in fields.items()):
            return data


async def test_seed_003_root_flow_with_python_socketio(live: LiveServer) -> None:
    cid = await live_contest(live, 42)
    async with (
        SioClient(live, "/", token(42)) as root,
        SioClient(live, "/leaderboard") as screen,
    ):
        assert await root.ask("contest:subscribe", {"contestId": cid}) == (
            "joined",
            {"room": f"contest:{cid}"},
        )
        snapshot = await root.inbox.expect("leaderboard:update")  # the standings on subscribe
        assert snapshot["contestId"] == cid and snapshot["status"] == "LIVE"
        assert snapshot["leaderboard"] == [{"rank": 1, "userId": 42, "userName": "Ada", "value": 0}]
        assert (await root.ask("problem:subscribe", {"problemId": PROBLEM}))[0] == "joined"
        assert await screen.join("contest", {"contestId": cid}) == {"room": f"contest:{cid}"}

        await solve(live, 42, cid)
        solved = await root.inbox.expect("problem:solved")
        assert solved["userId"] == 42 and solved["problemId"] == PROBLEM
        assert solved["contestId"] == cid and isinstance(solved["eventId"], int)
        moved = await root.inbox.expect("leaderboard:update")
        assert moved["leaderboard"] == [{"rank": 1, "userId": 42, "userName": "Ada", "value": 1}]
        update = await screen.inbox.expect("contest:update")
        assert update["userId"] == 42 and update["value"] == 1 and update["newRank"] == 1

        await end(live, cid)
        # (Going LIVE, committed before these clients joined, may still be on its way to them.)
        changed = await expect_where(root, "contest:status-changed", newStatus="ENDED")
        assert changed["oldStatus"] == "LIVE"
        assert (await root.inbox.expect("contest:ended"))["leaderboard"][0]["userId"] == 42
        await expect_where(screen, "contest:status", status="ENDED")
        assert (await screen.inbox.expect("contest:ended"))["contestId"] == cid
        # Each namespace hears the status in its own words only.
        await screen.inbox.quiet("contest:status-changed", within=0.2)
        await root.inbox.quiet("contest:status", within=0.2)


async def test_seed_003_root_flow_with_the_node_client(live: LiveServer) -> None:
    cid = await live_contest(live, 42)
    async with NodeSocketClient(
        live.url,
        "/",
        auth={"token": token(42)},
        steps=[
            {"emit": "contest:subscribe", "data": {"contestId": cid}},
            {"waitFor": "joined", "match": {"room": f"contest:{cid}"}},
            {"waitFor": "leaderboard:update", "match": {"contestId": cid}},
            {"emit": "problem:subscribe", "data": {"problemId": PROBLEM}},
            {"waitFor": "joined", "match": {"room": f"problem:{PROBLEM}"}},
            {"print": "ready"},
            {"waitFor": "problem:solved", "match": {"problemId": PROBLEM, "userId": 42}},
            {"waitFor": "leaderboard:update", "match": {"leaderboard": [{"value": 1}]}},
            {"print": "solved"},
            {"waitFor": "contest:status-changed", "match": {"newStatus": "ENDED"}},
            {"waitFor": "contest:ended", "match": {"contestId": cid}},
        ],
        timeout_ms=TIMEOUT_MS,
    ) as client:
        await client.wait_ready()
        await solve(live, 42, cid)
        await client.wait_ready("solved")
        await end(live, cid)
        await client.wait_done(TIMEOUT)
    assert client.seen("error") == []
