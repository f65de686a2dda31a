"""A user's profile (XP, level, tier, streak, achievements, wallet, pending rewards) and the
activity feed (celebrations, newest first; everyone's is public, a user's is theirs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_auth import assert_error


class Host:
    """Sends events and reads profiles and feeds with a service token."""

    def __init__(self, client: httpx.AsyncClient, service: dict[str, str]) -> None:
        self.client = client
        self.service = service

    async def event(self, user_id: Any, type: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/events", json={"userId": user_id, "type": type, **fields}, headers=self.service
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def achievement(self, name: str, metric: str, threshold: float, **fields: Any) -> int:
        response = await self.client.post(
            "/api/achievements",
            json={
                "name": name,
                "requirements": [{"metric": metric, "operator": "gte", "threshold": threshold}],
                **fields,
            },
            headers=self.service,
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def profile(self, user_id: Any) -> dict[str, Any]:
        response = await self.client.get(f"/api/users/{user_id}/profile", headers=self.service)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def feed(
        self, headers: dict[str, str] | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/activity", params=params, headers=headers or self.service
        )
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body


@pytest.fixture
def host(client: httpx.AsyncClient, service: dict[str, str]) -> Host:
    return Host(client, service)


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


# --- profile -----------------------------------------------------------------------------------


async def test_profile_of_a_new_user_starts_at_level_1(host, client, service):
    await client.post("/api/users", json={"userId": 42, "userName": "Ada"}, headers=service)
    profile = await host.profile(42)
    assert profile["userId"] == 42 and profile["userName"] == "Ada"
    assert (profile["xp"], profile["level"], profile["tier"]) == (0, 1, "Bronze III")
    assert profile["levelProgress"]["currentLevelXp"] == 0
    assert profile["levelProgress"]["nextLevelXp"] == 160
    assert profile["streak"] == {"current": 0, "best": 0, "lastActiveDay": None}
    assert profile["achievements"] == [] and profile["wallet"] == {}
    assert profile["pendingRewards"] == 0


async def test_profile_shows_xp_level_and_progress_after_events(host):
    await host.event(42, "xp", value=300)
    await host.event(42, "xp", value=200)
    profile = await host.profile(42)
    assert (profile["xp"], profile["level"], profile["tier"]) == (500, 3, "Bronze III")
    progress = profile["levelProgress"]
    assert (progress["currentLevelXp"], progress["nextLevelXp"]) == (420, 778)
    assert (progress["xpIntoLevel"], progress["xpToNextLevel"]) == (80, 278)


async def test_profile_tier_follows_the_level(host):
    await host.event(42, "xp", value=5000)  # level 10
    assert (await host.profile(42))["tier"] == "Bronze I"


async def test_profile_counts_consecutive_login_days(host):
    await host.event(42, "login", occurredAt=days_ago(1))
    await host.event(42, "login")
    streak = (await host.profile(42))["streak"]
    assert (streak["current"], streak["best"]) == (2, 2)
    assert streak["lastActiveDay"] == datetime.now(UTC).date().isoformat()


async def test_profile_streak_is_zero_once_a_day_was_missed(host):
    await host.event(42, "login", occurredAt=days_ago(3))
    streak = (await host.profile(42))["streak"]
    assert (streak["current"], streak["best"]) == (0, 1)


async def test_profile_lists_only_unlocked_achievements_newest_first(host):
    first = await host.achievement("First Deal", "deal", 1)
    second = await host.achievement("Two Deals", "deal", 2)
    await host.achievement("Ten Deals", "deal", 10)
    await host.event(42, "deal")
    await host.event(42, "deal")
    achievements = (await host.profile(42))["achievements"]
    assert [a["achievementId"] for a in achievements] == [second, first]
    assert achievements[0]["name"] == "Two Deals"
    assert achievements[0]["unlockedAt"].endswith("Z")


async def test_secret_achievement_shows_only_once_unlocked(host):
    secret = await host.achievement("Hidden", "deal", 2, secret=True)
    await host.event(42, "deal")
    assert (await host.profile(42))["achievements"] == []
    await host.event(42, "deal")
    (shown,) = (await host.profile(42))["achievements"]
    assert shown["achievementId"] == secret and shown["secret"] is True


async def test_profile_counts_pending_rewards_and_shows_wallets(host, client, service):
    await host.achievement(
        "Paid",
        "deal",
        1,
        rewards=[
            {"type": "CURRENCY", "value": 30, "currency": "gems"},
            {"type": "XP", "value": 10},
            {"type": "XP", "value": 10, "expiresAt": days_ago(1)},
        ],
    )
    gems_id, _, _ = (await host.event(42, "deal"))["unlocked"][0]["rewardDistributionIds"]
    await client.post(f"/api/rewards/{gems_id}/claim", headers=service)
    profile = await host.profile(42)
    assert profile["pendingRewards"] == 1  # claimed and expired ones are not pending
    assert profile["wallet"] == {"gems": 30}


async def test_profile_ranks_are_empty_before_any_score(host, client, service):
    await client.post("/api/users", json={"userId": 42}, headers=service)
    assert (await host.profile(42))["ranks"] == {}


async def test_profile_shows_the_users_places_on_xp_and_monthly_revenue(host):
    await host.event(7, "xp", value=500)
    await host.event(42, "xp", value=200)
    await host.event(42, "sale", value=1200)
    ranks = (await host.profile(42))["ranks"]
    assert ranks["xp"] == {"period": "all", "rank": 2, "value": 200}
    assert ranks["revenue"] == {"period": "month", "rank": 1, "value": 1200}


async def test_profile_of_an_unknown_user_is_404(client, service):
    assert_error(await client.get("/api/users/nobody/profile", headers=service), 404, "not_found")


async def test_user_reads_its_own_profile(host, client, auth):
    await host.event(42, "xp", value=10)
    response = await client.get("/api/users/42/profile", headers=auth("42", "user"))
    assert response.status_code == 200, response.text
    assert response.json()["xp"] == 10


async def test_user_reading_another_users_profile_is_403(host, client, auth):
    await host.event(7, "xp", value=10)
    response = await client.get("/api/users/7/profile", headers=auth("42", "user"))
    assert_error(response, 403, "forbidden")


# --- activity feed -----------------------------------------------------------------------------


async def test_feed_is_newest_first_across_users(host):
    await host.event(42, "xp", value=200)  # Level 2 for 42
    await host.event(7, "xp", value=500)  # Level 3 for 7
    await host.event(42, "xp", value=300)  # Level 3 for 42
    feed = await host.feed()
    assert [(e["userId"], e["title"]) for e in feed] == [
        (42, "🎖 Level 3 Achieved!"),
        (7, "🎖 Level 3 Achieved!"),
        (42, "🎖 Level 2 Achieved!"),
    ]
    assert [e["id"] for e in feed] == sorted((e["id"] for e in feed), reverse=True)


async def test_feed_entry_is_the_achievement_event(host):
    await host.event(42, "xp", value=200, userName="Ada")
    (entry,) = await host.feed()
    assert entry["userName"] == "Ada"
    assert entry["achievementType"] == "milestone"
    assert entry["description"]
    assert entry["timestamp"].endswith("Z")


async def test_feed_of_one_user_has_only_theirs(host):
    await host.event(42, "xp", value=200)
    await host.event(7, "xp", value=200)
    assert [e["userId"] for e in await host.feed(userId=7)] == [7]


async def test_feed_limit_keeps_the_newest(host):
    await host.event(42, "xp", value=200)
    await host.event(42, "xp", value=300)
    (newest,) = await host.feed(limit=1)
    assert newest["title"] == "🎖 Level 3 Achieved!"


async def test_feed_includes_unlocked_badges(host):
    await host.achievement("Closer", "deal", 1)
    await host.event(42, "deal")
    assert [e["title"] for e in await host.feed(userId=42)] == ["🏅 Closer Badge Earned!"]


async def test_backfilled_unlocks_stay_out_of_everyones_feed(host):
    await host.event(42, "deal")
    await host.achievement("Closer", "deal", 1)  # 42 already qualifies: a quiet backfill
    assert [e["title"] for e in await host.feed(userId=42)] == ["🏅 Closer Badge Earned!"]
    assert await host.feed() == []


async def test_display_reads_the_public_feed(host, auth):
    await host.event(42, "xp", value=200)
    assert len(await host.feed(auth("tv-lobby", "display"))) == 1


async def test_display_may_not_read_one_users_feed(client, auth):
    response = await client.get(
        "/api/activity", params={"userId": 42}, headers=auth("tv-lobby", "display")
    )
    assert_error(response, 403, "forbidden")


async def test_user_reads_its_own_feed(host, auth):
    await host.event(42, "xp", value=200)
    assert len(await host.feed(auth("42", "user"), userId=42)) == 1


async def test_user_reading_another_users_feed_is_403(client, auth):
    response = await client.get("/api/activity", params={"userId": 7}, headers=auth("42", "user"))
    assert_error(response, 403, "forbidden")


async def test_feed_needs_a_token(client):
    assert_error(await client.get("/api/activity"), 401, "unauthorized")
