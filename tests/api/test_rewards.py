"""Rewards: distributed PENDING by an unlock, claimed once (paying out), expired or revoked.

A user token claims only its own rewards: another user's is 404 to it, as if it did not exist.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from accolade.storage.models import RewardDistribution
from tests.api.test_auth import assert_error

XP_COINS_ITEM = [
    {"type": "XP", "value": 500},
    {"type": "CURRENCY", "value": 50, "currency": "coins"},
    {"type": "ITEM", "items": [{"id": "hat", "type": "cosmetic", "quantity": 1}]},
]


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


class Rewards:
    """Makes achievements with rewards and unlocks them through events, as a host would."""

    def __init__(self, client: httpx.AsyncClient, service: dict[str, str]) -> None:
        self.client = client
        self.service = service
        self.count = 0

    async def unlock(self, user_id: Any, rewards: list[dict[str, Any]]) -> list[int]:
        """A new achievement with `rewards`, unlocked for `user_id` by one event; the ids of the
        distributions it made, in the order of `rewards`."""
        self.count += 1
        metric = f"deal{self.count}"
        created = await self.client.post(
            "/api/achievements",
            json={
                "name": f"Closer {self.count}",
                "requirements": [{"metric": metric, "operator": "gte", "threshold": 1}],
                "rewards": rewards,
            },
            headers=self.service,
        )
        assert created.status_code == 201, created.text
        answer = await self.client.post(
            "/api/events", json={"userId": user_id, "type": metric}, headers=self.service
        )
        assert answer.status_code == 201, answer.text
        (unlocked,) = answer.json()["unlocked"]
        ids: list[int] = unlocked["rewardDistributionIds"]
        return ids

    async def claim(self, distribution_id: int, headers: dict[str, str] | None = None) -> Any:
        return await self.client.post(
            f"/api/rewards/{distribution_id}/claim", headers=headers or self.service
        )

    async def pending(self, user_id: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/rewards/pending", params={"userId": user_id}, headers=self.service
        )
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    async def history(self, user_id: Any, status: str | None = None) -> list[dict[str, Any]]:
        params = {"userId": user_id} | ({"status": status} if status else {})
        response = await self.client.get("/api/rewards", params=params, headers=self.service)
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    async def profile(self, user_id: Any) -> dict[str, Any]:
        response = await self.client.get(f"/api/users/{user_id}/profile", headers=self.service)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def rewards(client: httpx.AsyncClient, service: dict[str, str]) -> Rewards:
    return Rewards(client, service)


# --- distribution -------------------------------------------------------------------------------


async def test_unlock_distributes_each_reward_pending(rewards):
    xp_id, coins_id, item_id = await rewards.unlock(42, XP_COINS_ITEM)
    pending = await rewards.pending(42)
    assert {r["id"] for r in pending} == {xp_id, coins_id, item_id}
    by_id = {r["id"]: r for r in pending}
    assert by_id[xp_id]["type"] == "XP" and by_id[xp_id]["value"] == 500
    assert by_id[coins_id]["currency"] == "coins"
    assert by_id[item_id]["items"][0]["id"] == "hat"
    for reward in pending:
        assert reward["status"] == "PENDING"
        assert reward["userId"] == 42
        assert reward["source"] == "ACHIEVEMENT"
        assert reward["claimedAt"] is None and reward["expiresAt"] is None
        assert reward["createdAt"].endswith("Z")


async def test_pending_lists_the_soonest_expiring_first(rewards):
    never, later, sooner = await rewards.unlock(
        42,
        [
            {"type": "XP", "value": 1},
            {"type": "XP", "value": 2, "expiresAt": at(days=2)},
            {"type": "XP", "value": 3, "expiresAt": at(days=1)},
        ],
    )
    assert [r["id"] for r in await rewards.pending(42)] == [sooner, later, never]


async def test_pending_of_an_unknown_user_is_empty(rewards):
    assert await rewards.pending("nobody") == []


# --- claiming ----------------------------------------------------------------------------------


async def test_claiming_xp_raises_xp_and_level(rewards):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    response = await rewards.claim(xp_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "CLAIMED" and body["claimedAt"].endswith("Z")
    assert body["effects"]["xp"]["total"] == 500
    assert body["effects"]["xp"]["level"] == 3
    assert "🎖 Level 3 Achieved!" in body["effects"]["celebrations"]
    profile = await rewards.profile(42)
    assert (profile["xp"], profile["level"]) == (500, 3)


async def test_claimed_xp_unlocks_achievements_that_read_xp(rewards, client, service):
    created = await client.post(
        "/api/achievements",
        json={
            "name": "Five Hundred",
            "requirements": [{"metric": "xp", "operator": "gte", "threshold": 500}],
        },
        headers=service,
    )
    assert created.status_code == 201, created.text
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    effects = (await rewards.claim(xp_id)).json()["effects"]
    assert [u["achievementId"] for u in effects["unlocked"]] == [created.json()["id"]]


async def test_claiming_currency_raises_the_wallet(rewards):
    _, first, _ = await rewards.unlock(42, XP_COINS_ITEM)
    _, second, _ = await rewards.unlock(42, XP_COINS_ITEM)
    assert (await rewards.claim(first)).json()["effects"]["wallet"]["balance"] == 50
    assert (await rewards.claim(second)).json()["effects"]["wallet"]["balance"] == 100
    assert (await rewards.profile(42))["wallet"] == {"coins": 100}


async def test_claiming_points_raises_the_points_metric(rewards, client, service):
    created = await client.post(
        "/api/achievements",
        json={
            "name": "Pointy",
            "requirements": [{"metric": "points", "operator": "gte", "threshold": 25}],
        },
        headers=service,
    )
    (points_id,) = await rewards.unlock(42, [{"type": "POINTS", "value": 25}])
    effects = (await rewards.claim(points_id)).json()["effects"]
    assert effects["points"] == {"gained": 25, "total": 25}
    assert [u["achievementId"] for u in effects["unlocked"]] == [created.json()["id"]]


async def test_claiming_an_item_lists_the_items(rewards):
    _, _, item_id = await rewards.unlock(42, XP_COINS_ITEM)
    body = (await rewards.claim(item_id)).json()
    assert body["status"] == "CLAIMED"
    assert body["effects"]["items"] == [
        {"id": "hat", "type": "cosmetic", "quantity": 1, "metadata": {}}
    ]


async def test_claimed_reward_is_no_longer_pending(rewards):
    xp_id, coins_id, item_id = await rewards.unlock(42, XP_COINS_ITEM)
    await rewards.claim(coins_id)
    assert {r["id"] for r in await rewards.pending(42)} == {xp_id, item_id}


async def test_second_claim_is_409(rewards):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    assert (await rewards.claim(xp_id)).status_code == 200
    error = assert_error(await rewards.claim(xp_id), 409, "conflict")
    assert "claimed already" in error["message"]
    assert (await rewards.profile(42))["xp"] == 500


async def test_concurrent_double_claim_pays_once(rewards):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    answers = await asyncio.gather(rewards.claim(xp_id), rewards.claim(xp_id))
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert (await rewards.profile(42))["xp"] == 500


async def test_claiming_an_unknown_reward_is_404(rewards):
    assert_error(await rewards.claim(999_999), 404, "not_found")


# --- expiry ------------------------------------------------------------------------------------


async def test_reward_past_its_expiry_is_expired_not_pending(rewards):
    (expired,) = await rewards.unlock(42, [{"type": "XP", "value": 10, "expiresAt": at(hours=-1)}])
    assert await rewards.pending(42) == []
    assert [(r["id"], r["status"]) for r in await rewards.history(42)] == [(expired, "EXPIRED")]


async def test_claiming_an_expired_reward_is_409_saying_so(rewards):
    (expired,) = await rewards.unlock(42, [{"type": "XP", "value": 10, "expiresAt": at(hours=-1)}])
    error = assert_error(await rewards.claim(expired), 409, "conflict")
    assert "expired" in error["message"]
    assert error["details"]["status"] == "EXPIRED"
    assert (await rewards.profile(42))["xp"] == 0


async def test_pending_reward_expires_when_its_time_comes(rewards, app):
    (soon,) = await rewards.unlock(42, [{"type": "XP", "value": 10, "expiresAt": at(hours=1)}])
    assert [r["id"] for r in await rewards.pending(42)] == [soon]
    async with app.state.services.database.transaction() as session:  # an hour passes
        await session.execute(
            update(RewardDistribution)
            .where(RewardDistribution.id == soon)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await rewards.pending(42) == []
    assert_error(await rewards.claim(soon), 409, "conflict")
    assert [r["status"] for r in await rewards.history(42)] == ["EXPIRED"]


# --- revoking ----------------------------------------------------------------------------------


async def test_admin_revokes_a_pending_reward(rewards, client, admin):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    response = await client.post(f"/api/rewards/{xp_id}/revoke", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "REVOKED"
    assert response.json()["revokedAt"].endswith("Z")
    assert xp_id not in {r["id"] for r in await rewards.pending(42)}


async def test_claiming_a_revoked_reward_is_409_saying_so(rewards, client, admin):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    await client.post(f"/api/rewards/{xp_id}/revoke", headers=admin)
    error = assert_error(await rewards.claim(xp_id), 409, "conflict")
    assert "revoked" in error["message"]
    assert (await rewards.profile(42))["xp"] == 0


async def test_revoking_a_claimed_reward_is_409(rewards, client, admin):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    await rewards.claim(xp_id)
    error = assert_error(
        await client.post(f"/api/rewards/{xp_id}/revoke", headers=admin), 409, "conflict"
    )
    assert "claimed" in error["message"]


async def test_service_may_not_revoke(rewards, client, service):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    assert_error(
        await client.post(f"/api/rewards/{xp_id}/revoke", headers=service), 403, "forbidden"
    )
    assert xp_id in {r["id"] for r in await rewards.pending(42)}


# --- history -----------------------------------------------------------------------------------


async def test_history_is_newest_first_in_every_status(rewards):
    xp_id, coins_id, item_id = await rewards.unlock(42, XP_COINS_ITEM)
    await rewards.claim(coins_id)
    history = await rewards.history(42)
    assert [(r["id"], r["status"]) for r in history] == [
        (item_id, "PENDING"),
        (coins_id, "CLAIMED"),
        (xp_id, "PENDING"),
    ]


async def test_history_filters_by_status(rewards):
    _, coins_id, _ = await rewards.unlock(42, XP_COINS_ITEM)
    await rewards.claim(coins_id)
    assert [r["id"] for r in await rewards.history(42, "CLAIMED")] == [coins_id]


async def test_history_refuses_an_unknown_status(client, service):
    response = await client.get(
        "/api/rewards", params={"userId": 42, "status": "LOST"}, headers=service
    )
    assert_error(response, 422, "validation_error")


# --- user tokens: their own rewards only ----------------------------------------------------------


async def test_user_claims_its_own_reward(rewards, auth):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    response = await rewards.claim(xp_id, auth("42", "user"))
    assert response.status_code == 200, response.text
    assert response.json()["userId"] == 42


async def test_user_claiming_another_users_reward_is_404(rewards, auth):
    xp_id, _, _ = await rewards.unlock(7, XP_COINS_ITEM)
    assert_error(await rewards.claim(xp_id, auth("42", "user")), 404, "not_found")
    assert xp_id in {r["id"] for r in await rewards.pending(7)}


async def test_user_lists_its_own_pending_rewards_without_naming_itself(rewards, client, auth):
    ids = await rewards.unlock(42, XP_COINS_ITEM)
    response = await client.get("/api/rewards/pending", headers=auth("42", "user"))
    assert response.status_code == 200, response.text
    assert sorted(r["id"] for r in response.json()) == sorted(ids)


@pytest.mark.parametrize("url", ["/api/rewards/pending", "/api/rewards"])
async def test_user_listing_another_users_rewards_is_403(client, auth, url):
    response = await client.get(url, params={"userId": 7}, headers=auth("42", "user"))
    assert_error(response, 403, "forbidden")


async def test_user_may_not_revoke_its_own_reward(rewards, client, auth):
    xp_id, _, _ = await rewards.unlock(42, XP_COINS_ITEM)
    response = await client.post(f"/api/rewards/{xp_id}/revoke", headers=auth("42", "user"))
    assert_error(response, 403, "forbidden")
