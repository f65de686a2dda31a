"""Users: created explicitly or on first sight; ids keep their JSON type; delete removes all."""

from __future__ import annotations

import pytest


async def test_create_returns_201_with_the_user(client, service):
    response = await client.post(
        "/api/users",
        json={"userId": 123, "userName": "Ada", "timeZone": "Europe/Berlin"},
        headers=service,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["userId"] == 123
    assert body["userName"] == "Ada"
    assert body["timeZone"] == "Europe/Berlin"
    assert body["createdAt"].endswith("Z")


@pytest.mark.parametrize("user_id", [123, "u-7", "123abc", 0, -5, "Grüße"])
async def test_user_id_keeps_its_json_type(client, service, user_id):
    await client.post("/api/users", json={"userId": user_id}, headers=service)
    response = await client.get(f"/api/users/{user_id}", headers=service)
    assert response.status_code == 200
    assert response.json()["userId"] == user_id
    assert type(response.json()["userId"]) is type(user_id)


async def test_string_id_that_looks_numeric_stays_a_string(client, service):
    await client.post("/api/users", json={"userId": "42"}, headers=service)
    assert (await client.get("/api/users/42", headers=service)).json()["userId"] == "42"


async def test_number_and_string_of_the_same_id_are_one_user(client, service):
    first = await client.post("/api/users", json={"userId": 42}, headers=service)
    again = await client.post(
        "/api/users", json={"userId": "42", "userName": "Bo"}, headers=service
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["userId"] == 42  # the type it was first given
    assert again.json()["userName"] == "Bo"


async def test_create_existing_user_updates_name_and_keeps_created_at(client, service):
    first = (
        await client.post("/api/users", json={"userId": 1, "userName": "A"}, headers=service)
    ).json()
    second = await client.post("/api/users", json={"userId": 1, "userName": "B"}, headers=service)
    assert second.status_code == 200
    assert second.json()["userName"] == "B"
    assert second.json()["createdAt"] == first["createdAt"]


async def test_unknown_time_zone_is_422_naming_the_field(client, service):
    response = await client.post(
        "/api/users", json={"userId": 1, "timeZone": "Mars/Olympus"}, headers=service
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "timeZone"


async def test_get_unknown_user_is_404(client, service):
    response = await client.get("/api/users/ghost", headers=service)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_delete_returns_the_user_and_removes_it(client, service):
    await client.post("/api/users", json={"userId": "u-1", "userName": "A"}, headers=service)
    response = await client.delete("/api/users/u-1", headers=service)
    assert response.status_code == 200
    assert response.json()["userName"] == "A"
    assert (await client.get("/api/users/u-1", headers=service)).status_code == 404
    assert (await client.delete("/api/users/u-1", headers=service)).status_code == 404


async def test_concurrent_first_sights_make_one_user(client, service):
    import asyncio

    responses = await asyncio.gather(
        *(client.post("/api/users", json={"userId": "same"}, headers=service) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201]


async def test_user_may_create_and_read_itself(client, auth):
    me = auth("77", "user")
    assert (await client.post("/api/users", json={"userId": 77}, headers=me)).status_code == 201
    assert (await client.get("/api/users/77", headers=me)).json()["userId"] == 77


@pytest.mark.parametrize(
    "user_id", ["team/ada", "a/b/c", "x/profile", "/lead", "achievements/definitions"]
)
async def test_user_id_with_a_slash_is_reached_percent_encoded(client, service, user_id):
    from urllib.parse import quote

    created = await client.post(
        "/api/users", json={"userId": user_id, "userName": "Slash"}, headers=service
    )
    assert created.status_code == 201
    path = f"/api/users/{quote(user_id, safe='')}"
    got = await client.get(path, headers=service)
    assert got.status_code == 200, got.text
    assert got.json()["userId"] == user_id
    profile = await client.get(f"{path}/profile", headers=service)
    assert profile.status_code == 200, profile.text
    assert profile.json()["userId"] == user_id
    deleted = await client.delete(path, headers=service)
    assert deleted.status_code == 200
    assert deleted.json()["userId"] == user_id
    assert (await client.get(path, headers=service)).status_code == 404


async def test_encoded_slash_names_one_user_not_a_sub_route(client, service):
    for user_id in ("x", "x/profile"):
        await client.post("/api/users", json={"userId": user_id}, headers=service)
    await client.post(
        "/api/events", json={"userId": "x", "type": "xp", "value": 50}, headers=service
    )
    assert (await client.get("/api/users/x%2Fprofile", headers=service)).json() == (
        await client.get("/api/users/x%2fprofile", headers=service)
    ).json()
    assert (await client.get("/api/users/x%2Fprofile", headers=service)).json()["userId"] == (
        "x/profile"
    )
    assert (await client.get("/api/users/x/profile", headers=service)).json()["xp"] == 50
    assert (await client.get("/api/users/x%2Fprofile/profile", headers=service)).json()["xp"] == 0


async def test_user_token_with_a_slash_reads_itself_only(client, auth, service):
    await client.post("/api/users", json={"userId": "org/7"}, headers=service)
    await client.post("/api/users", json={"userId": "org"}, headers=service)
    me = auth("org/7", "user")
    assert (await client.get("/api/users/org%2F7", headers=me)).json()["userId"] == "org/7"
    assert (await client.get("/api/users/org", headers=me)).status_code == 403


async def test_unencoded_slash_in_a_user_id_is_not_found(client, service):
    await client.post("/api/users", json={"userId": "team/ada"}, headers=service)
    response = await client.get("/api/users/team/ada", headers=service)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_user_id_with_a_slash_records_sales_and_joins_teams(client, service):
    sale = await client.post(
        "/api/sales-reps/shop%2Fada/sales", json={"amount": 120}, headers=service
    )
    assert sale.status_code == 201, sale.text
    assert (await client.get("/api/users/shop%2Fada", headers=service)).status_code == 200
    await client.post("/api/teams", json={"teamId": "north/east", "name": "NE"}, headers=service)
    member = await client.put("/api/teams/north%2Feast/members/shop%2Fada", headers=service)
    assert member.status_code in (200, 201), member.text
    team = (await client.get("/api/teams/north%2Feast", headers=service)).json()
    assert [m["userId"] for m in team["members"]] == ["shop/ada"]
    gone = await client.delete("/api/teams/north%2Feast/members/shop%2Fada", headers=service)
    assert gone.status_code == 200, gone.text
