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
