"""/api/achievements: the same achievements with seed 002's rich fields, validated."""

from __future__ import annotations

import pytest

API = "/api/achievements"

DEAL_MAKER = {
    "key": "deal-maker",
    "name": "Deal Maker",
    "description": "Close 3 deals within a day",
    "type": "CHALLENGE",
    "category": "sales",
    "points": 50,
    "icon": "🤝",
    "rarity": "rare",
    "requirements": [
        {
            "metric": "sale",
            "operator": "gte",
            "threshold": 3,
            "timeframe": {"duration": 1, "unit": "days"},
        }
    ],
    "rewards": [
        {"type": "XP", "value": 500},
        {"type": "CURRENCY", "value": 10, "currency": "coins", "expiresAt": "2030-01-01T00:00:00Z"},
        {"type": "ITEM", "value": 1, "items": [{"id": "hat", "type": "cosmetic", "quantity": 1}]},
    ],
    "metadata": {"season": 1},
}


async def test_create_keeps_every_rich_field(client, admin):
    response = await client.post(API, json=DEAL_MAKER, headers=admin)
    assert response.status_code == 201
    body = response.json()
    for field in (
        "key",
        "name",
        "description",
        "type",
        "category",
        "points",
        "icon",
        "rarity",
        "metadata",
    ):
        assert body[field] == DEAL_MAKER[field]
    assert body["title"] == "Deal Maker"
    assert body["secret"] is False
    assert body["isEnabled"] is True
    assert body["requirements"][0] == {
        "type": None,
        "metric": "sale",
        "operator": "gte",
        "threshold": 3.0,
        "timeframe": {"duration": 1, "unit": "days"},
    }
    assert [r["type"] for r in body["rewards"]] == ["XP", "CURRENCY", "ITEM"]
    assert body["rewards"][1]["currency"] == "coins"
    assert body["rewards"][1]["expiresAt"] == "2030-01-01T00:00:00Z"
    assert body["rewards"][2]["items"][0]["id"] == "hat"


async def test_defaults_for_a_bare_achievement(client, admin):
    body = (await client.post(API, json={"name": "First Login"}, headers=admin)).json()
    assert body["type"] == "MILESTONE"
    assert body["points"] == 0
    assert body["rarity"] == "common"
    assert body["requirements"] == []
    assert body["rewards"] == []
    assert body["metadata"] == {}
    assert body["key"] is None


async def test_title_is_accepted_for_name(client, admin):
    body = (await client.post(API, json={"title": "Explorer"}, headers=admin)).json()
    assert body["name"] == "Explorer"


async def test_secret_type_is_secret_by_default(client, admin):
    body = (await client.post(API, json={"name": "Hidden", "type": "SECRET"}, headers=admin)).json()
    assert body["secret"] is True


async def test_seed_004_and_002_endpoints_share_achievements(client, admin):
    rich = (await client.post(API, json=DEAL_MAKER, headers=admin)).json()
    plain = await client.get(f"/api/users/achievements/definitions/{rich['id']}", headers=admin)
    assert plain.json()["name"] == "Deal Maker"
    made_plain = (
        await client.post(
            "/api/users/achievements/definitions", json={"name": "Plain"}, headers=admin
        )
    ).json()
    assert (await client.get(f"{API}/{made_plain['id']}", headers=admin)).json()[
        "type"
    ] == "MILESTONE"


async def test_list_is_ordered_by_name_and_filters(client, admin):
    await client.post(API, json={"name": "B", "type": "SKILL", "category": "quiz"}, headers=admin)
    await client.post(API, json={"name": "A", "type": "SOCIAL", "isEnabled": False}, headers=admin)
    await client.post(API, json={"name": "C", "type": "SKILL"}, headers=admin)
    names = lambda r: [a["name"] for a in r.json()]  # noqa: E731
    assert names(await client.get(API, headers=admin)) == ["A", "B", "C"]
    assert names(await client.get(API, params={"type": "SKILL"}, headers=admin)) == ["B", "C"]
    assert names(await client.get(API, params={"category": "quiz"}, headers=admin)) == ["B"]
    assert names(await client.get(API, params={"enabled": "false"}, headers=admin)) == ["A"]


async def test_patch_changes_only_what_is_sent(client, admin):
    created = (await client.post(API, json=DEAL_MAKER, headers=admin)).json()
    response = await client.patch(
        f"{API}/{created['id']}", json={"points": 75, "isEnabled": False}, headers=admin
    )
    assert response.status_code == 200
    body = response.json()
    assert body["points"] == 75
    assert body["isEnabled"] is False
    assert body["requirements"] == created["requirements"]
    assert body["rewards"] == created["rewards"]
    assert body["name"] == "Deal Maker"


async def test_patch_replaces_requirements(client, admin):
    created = (await client.post(API, json=DEAL_MAKER, headers=admin)).json()
    new_rules = [{"metric": "xp", "operator": "gt", "threshold": 1000}]
    body = (
        await client.patch(
            f"{API}/{created['id']}", json={"requirements": new_rules}, headers=admin
        )
    ).json()
    assert [r["metric"] for r in body["requirements"]] == ["xp"]


