"""Seed 004: achievement definitions CRUD at /api/users/achievements/definitions."""

from __future__ import annotations

from datetime import datetime

DEFS = "/api/users/achievements/definitions"


async def test_create_returns_201_with_the_achievement(client, service):
    response = await client.post(
        DEFS,
        json={"name": "Worker I", "description": "Complete 100 work activities"},
        headers=service,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Worker I"
    assert body["description"] == "Complete 100 work activities"
    assert isinstance(body["id"], int)
    assert set(body) == {"id", "name", "description", "createdAt", "updatedAt"}
    created = datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00"))
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0


async def test_description_is_optional(client, service):
    response = await client.post(DEFS, json={"name": "Investor Pro"}, headers=service)
    assert response.status_code == 201
    assert response.json()["description"] is None


async def test_list_is_ordered_by_name(client, service):
    for name in ["Worker II", "Investor Pro", "Worker I", "Apprentice"]:
        await client.post(DEFS, json={"name": name}, headers=service)
    response = await client.get(DEFS, headers=service)
    assert response.status_code == 200
    assert [a["name"] for a in response.json()] == [
        "Apprentice",
        "Investor Pro",
        "Worker I",
        "Worker II",
    ]


async def test_list_is_empty_array_when_none_exist(client, service):
    response = await client.get(DEFS, headers=service)
    assert response.json() == []


async def test_get_returns_one(client, service):
    created = (await client.post(DEFS, json={"name": "Worker I"}, headers=service)).json()
    response = await client.get(f"{DEFS}/{created['id']}", headers=service)
    assert response.status_code == 200
    assert response.json() == created


async def test_get_unknown_is_404(client, service):
    response = await client.get(f"{DEFS}/4242", headers=service)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_update_changes_only_given_fields(client, service):
    created = (
        await client.post(DEFS, json={"name": "Worker I", "description": "old"}, headers=service)
    ).json()
    response = await client.put(
        f"{DEFS}/{created['id']}", json={"description": "new"}, headers=service
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Worker I"
    assert body["description"] == "new"
    assert body["updatedAt"] >= created["updatedAt"]
    renamed = await client.put(
        f"{DEFS}/{created['id']}", json={"name": "Worker 1"}, headers=service
    )
    assert renamed.json()["name"] == "Worker 1"
    assert renamed.json()["description"] == "new"


async def test_update_can_clear_the_description(client, service):
    created = (
        await client.post(DEFS, json={"name": "Worker I", "description": "old"}, headers=service)
    ).json()
    response = await client.put(
        f"{DEFS}/{created['id']}", json={"description": None}, headers=service
    )
    assert response.json()["description"] is None


async def test_update_unknown_is_404(client, service):
    response = await client.put(f"{DEFS}/4242", json={"name": "x"}, headers=service)
    assert response.status_code == 404


async def test_delete_returns_the_deleted_object_and_removes_it(client, service):
    created = (await client.post(DEFS, json={"name": "Worker I"}, headers=service)).json()
    response = await client.delete(f"{DEFS}/{created['id']}", headers=service)
    assert response.status_code == 200
    assert response.json() == created
    assert (await client.get(f"{DEFS}/{created['id']}", headers=service)).status_code == 404
    assert (await client.delete(f"{DEFS}/{created['id']}", headers=service)).status_code == 404


async def test_ids_are_never_reused_after_delete(client, service):
    first = (await client.post(DEFS, json={"name": "A"}, headers=service)).json()
    await client.delete(f"{DEFS}/{first['id']}", headers=service)
    second = (await client.post(DEFS, json={"name": "B"}, headers=service)).json()
    assert second["id"] != first["id"]
