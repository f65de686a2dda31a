"""`team:{id}` rooms are for the team's members: a member's user token joins, anyone else's is
refused with `error` (connection kept); admin and service tokens join any team's room. On
Socket.IO (`join:team`) and on the plain WebSocket alike."""

from __future__ import annotations

from tests.realtime.conftest import LiveServer
from tests.realtime.test_socketio import SioClient, bearer, token
from tests.realtime.test_websocket import WsClient


async def make_team(live: LiveServer) -> None:
    async with live.http(bearer("host", "service")) as http:
        created = await http.post("/api/teams", json={"teamId": "east", "name": "East"})
        assert created.status_code == 201, created.text
        assert (await http.put("/api/teams/east/members/42")).status_code == 201


async def test_members_and_privileged_tokens_join_team_rooms_others_are_refused(
    live: LiveServer,
) -> None:
    await make_team(live)
    async with SioClient(live, "/leaderboard", token(42)) as member:
        assert (await member.join("team", {"teamId": "east"}))["room"] == "team:east"
        assert (await member.refused("join:team", {"teamId": "west"}))["code"] == "forbidden"
    async with SioClient(live, "/leaderboard", token(7)) as outsider:
        assert (await outsider.refused("join:team", {"teamId": "east"}))["code"] == "forbidden"
        await outsider.assert_usable()
    for role in ("admin", "service"):
        async with SioClient(live, "/leaderboard", token("ops", role)) as privileged:
            assert (await privileged.join("team", "east"))["room"] == "team:east"
    async with SioClient(live, "/leaderboard", token("tv", "display")) as screen:
        assert (await screen.refused("join:team", "east"))["code"] == "forbidden"

    # Leaving the team closes the room to the former member.
    async with live.http(bearer("host", "service")) as http:
        assert (await http.delete("/api/teams/east/members/42")).status_code == 200
    async with SioClient(live, "/leaderboard", token(42)) as former:
        assert (await former.refused("join:team", {"teamId": "east"}))["code"] == "forbidden"


async def test_plain_websocket_checks_team_membership_too(live: LiveServer) -> None:
    await make_team(live)
    async with WsClient(live, "/leaderboard", token(42)) as member:
        assert (await member.join({"type": "join:team", "teamId": "east"}))["room"] == "team:east"
    async with WsClient(live, "/leaderboard", token(7)) as outsider:
        refused = await outsider.ask({"type": "join:team", "teamId": "east"})
        assert refused["type"] == "error" and refused["data"]["code"] == "forbidden"
        assert outsider.open