async def test_patch_null_clears_optional_fields_only(client, admin):
    created = (await client.post(API, json=DEAL_MAKER, headers=admin)).json()
    body = (
        await client.patch(
            f"{API}/{created['id']}", json={"icon": None, "points": None}, headers=admin
        )
    ).json()
    assert body["icon"] is None
    assert body["points"] == 50


async def test_patch_bad_rule_is_422_and_changes_nothing(client, admin):
    created = (await client.post(API, json=DEAL_MAKER, headers=admin)).json()
    response = await client.patch(
        f"{API}/{created['id']}",
        json={
            "requirements": [
                {
                    "metric": "xp",
                    "operator": "gte",
                    "threshold": 1,
                    "timeframe": {"duration": 2, "unit": "weeks"},
                }
            ]
        },
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "requirements.0.timeframe.unit"
    unchanged = (await client.get(f"{API}/{created['id']}", headers=admin)).json()
    assert unchanged["requirements"] == created["requirements"]


async def test_duplicate_key_is_409(client, admin):
    await client.post(API, json=DEAL_MAKER, headers=admin)
    response = await client.post(API, json={**DEAL_MAKER, "name": "Another"}, headers=admin)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


async def test_patch_to_a_taken_key_is_409(client, admin):
    await client.post(API, json=DEAL_MAKER, headers=admin)
    other = (await client.post(API, json={"name": "Other", "key": "other"}, headers=admin)).json()
    response = await client.patch(f"{API}/{other['id']}", json={"key": "deal-maker"}, headers=admin)
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"metric": "xp", "operator": "between", "threshold": 1}, "requirements.0.operator"),
        ({"metric": "xp", "operator": "gte"}, "requirements.0.threshold"),
        ({"operator": "gte", "threshold": 1}, "requirements.0.metric"),
        (
            {
                "metric": "xp",
                "operator": "gte",
                "threshold": 1,
                "timeframe": {"duration": 0, "unit": "days"},
            },
            "requirements.0.timeframe.duration",
        ),
        (
            {"metric": "xp", "operator": "gte", "threshold": 1, "treshold": 2},
            "requirements.0.treshold",
        ),
        ({"metric": "", "operator": "gte", "threshold": 1}, "requirements.0.metric"),
    ],
    ids=[
        "operator",
        "missing-threshold",
        "missing-metric",
        "zero-duration",
        "misspelt-field",
        "empty-metric",
    ],
)
async def test_bad_requirement_is_422_naming_the_field(client, admin, rule, field):
    response = await client.post(API, json={"name": "Bad", "requirements": [rule]}, headers=admin)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("reward", "field"),
    [
        ({"type": "GOLD", "value": 1}, "rewards.0.type"),
        ({"type": "XP", "value": -5}, "rewards.0.value"),
        ({"type": "CURRENCY", "value": 5}, "rewards.0"),
        ({"type": "XP", "value": 5, "expiresAt": "2030-01-01T00:00:00"}, "rewards.0.expiresAt"),
    ],
    ids=["unknown-type", "negative", "currency-without-name", "naive-expiry"],
)
async def test_bad_reward_is_422_naming_the_field(client, admin, reward, field):
    response = await client.post(API, json={"name": "Bad", "rewards": [reward]}, headers=admin)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["error"]["details"]]


async def test_unknown_type_is_422(client, admin):
    response = await client.post(API, json={"name": "X", "type": "LEGEND"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "type"


async def test_secret_achievement_is_hidden_from_users_until_unlocked(client, admin, auth):
    secret = (
        await client.post(API, json={"name": "Night Owl", "secret": True}, headers=admin)
    ).json()
    await client.post(API, json={"name": "Visible"}, headers=admin)
    user = auth("8", "user")

    assert [a["name"] for a in (await client.get(API, headers=user)).json()] == ["Visible"]
    assert (await client.get(f"{API}/{secret['id']}", headers=user)).status_code == 404
    assert len((await client.get(API, headers=admin)).json()) == 2

    await client.put(
        "/api/users/achievements/progress/unlock",
        json={"userId": 8, "achievementId": secret["id"]},
        headers=admin,
    )
    assert [a["name"] for a in (await client.get(API, headers=user)).json()] == [
        "Night Owl",
        "Visible",
    ]
    assert (await client.get(f"{API}/{secret['id']}", headers=user)).status_code == 200


async def test_delete_returns_the_achievement(client, admin):
    created = (await client.post(API, json=DEAL_MAKER, headers=admin)).json()
    response = await client.delete(f"{API}/{created['id']}", headers=admin)
    assert response.status_code == 200
    assert response.json()["key"] == "deal-maker"
    assert (await client.get(f"{API}/{created['id']}", headers=admin)).status_code == 404
