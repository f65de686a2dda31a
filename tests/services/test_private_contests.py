"""Private contests: entered by invitation; their room and their place in the listing are for
invitees and entrants (and admin and service tokens). REST on both databases; the rooms on both
transports (python-socketio on `/leaderboard` and seed 003's `/`, plain WebSocket)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.realtime.conftest import LiveServer
from tests.realtime.test_socketio import SioClient, bearer, token
from tests.realtime.test_websocket import WsClient

INVITED, OUTSIDER, ENTRANT = 42, 43, 44


async def private_contest(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    created = await http.post(
        "/api/contests",
        json={"name": "Inner Circle", "metric": "deals", "visibility": "private"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["visibility"] == "private"
    cid: int = created.json()["id"]
    invited = await http.post(
        f"/api/contests/{cid}/invitations", json={"userIds": [INVITED, ENTRANT]}, headers=headers
    )
    assert invited.status_code == 200, invited.text
    assert invited.json() == {"contestId": cid, "invited": [INVITED, ENTRANT]}
    return cid


async def listed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get("/api/contests", headers=headers)
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()]


# --- REST, both databases ----------------------------------------------------------------------


async def test_contests_are_public_by_default(client, admin):
    created = await client.post(
        "/api/contests", json={"name": "Open", "metric": "deals"}, headers=admin
    )
    assert created.json()["visibility"] == "public"
    refused = await client.post(
        f"/api/contests/{created.json()['id']}/invitations", json={"userIds": [1]}, headers=admin
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"


async def test_private_contest_is_listed_only_for_invitees_entrants_admin_and_service(
    client, admin, service, auth
):
    await client.post("/api/contests", json={"name": "Open", "metric": "deals"}, headers=admin)
    cid = await private_contest(client, admin)
    entered = await client.post(f"/api/contests/{cid}/enter", headers=auth(str(ENTRANT), "user"))
    assert entered.status_code == 201, entered.text
    both = ["Inner Circle", "Open"]
    assert await listed(client, admin) == both
    assert await listed(client, service) == both
    assert await listed(client, auth(str(INVITED), "user")) == both
    assert await listed(client, auth(str(ENTRANT), "user")) == both
    assert await listed(client, auth(str(OUTSIDER), "user")) == ["Open"]
    assert await listed(client, auth("tv", "display")) == ["Open"]
    assert await listed(client, {}) == ["Open"]  # anonymous, ACCOLADE_PUBLIC_DISPLAY on
    outsider = await client.get(f"/api/contests/{cid}", headers=auth(str(OUTSIDER), "user"))
    assert outsider.status_code == 404
    assert (await client.get(f"/api/contests/{cid}", headers=auth(str(INVITED), "user"))).json()[
        "name"
    ] == "Inner Circle"


async def test_private_contest_is_entered_only_by_invitation(client, admin, service, auth):
    cid = await private_contest(client, admin)
    refused = await client.post(f"/api/contests/{cid}/enter", headers=auth(str(OUTSIDER), "user"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    by_service = await client.post(
        f"/api/contests/{cid}/enter", json={"userId": OUTSIDER}, headers=service
    )
    assert by_service.status_code == 403  # the host application invites first
    invited = await client.post(f"/api/contests/{cid}/enter", headers=auth(str(INVITED), "user"))
    assert invited.status_code == 201, invited.text
    assert (
        await client.post(
            f"/api/contests/{cid}/invitations", json={"userIds": [OUTSIDER]}, headers=service
        )
    ).status_code == 200
    now = await client.post(f"/api/contests/{cid}/enter", headers=auth(str(OUTSIDER), "user"))
    assert now.status_code == 201, now.text


async def test_private_contest_standings_and_room_history_are_for_those_it_admits(
    client, admin, auth
):
    cid = await private_contest(client, admin)
    await client.patch(f"/api/contests/{cid}", json={"status": "LIVE"}, headers=admin)
    outsider, invited = auth(str(OUTSIDER), "user"), auth(str(INVITED), "user")
    board = f"/api/contests/{cid}/leaderboard"
    assert (await client.get(board, headers=outsider)).status_code == 404
    assert (await client.get(board)).status_code == 404
    assert (await client.get(board, headers=invited)).status_code == 200
    history = f"/api/rooms/contest:{cid}/events"
    refused = await client.get(history, headers=outsider)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    shown = await client.get(history, params={"since": 0}, headers=invited)
    assert shown.status_code == 200
    assert "contest:status" in [e["type"] for e in shown.json()["events"]]
    tv = (await client.get("/api/rooms/tv-display/events", headers=admin)).json()["events"]
    assert [e for e in tv if e["data"].get("contestId") == cid] == []  # not told to the TV


@pytest.mark.parametrize(
    "body", [{}, {"userIds": []}, {"userIds": [True]}, {"userIds": "42"}, {"userIds": [None]}]
)
async def test_bad_invitations_are_422(client, admin, body):
    cid = await private_contest(client, admin)
    response = await client.post(f"/api/contests/{cid}/invitations", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_only_admin_and_service_invite(client, admin, auth):
    cid = await private_contest(client, admin)
    response = await client.post(
        f"/api/contests/{cid}/invitations",
        json={"userIds": [INVITED]},
        headers=auth(str(INVITED), "user"),
    )
    assert response.status_code == 403
    missing = await client.post(
        "/api/contests/999/invitations", json={"userIds": [INVITED]}, headers=admin
    )
    assert missing.status_code == 404


async def test_unknown_visibility_is_422(client, admin):
    response = await client.post(
        "/api/contests",
        json={"name": "X", "metric": "deals", "visibility": "secret"},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "visibility"


# --- the room, both transports -----------------------------------------------------------------


async def make_private(live: LiveServer) -> int:
    async with live.http(bearer()) as http:
        return await private_contest(http, {})


async def test_private_contest_room_on_socketio_leaderboard(live: LiveServer) -> None:
    cid = await make_private(live)
    room = {"room": f"contest:{cid}"}
    async with SioClient(live, "/leaderboard", token(OUTSIDER)) as outsider:
        error = await outsider.refused("join:contest", {"contestId": cid})
        assert error["code"] == "forbidden"
        await outsider.assert_usable()
    async with SioClient(live, "/leaderboard") as anonymous:
        assert (await anonymous.refused("join:contest", {"contestId": cid}))["code"] == (
            "unauthorized"
        )
    for subject, role in ((INVITED, "user"), ("admin", "admin"), ("app", "service")):
        async with SioClient(live, "/leaderboard", token(subject, role)) as member:
            assert await member.join("contest", {"contestId": cid}) == room


async def test_private_contest_room_on_socketio_root_subscribe(live: LiveServer) -> None:
    cid = await make_private(live)
    async with SioClient(live, "/", token(OUTSIDER)) as outsider:
        name, error = await outsider.ask("contest:subscribe", {"contestId": cid})
        assert (name, error["code"]) == ("error", "forbidden")
    async with SioClient(live, "/", token(INVITED)) as invited:
        assert await invited.ask("contest:subscribe", {"contestId": cid}) == (
            "joined",
            {"room": f"contest:{cid}"},
        )


async def test_private_contest_room_on_plain_websocket(live: LiveServer) -> None:
    path = "/leaderboard"
    cid = await make_private(live)
    join: dict[str, Any] = {"type": "join:contest", "contestId": cid}
    async with WsClient(live, path, token(OUTSIDER)) as outsider:
        assert (await outsider.refused(join))["code"] == "forbidden"
        await outsider.assert_usable()
    async with WsClient(live, path) as anonymous:
        assert (await anonymous.refused(join))["code"] == "unauthorized"
    for subject, role in ((ENTRANT, "user"), ("admin", "admin"), ("app", "service")):
        async with WsClient(live, path, token(subject, role)) as member:
            assert await member.join(join) == {"room": f"contest:{cid}"}


async def test_public_contest_room_stays_open_to_anyone(live: LiveServer) -> None:
    async with live.http(bearer()) as http:
        created = await http.post("/api/contests", json={"name": "Open", "metric": "deals"})
    cid = created.json()["id"]
    async with WsClient(live, "/leaderboard") as anonymous:
        assert await anonymous.join({"type": "join:contest", "contestId": cid}) == {
            "room": f"contest:{cid}"
        }
    async with SioClient(live, "/leaderboard", token(OUTSIDER)) as user:
        assert await user.join("contest", {"contestId": cid}) == {"room": f"contest:{cid}"}
