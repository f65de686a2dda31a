"""Notifications over REST: every celebration becomes one; listed newest first, marked read.

A user token reaches only its own: listing another's is 403, marking another's read is 404.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_auth import assert_error

NOTIFICATIONS = "/api/notifications"


async def celebrate(
    client: httpx.AsyncClient, service: dict[str, str], user_id: Any, xp: int
) -> None:
    """XP for `user_id`; each 1,000 crossed (and each level reached) is a celebration."""
    response = await client.post(
        "/api/events", json={"userId": user_id, "type": "xp", "value": xp}, headers=service
    )
    assert response.status_code == 201, response.text


async def listed(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(NOTIFICATIONS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


@pytest.fixture
async def three(client, service) -> list[dict[str, Any]]:
    """User 42 with three notifications: Level 2, then Level 4 and the 1,000 XP milestone."""
    await celebrate(client, service, 42, 200)  # level 2
    await celebrate(client, service, 42, 800)  # 1,000 XP: level 4 and the milestone
    rows = await listed(client, service, userId=42)
    assert len(rows) == 3
    return rows


async def test_a_celebration_becomes_a_notification(client, service):
    await celebrate(client, service, 42, 200)
    (row,) = await listed(client, service, userId=42)
    assert row["title"] == "🎖 Level 2 Achieved!"
    assert row["type"] == "celebration.milestone"
    assert row["userId"] == 42
    assert row["readAt"] is None and row["createdAt"].endswith("Z")


async def test_notifications_are_newest_first(three):
    ids = [row["id"] for row in three]
    assert ids == sorted(ids, reverse=True)
    assert three[-1]["title"] == "🎖 Level 2 Achieved!"


async def test_limit_keeps_the_newest(client, service, three):
    rows = await listed(client, service, userId=42, limit=2)
    assert [row["id"] for row in rows] == [row["id"] for row in three[:2]]


async def test_unknown_user_has_no_notifications(client, service):
    assert await listed(client, service, userId="nobody") == []


async def test_mark_read_sets_read_at(client, service, three):
    response = await client.post(f"{NOTIFICATIONS}/{three[0]['id']}/read", headers=service)
    assert response.status_code == 200, response.text
    assert response.json()["readAt"].endswith("Z")


async def test_marking_read_again_keeps_the_first_time(client, service, three):
    url = f"{NOTIFICATIONS}/{three[0]['id']}/read"
    first = (await client.post(url, headers=service)).json()["readAt"]
    assert (await client.post(url, headers=service)).json()["readAt"] == first


async def test_unread_only_leaves_out_read_ones(client, service, three):
    await client.post(f"{NOTIFICATIONS}/{three[0]['id']}/read", headers=service)
    rows = await listed(client, service, userId=42, unreadOnly="true")
    assert [row["id"] for row in rows] == [row["id"] for row in three[1:]]


async def test_read_all_marks_every_unread_one(client, service, three):
    await client.post(f"{NOTIFICATIONS}/{three[0]['id']}/read", headers=service)
    response = await client.post(f"{NOTIFICATIONS}/read-all", json={"userId": 42}, headers=service)
    assert response.status_code == 200, response.text
    assert response.json() == {"userId": 42, "marked": 2}
    assert await listed(client, service, userId=42, unreadOnly="true") == []


async def test_read_all_leaves_other_users_unread(client, service, three):
    await celebrate(client, service, 7, 200)
    await client.post(f"{NOTIFICATIONS}/read-all", json={"userId": 42}, headers=service)
    assert len(await listed(client, service, userId=7, unreadOnly="true")) == 1


async def test_marking_an_unknown_notification_is_404(client, service):
    assert_error(
        await client.post(f"{NOTIFICATIONS}/999999/read", headers=service), 404, "not_found"
    )


async def test_service_must_name_the_user(client, service):
    assert_error(await client.get(NOTIFICATIONS, headers=service), 422, "validation_error")


# --- user tokens: their own notifications only ----------------------------------------------------


async def test_user_lists_its_own_without_naming_itself(client, auth, three):
    rows = await listed(client, auth("42", "user"))
    assert [row["id"] for row in rows] == [row["id"] for row in three]


async def test_user_marks_its_own_read(client, auth, three):
    response = await client.post(
        f"{NOTIFICATIONS}/{three[0]['id']}/read", headers=auth("42", "user")
    )
    assert response.status_code == 200, response.text


async def test_user_marks_all_its_own_read(client, auth, three):
    response = await client.post(f"{NOTIFICATIONS}/read-all", headers=auth("42", "user"))
    assert response.status_code == 200, response.text
    assert response.json() == {"userId": 42, "marked": 3}


async def test_user_listing_another_users_is_403(client, auth, three):
    response = await client.get(NOTIFICATIONS, params={"userId": 42}, headers=auth("7", "user"))
    assert_error(response, 403, "forbidden")


async def test_user_marking_another_users_read_is_404(client, auth, service, three):
    url = f"{NOTIFICATIONS}/{three[0]['id']}/read"
    assert_error(await client.post(url, headers=auth("7", "user")), 404, "not_found")
    assert (await listed(client, service, userId=42))[0]["readAt"] is None


async def test_user_marking_all_of_another_users_read_is_403(client, auth, service, three):
    response = await client.post(
        f"{NOTIFICATIONS}/read-all", json={"userId": 42}, headers=auth("7", "user")
    )
    assert_error(response, 403, "forbidden")
    assert len(await listed(client, service, userId=42, unreadOnly="true")) == 3
