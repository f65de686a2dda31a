"""`/api/teams`: teams, members, and each metric summed over the members."""

from __future__ import annotations

from tests.api.test_auth import assert_error

TEAMS = "/api/teams"


async def test_a_team_is_created_once_with_its_id_or_a_number(client, service):
    created = await client.post(TEAMS, json={"teamId": "east", "name": "East"}, headers=service)
    assert created.status_code == 201, created.text
    assert created.json()["teamId"] == "east" and created.json()["members"] == []
    again = await client.post(TEAMS, json={"teamId": "east", "name": "Other"}, headers=service)
    assert_error(again, 409, "conflict")
    numbered = await client.post(TEAMS, json={"name": "West"}, headers=service)
    assert numbered.status_code == 201
    team_id = numbered.json()["teamId"]
    assert isinstance(team_id, int)
    assert (await client.get(f"{TEAMS}/{team_id}")).json()["name"] == "West"
    listed = (await client.get(TEAMS)).json()
    assert [t["name"] for t in listed] == ["East", "West"]


async def test_members_join_and_leave_and_totals_follow_them(client, service):
    await client.post(TEAMS, json={"teamId": 9, "name": "Closers"}, headers=service)
    for rep, amount in ((1, 1000), (2, 250), (3, 4000)):
        sold = await client.post(
            f"/api/sales-reps/{rep}/sales", json={"amount": amount, "signups": 1}, headers=service
        )
        assert sold.status_code == 201
    first = await client.put(f"{TEAMS}/9/members/1", headers=service)
    assert first.status_code == 201 and first.json()["userId"] == 1
    assert (await client.put(f"{TEAMS}/9/members/1", headers=service)).status_code == 200
    added = await client.put(f"{TEAMS}/9/members/2", json={"userName": "Bo"}, headers=service)
    assert added.json()["userName"] == "Bo"

    team = (await client.get(f"{TEAMS}/9", headers=service)).json()
    assert team["teamId"] == 9
    assert [m["userId"] for m in team["members"]] == [1, 2]
    assert team["totals"]["revenue"] == 1250 and team["totals"]["signups"] == 2
    assert (await client.get(f"{TEAMS}/9", params={"period": "month"})).json()["totals"][
        "revenue"
    ] == 1250

    removed = await client.delete(f"{TEAMS}/9/members/1", headers=service)
    assert removed.status_code == 200 and removed.json()["userId"] == 1
    assert_error(await client.delete(f"{TEAMS}/9/members/1", headers=service), 404, "not_found")
    assert (await client.get(f"{TEAMS}/9")).json()["totals"]["revenue"] == 250

    deleted = await client.delete(f"{TEAMS}/9", headers=service)
    assert deleted.status_code == 200
    assert_error(await client.get(f"{TEAMS}/9"), 404, "not_found")
    assert_error(await client.put(f"{TEAMS}/9/members/2", headers=service), 404, "not_found")


async def test_a_user_token_may_read_but_not_manage_teams(client, service, auth):
    await client.post(TEAMS, json={"teamId": "t", "name": "T"}, headers=service)
    user = auth("5", "user")
    assert (await client.get(f"{TEAMS}/t", headers=user)).status_code == 200
    assert_error(await client.put(f"{TEAMS}/t/members/5", headers=user), 403, "forbidden")
    assert_error(await client.post(TEAMS, json={"name": "Mine"}, headers=user), 403, "forbidden")


async def test_a_team_without_a_token_shows_name_and_totals_but_not_its_members(client, service):
    await client.post(TEAMS, json={"teamId": "tv", "name": "Closers"}, headers=service)
    await client.put(f"{TEAMS}/tv/members/7", json={"userName": "Ava"}, headers=service)
    await client.post("/api/events", json={"userId": 7, "type": "deal"}, headers=service)
    public = await client.get(f"{TEAMS}/tv")
    assert public.status_code == 200
    body = public.json()
    assert body["name"] == "Closers" and body["memberCount"] == 1
    assert body["totals"]["deal"] == 1
    assert "members" not in body and "Ava" not in public.text


async def test_a_display_token_does_not_see_members_but_a_user_token_does(client, service, auth):
    await client.post(TEAMS, json={"teamId": "d", "name": "D"}, headers=service)
    await client.put(f"{TEAMS}/d/members/8", headers=service)
    shown = await client.get(f"{TEAMS}/d", headers=auth("lobby", "display"))
    assert "members" not in shown.json()
    member_view = await client.get(f"{TEAMS}/d", headers=auth("9", "user"))
    assert [m["userId"] for m in member_view.json()["members"]] == [8]
