"""Seed 004: user progress at /api/users/achievements/progress (its whole Testing Strategy)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from accolade.storage.models import User, UserAchievement, utcnow

DEFS = "/api/users/achievements/definitions"
PROGRESS = "/api/users/achievements/progress"


@pytest.fixture
async def achievement(client, service):
    return (await client.post(DEFS, json={"name": "Worker I"}, headers=service)).json()


async def _define(client, headers, name):
    return (await client.post(DEFS, json={"name": name}, headers=headers)).json()


async def test_upsert_inserts_a_row(client, service, achievement):
    response = await client.post(
        PROGRESS,
        json={
            "userId": 123,
            "achievementId": achievement["id"],
            "metadata": {"current": 47, "target": 100},
        },
        headers=service,
    )
    assert response.status_code == 200
    row = response.json()
    assert row["userId"] == 123
    assert row["achievementId"] == achievement["id"]
    assert row["unlockedAt"] is None
    assert row["metadata"] == {"current": 47, "target": 100}
    assert set(row) == {
        "id",
        "userId",
        "achievementId",
        "unlockedAt",
        "metadata",
        "createdAt",
        "updatedAt",
    }


async def test_upsert_without_metadata_starts_with_empty_object(client, service, achievement):
    response = await client.post(
        PROGRESS, json={"userId": 1, "achievementId": achievement["id"]}, headers=service
    )
    assert response.json()["metadata"] == {}


async def test_upsert_updates_the_same_row_and_replaces_metadata(client, service, achievement):
    first = (
        await client.post(
            PROGRESS,
            json={
                "userId": 123,
                "achievementId": achievement["id"],
                "metadata": {"current": 47, "extra": 1},
            },
            headers=service,
        )
    ).json()
    second = (
        await client.post(
            PROGRESS,
            json={"userId": 123, "achievementId": achievement["id"], "metadata": {"current": 48}},
            headers=service,
        )
    ).json()
    assert second["id"] == first["id"]
    assert second["metadata"] == {"current": 48}  # replaced, not merged
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]


async def test_upsert_without_metadata_keeps_the_stored_metadata(client, service, achievement):
    body = {"userId": 5, "achievementId": achievement["id"]}
    await client.post(PROGRESS, json={**body, "metadata": {"streak": 5}}, headers=service)
    response = await client.post(PROGRESS, json=body, headers=service)
    assert response.json()["metadata"] == {"streak": 5}


async def test_upsert_for_unknown_achievement_is_404(client, service):
    response = await client.post(
        PROGRESS, json={"userId": 1, "achievementId": 999}, headers=service
    )
    assert response.status_code == 404


async def test_upsert_creates_the_user_on_first_sight(client, service, achievement):
    await client.post(
        PROGRESS, json={"userId": "u-7", "achievementId": achievement["id"]}, headers=service
    )
    user = await client.get("/api/users/u-7", headers=service)
    assert user.status_code == 200
    assert user.json()["userId"] == "u-7"


@pytest.mark.parametrize(
    "metadata",
    [
        {"current": 47, "target": 100},
        {"currentStreak": 5, "bestStreak": 12, "lastActivityDate": "2025-11-23"},
        {"totalProfit": 15000, "transactionCount": 47, "bestTrade": 2500.5},
        {
            "requirements": {"workCount": 50, "messageCount": 100, "voiceMinutes": 60},
            "completed": {"workCount": True, "messageCount": True, "voiceMinutes": False},
        },
        [1, "two", {"three": [3.0, None]}],
        "just a string",
        42,
        None,
        {"unicode": "Grüße 🎉 日本", "nested": {"a": {"b": {"c": [[], {}]}}}, "big": 2**62},
    ],
    ids=["counter", "streak", "investment", "multi", "array", "string", "number", "null", "deep"],
)
async def test_metadata_of_any_json_shape_round_trips(client, service, achievement, metadata):
    body = {"userId": 9, "achievementId": achievement["id"], "metadata": metadata}
    saved = await client.post(PROGRESS, json=body, headers=service)
    assert saved.status_code == 200
    assert saved.json()["metadata"] == metadata
    fetched = await client.get(
        PROGRESS, params={"userId": 9, "achievementId": achievement["id"]}, headers=service
    )
    assert fetched.json()["metadata"] == metadata


async def test_get_returns_the_row(client, service, achievement):
    saved = (
        await client.post(
            PROGRESS, json={"userId": 3, "achievementId": achievement["id"]}, headers=service
        )
    ).json()
    response = await client.get(
        PROGRESS, params={"userId": "3", "achievementId": achievement["id"]}, headers=service
    )
    assert response.status_code == 200
    assert response.json() == saved
    assert response.json()["userId"] == 3  # the JSON type it was first given


async def test_get_without_a_row_is_null(client, service, achievement):
    response = await client.get(
        PROGRESS, params={"userId": 3, "achievementId": achievement["id"]}, headers=service
    )
    assert response.status_code == 200
    assert response.json() is None


async def test_unlock_sets_unlocked_at(client, service, achievement):
    await client.post(
        PROGRESS,
        json={"userId": 1, "achievementId": achievement["id"], "metadata": {"c": 1}},
        headers=service,
    )
    response = await client.put(
        f"{PROGRESS}/unlock",
        json={"userId": 1, "achievementId": achievement["id"]},
        headers=service,
    )
    assert response.status_code == 200
    row = response.json()
    assert row["unlockedAt"] is not None
    assert row["metadata"] == {"c": 1}


async def test_unlock_without_progress_creates_an_unlocked_row(client, service, achievement):
    response = await client.put(
        f"{PROGRESS}/unlock",
        json={"userId": 2, "achievementId": achievement["id"]},
        headers=service,
    )
    assert response.json()["unlockedAt"] is not None
    assert response.json()["metadata"] == {}


async def test_unlock_twice_keeps_the_first_unlock_time(client, service, achievement):
    body = {"userId": 2, "achievementId": achievement["id"]}
    first = (await client.put(f"{PROGRESS}/unlock", json=body, headers=service)).json()
    await asyncio.sleep(0.01)
    second = (await client.put(f"{PROGRESS}/unlock", json=body, headers=service)).json()
    assert second["id"] == first["id"]
    assert second["unlockedAt"] == first["unlockedAt"]


async def test_progress_after_unlock_keeps_it_unlocked(client, service, achievement):
    body = {"userId": 2, "achievementId": achievement["id"]}
    unlocked = (await client.put(f"{PROGRESS}/unlock", json=body, headers=service)).json()
    updated = (
        await client.post(PROGRESS, json={**body, "metadata": {"x": 1}}, headers=service)
    ).json()
    assert updated["unlockedAt"] == unlocked["unlockedAt"]


async def test_unlock_unknown_achievement_is_404(client, service):
    response = await client.put(
        f"{PROGRESS}/unlock", json={"userId": 2, "achievementId": 777}, headers=service
    )
    assert response.status_code == 404


async def test_one_row_per_user_and_achievement(client, service, achievement):
    body = {"userId": 11, "achievementId": achievement["id"]}
    ids = {(await client.post(PROGRESS, json=body, headers=service)).json()["id"] for _ in range(3)}
    listed = (await client.get(f"{PROGRESS}/list", params={"userId": 11}, headers=service)).json()
    assert len(ids) == 1
    assert len(listed) == 1


async def test_concurrent_upserts_make_one_row(client, service, achievement):
    body = {"userId": "racer", "achievementId": achievement["id"]}
    responses = await asyncio.gather(
        *(
            client.post(PROGRESS, json={**body, "metadata": {"n": n}}, headers=service)
            for n in range(10)
        )
    )
    assert all(r.status_code == 200 for r in responses)
    assert len({r.json()["id"] for r in responses}) == 1
    listed = (
        await client.get(f"{PROGRESS}/list", params={"userId": "racer"}, headers=service)
    ).json()
    assert len(listed) == 1


async def test_the_database_refuses_a_duplicate_row(app, client, service, achievement):
    """The unique constraint itself, below the upsert: a second plain INSERT is refused."""
    await client.post(
        PROGRESS, json={"userId": 1, "achievementId": achievement["id"]}, headers=service
    )
    with pytest.raises(IntegrityError):
        async with app.state.services.database.transaction() as session:
            user_id = await session.scalar(select(User.id).where(User.user_key == "1"))
            now = utcnow()
            await session.execute(
                insert(UserAchievement).values(
                    user_id=user_id,
                    achievement_id=achievement["id"],
                    created_at=now,
                    updated_at=now,
                )
            )


async def test_list_filters_unlocked_only(client, service):
    locked = await _define(client, service, "Locked")
    opened = await _define(client, service, "Opened")
    await client.post(PROGRESS, json={"userId": 1, "achievementId": locked["id"]}, headers=service)
    await client.put(
        f"{PROGRESS}/unlock", json={"userId": 1, "achievementId": opened["id"]}, headers=service
    )

    everything = (
        await client.get(f"{PROGRESS}/list", params={"userId": 1}, headers=service)
    ).json()
    unlocked = (
        await client.get(
            f"{PROGRESS}/list", params={"userId": 1, "unlockedOnly": "true"}, headers=service
        )
    ).json()
    explicit_false = (
        await client.get(
            f"{PROGRESS}/list", params={"userId": 1, "unlockedOnly": "false"}, headers=service
        )
    ).json()
    assert {r["achievementId"] for r in everything} == {locked["id"], opened["id"]}
    assert [r["achievementId"] for r in unlocked] == [opened["id"]]
    assert len(explicit_false) == 2


async def test_list_orders_by_unlock_time_newest_first(client, service):
    achievements = [await _define(client, service, f"A{n}") for n in range(3)]
    for a in achievements:
        await client.put(
            f"{PROGRESS}/unlock", json={"userId": 1, "achievementId": a["id"]}, headers=service
        )
        await asyncio.sleep(0.01)
    in_progress = await _define(client, service, "In progress")
    await client.post(
        PROGRESS, json={"userId": 1, "achievementId": in_progress["id"]}, headers=service
    )

    rows = (await client.get(f"{PROGRESS}/list", params={"userId": 1}, headers=service)).json()
    assert [r["achievementId"] for r in rows] == [
        achievements[2]["id"],
        achievements[1]["id"],
        achievements[0]["id"],
        in_progress["id"],  # not unlocked: after every unlocked row
    ]
    unlocked_times = [r["unlockedAt"] for r in rows[:3]]
    assert unlocked_times == sorted(unlocked_times, reverse=True)


async def test_list_for_unknown_user_is_empty(client, service):
    response = await client.get(f"{PROGRESS}/list", params={"userId": "nobody"}, headers=service)
    assert response.status_code == 200
    assert response.json() == []


async def test_list_only_shows_that_users_rows(client, service, achievement):
    await client.post(
        PROGRESS, json={"userId": 1, "achievementId": achievement["id"]}, headers=service
    )
    await client.post(
        PROGRESS, json={"userId": 2, "achievementId": achievement["id"]}, headers=service
    )
    rows = (await client.get(f"{PROGRESS}/list", params={"userId": 2}, headers=service)).json()
    assert [r["userId"] for r in rows] == [2]


async def test_delete_returns_the_deleted_row(client, service, achievement):
    saved = (
        await client.post(
            PROGRESS, json={"userId": 1, "achievementId": achievement["id"]}, headers=service
        )
    ).json()
    params = {"userId": 1, "achievementId": achievement["id"]}
    response = await client.delete(PROGRESS, params=params, headers=service)
    assert response.status_code == 200
    assert response.json() == saved
    assert (await client.get(PROGRESS, params=params, headers=service)).json() is None
    assert (await client.delete(PROGRESS, params=params, headers=service)).status_code == 404


async def test_deleting_an_achievement_deletes_its_progress(client, service, achievement):
    other = await _define(client, service, "Other")
    for a in (achievement, other):
        await client.post(PROGRESS, json={"userId": 1, "achievementId": a["id"]}, headers=service)
    await client.delete(f"{DEFS}/{achievement['id']}", headers=service)
    rows = (await client.get(f"{PROGRESS}/list", params={"userId": 1}, headers=service)).json()
    assert [r["achievementId"] for r in rows] == [other["id"]]


async def test_deleting_a_user_deletes_their_progress(client, service, achievement):
    await client.put(
        f"{PROGRESS}/unlock",
        json={"userId": 1, "achievementId": achievement["id"]},
        headers=service,
    )
    await client.put(
        f"{PROGRESS}/unlock",
        json={"userId": 2, "achievementId": achievement["id"]},
        headers=service,
    )
    assert (await client.delete("/api/users/1", headers=service)).status_code == 200
    assert (
        await client.get(f"{PROGRESS}/list", params={"userId": 1}, headers=service)
    ).json() == []
    assert (
        len((await client.get(f"{PROGRESS}/list", params={"userId": 2}, headers=service)).json())
        == 1
    )
    # Seen again later, the user starts over with nothing.
    await client.post(
        PROGRESS, json={"userId": 1, "achievementId": achievement["id"]}, headers=service
    )
    rows = (await client.get(f"{PROGRESS}/list", params={"userId": 1}, headers=service)).json()
    assert rows[0]["unlockedAt"] is None
