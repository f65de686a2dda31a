"""`GET /api/admin/audit`: every change made through the API, who made it, before and after.

Each test reads the log as an admin would and checks what a reviewer relies on: the token's
subject and role, the action, the target, and `before`/`after` equal to what the API showed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from accolade.domain.audit import ACTIONS
from accolade.domain.identity import Principal, Role
from accolade.storage import audit
from tests.api.test_auth import assert_error

AUDIT = "/api/admin/audit"
ACHIEVEMENTS = "/api/achievements"
DEFS = "/api/users/achievements/definitions"
PROGRESS = "/api/users/achievements/progress"
CONTESTS = "/api/contests"
TEAMS = "/api/teams"
USERS = "/api/users"

# Every route under /api that changes something: the audit actions it writes, ...
AUDITED: dict[tuple[str, str], set[str]] = {
    ("POST", ACHIEVEMENTS): {"achievement.create"},
    ("PATCH", f"{ACHIEVEMENTS}/{{achievement_id}}"): {"achievement.update"},
    ("DELETE", f"{ACHIEVEMENTS}/{{achievement_id}}"): {"achievement.delete"},
    ("POST", f"{ACHIEVEMENTS}/{{achievement_id}}/recompute"): {"achievement.recompute"},
    ("POST", DEFS): {"achievement.create"},
    ("PUT", f"{DEFS}/{{achievement_id}}"): {"achievement.update"},
    ("DELETE", f"{DEFS}/{{achievement_id}}"): {"achievement.delete"},
    ("PUT", f"{PROGRESS}/unlock"): {"achievement.unlock"},
    ("DELETE", PROGRESS): {"achievement.progress.delete"},
    ("POST", "/api/quests"): {"quest.create"},
    ("POST", CONTESTS): {"contest.create"},
    ("PATCH", f"{CONTESTS}/{{contest_id}}"): {"contest.update", "contest.start", "contest.end"},
    ("POST", f"{CONTESTS}/{{contest_id}}/invitations"): {"contest.invite"},
    ("POST", "/api/leaderboard/contests/{contest_id}/payout"): {"contest.payout"},
    ("POST", TEAMS): {"team.create"},
    ("DELETE", f"{TEAMS}/{{team_id}}"): {"team.delete"},
    ("PUT", f"{TEAMS}/{{team_id}}/members/{{user_id}}"): {"team.member.add"},
    ("DELETE", f"{TEAMS}/{{team_id}}/members/{{user_id}}"): {"team.member.remove"},
    ("POST", USERS): {"user.create", "user.update"},
    ("DELETE", f"{USERS}/{{user_id}}"): {"user.delete"},
    ("POST", "/api/rewards/{distribution_id}/revoke"): {"reward.revoke"},
    ("POST", "/api/events/{event_id}/reverse"): {"event.reverse"},
    ("POST", "/api/admin/broadcast"): {"admin.broadcast"},
}
# ... or why it is not audited.
INGESTION = "ingestion: the stored event is the ledger itself"
PLAYER = "a player's own progress (recorded on its row), as events are"
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/api/events"): INGESTION,
    ("POST", "/api/events/batch"): INGESTION,
    ("POST", "/api/sales-reps/{user_id}/sales"): INGESTION,
    ("POST", "/api/training/gamification/award-xp"): INGESTION,
    ("POST", "/api/training/gamification/check-streak"): INGESTION,
    ("POST", "/api/training/quiz-complete"): INGESTION,
    ("POST", PROGRESS): "the host application's progress feed (seed 004), as events are",
    ("POST", "/api/training/roleplay/{session_id}/messages"): "relays messages, stores nothing",
    ("POST", f"{ACHIEVEMENTS}/simulate"): "a what-if from stored history: writes nothing",
    ("POST", "/api/rewards/{distribution_id}/claim"): PLAYER,
    ("POST", "/api/quests/{quest_id}/start"): PLAYER,
    ("POST", "/api/quests/{quest_id}/steps/{step_id}/complete"): PLAYER,
    ("POST", "/api/quests/{quest_id}/abandon"): PLAYER,
    ("POST", f"{CONTESTS}/{{contest_id}}/enter"): PLAYER,
    ("POST", "/api/notifications/{notification_id}/read"): "a read mark on one's own notice",
    ("POST", "/api/notifications/read-all"): "read marks on one's own notices",
}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _mutating_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every route under /api that takes a write method, as the OpenAPI document lists them (as
    tests/api/test_auth.py walks them; every route is in it, tests/api/test_openapi.py)."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
        if method.upper() in MUTATING
    }


async def entries(client: httpx.AsyncClient, admin: dict[str, str], **params: Any) -> list[Any]:
    response = await client.get(AUDIT, params=params, headers=admin)
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


async def last(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    (entry,) = await entries(client, admin, limit=1)
    return dict(entry)


# Fields an answer carries that are not the thing's own (live counts, a PATCH's recompute).
NOT_LOGGED = {"unlockedCount", "rarityPercent", "recompute"}


def same_as_shown(logged: dict[str, Any], shown: dict[str, Any]) -> None:
    """`before`/`after` is what the API answered."""
    assert logged == {key: value for key, value in shown.items() if key not in NOT_LOGGED}


# --- coverage: no route that changes something can forget the log -----------------------------


@pytest.mark.backends("sqlite")
async def test_every_mutating_route_is_audited_or_exempt_with_a_reason(app):
    routes = _mutating_routes(app)
    missing = routes - AUDITED.keys() - EXEMPT.keys()
    assert not missing, (
        "these routes change something: record an audit entry (storage.audit.record, "
        "tests/api/test_audit.py AUDITED) or list them in EXEMPT with the reason"
    )
    # A route that is not there yet (the reversal route lands with its engineer) is fine in
    # AUDITED; a stale EXEMPT entry is not.
    assert EXEMPT.keys() <= routes, EXEMPT.keys() - routes
    assert not AUDITED.keys() & EXEMPT.keys()


def test_every_audited_action_is_a_documented_action():
    named = set().union(*AUDITED.values())
    assert named == set(ACTIONS), set(ACTIONS) ^ named


def test_an_undocumented_action_is_refused():
    with pytest.raises(ValueError, match="ACTIONS"):
        asyncio.run(audit.record(None, "achievement.frobnicate", None))  # type: ignore[arg-type]


# --- each kind -----------------------------------------------------------------------------------


async def test_achievement_create_update_delete_with_before_and_after(client, admin, auth):
    headers = auth("ops-7", "service")
    created = await client.post(
        ACHIEVEMENTS, json={"name": "Closer", "points": 10}, headers=headers
    )
    assert created.status_code == 201, created.text
    shown = created.json()
    aid = shown["id"]
    entry = await last(client, admin)
    assert entry["actor"] == "ops-7" and entry["role"] == "service"
    assert entry["action"] == "achievement.create"
    assert entry["target"] == f"achievement:{aid}"
    assert "before" not in entry["details"]
    same_as_shown(entry["details"]["after"], shown)

    patched = await client.patch(f"{ACHIEVEMENTS}/{aid}", json={"points": 50}, headers=headers)
    assert patched.status_code == 200, patched.text
    entry = await last(client, admin)
    assert entry["action"] == "achievement.update"
    same_as_shown(entry["details"]["before"], shown)
    same_as_shown(entry["details"]["after"], patched.json())
    assert entry["details"]["before"]["points"] == 10
    assert entry["details"]["after"]["points"] == 50

    # The same value again changes nothing: no entry.
    await client.patch(f"{ACHIEVEMENTS}/{aid}", json={"points": 50}, headers=headers)
    assert (await last(client, admin))["id"] == entry["id"]

    deleted = await client.delete(f"{ACHIEVEMENTS}/{aid}", headers=admin)
    assert deleted.status_code == 200
    entry = await last(client, admin)
    assert (entry["action"], entry["actor"], entry["role"]) == (
        "achievement.delete",
        "admin",
        "admin",
    )
    same_as_shown(entry["details"]["before"], deleted.json())
    assert "after" not in entry["details"]


async def test_seed_004_definitions_are_the_same_achievement_actions(client, admin, service):
    created = await client.post(DEFS, json={"name": "Worker I"}, headers=service)
    aid = created.json()["id"]
    await client.put(f"{DEFS}/{aid}", json={"description": "100 tasks"}, headers=service)
    await client.delete(f"{DEFS}/{aid}", headers=service)
    log = await entries(client, admin)
    assert [e["action"] for e in log] == [
        "achievement.delete",
        "achievement.update",
        "achievement.create",
    ]
    assert {e["target"] for e in log} == {f"achievement:{aid}"}
    update = log[1]["details"]
    assert update["before"]["description"] is None
    assert update["after"]["description"] == "100 tasks"


async def test_manual_unlock_and_progress_removal(client, admin, service):
    aid = (await client.post(DEFS, json={"name": "Worker I"}, headers=service)).json()["id"]
    body = {"userId": "u-1", "achievementId": aid}
    unlocked = await client.put(f"{PROGRESS}/unlock", json=body, headers=service)
    assert unlocked.status_code == 200, unlocked.text
    entry = await last(client, admin)
    assert entry["action"] == "achievement.unlock"
    assert entry["details"]["userId"] == "u-1"
    assert entry["details"]["after"] == unlocked.json()
    # Unlocking again keeps the first unlock and changes nothing: nothing to log.
    await client.put(f"{PROGRESS}/unlock", json=body, headers=service)
    assert (await last(client, admin))["id"] == entry["id"]

    removed = await client.delete(PROGRESS, params=body, headers=service)
    entry = await last(client, admin)
    assert entry["action"] == "achievement.progress.delete"
    assert entry["details"]["before"] == removed.json()


async def test_quest_create(client, admin, service):
    created = await client.post(
        "/api/quests", json={"title": "Onboarding", "steps": [{"title": "Log in"}]}, headers=service
    )
    assert created.status_code == 201, created.text
    entry = await last(client, admin)
    assert entry["action"] == "quest.create"
    assert entry["target"] == f"quest:{created.json()['id']}"
    same_as_shown(entry["details"]["after"], created.json())


async def test_contest_lifecycle(client, admin, service):
    created = await client.post(CONTESTS, json={"name": "Q4", "metric": "revenue"}, headers=service)
    cid = created.json()["id"]
    renamed = await client.patch(f"{CONTESTS}/{cid}", json={"name": "Q4 Sprint"}, headers=service)
    live = await client.patch(f"{CONTESTS}/{cid}", json={"status": "LIVE"}, headers=service)
    # Asking for the status it has already changes nothing: no entry.
    await client.patch(f"{CONTESTS}/{cid}", json={"status": "LIVE"}, headers=service)
    ended = await client.patch(f"{CONTESTS}/{cid}", json={"status": "ENDED"}, headers=service)
    paid = await client.post(f"/api/leaderboard/contests/{cid}/payout", headers=service)
    assert paid.status_code == 200, paid.text
    log = await entries(client, admin, action="contest.")
    assert [e["action"] for e in log] == [
        "contest.payout",
        "contest.end",
        "contest.start",
        "contest.update",
        "contest.create",
    ]
    assert {e["target"] for e in log} == {f"contest:{cid}"}
    payout, end, start, update, create = (e["details"] for e in log)
    assert create["after"] == created.json()
    assert (update["before"], update["after"]) == (created.json(), renamed.json())
    assert (start["before"], start["after"]) == (renamed.json(), live.json())
    assert (end["before"]["status"], end["after"]) == ("LIVE", ended.json())
    assert payout["after"] == paid.json()


async def test_private_contest_invitations(client, admin, service):
    body = {"name": "Invite only", "metric": "revenue", "visibility": "private"}
    cid = (await client.post(CONTESTS, json=body, headers=service)).json()["id"]
    invited = await client.post(
        f"{CONTESTS}/{cid}/invitations", json={"userIds": [7, "u-8"]}, headers=service
    )
    assert invited.status_code == 200, invited.text
    entry = await last(client, admin)
    assert entry["action"] == "contest.invite"
    assert entry["details"] == {"userIds": [7, "u-8"]}
    # Inviting again changes nothing (no entry); a new invitee is named alone.
    await client.post(f"{CONTESTS}/{cid}/invitations", json={"userIds": [7]}, headers=service)
    assert (await last(client, admin))["id"] == entry["id"]
    await client.post(f"{CONTESTS}/{cid}/invitations", json={"userIds": [7, 9]}, headers=service)
    assert (await last(client, admin))["details"] == {"userIds": [9]}


async def test_teams_and_members(client, admin, service):
    created = await client.post(TEAMS, json={"teamId": "east", "name": "East"}, headers=service)
    added = await client.put(f"{TEAMS}/east/members/42", json={"userName": "Ann"}, headers=service)
    # Adding again changes nothing: no entry.
    await client.put(f"{TEAMS}/east/members/42", headers=service)
    removed = await client.delete(f"{TEAMS}/east/members/42", headers=service)
    deleted = await client.delete(f"{TEAMS}/east", headers=service)
    assert deleted.status_code == 200, deleted.text
    log = await entries(client, admin, action="team.")
    assert [(e["action"], e["target"]) for e in log] == [
        ("team.delete", "team:east"),
        ("team.member.remove", "team:east"),
        ("team.member.add", "team:east"),
        ("team.create", "team:east"),
    ]
    assert log[3]["details"]["after"] == created.json()
    assert log[2]["details"]["after"] == added.json()
    assert log[1]["details"]["before"] == removed.json()
    assert log[0]["details"]["before"] == deleted.json()
    assert [e["action"] for e in await entries(client, admin, action="team.member.")] == [
        "team.member.remove",
        "team.member.add",
    ]


async def test_users_create_update_delete_with_the_users_own_token(client, admin, auth):
    own = auth("u-5", "user")
    created = await client.post(USERS, json={"userId": "u-5", "userName": "Ann"}, headers=own)
    updated = await client.post(USERS, json={"userId": "u-5", "userName": "Anna"}, headers=own)
    # The same name again changes nothing: no entry.
    await client.post(USERS, json={"userId": "u-5", "userName": "Anna"}, headers=own)
    deleted = await client.delete(f"{USERS}/u-5", headers=own)
    assert deleted.status_code == 200
    log = await entries(client, admin, action="user.")
    assert [(e["action"], e["actor"], e["role"]) for e in log] == [
        ("user.delete", "u-5", "user"),
        ("user.update", "u-5", "user"),
        ("user.create", "u-5", "user"),
    ]
    assert {e["target"] for e in log} == {"user:u-5"}
    assert log[2]["details"] == {"after": created.json()}
    assert log[1]["details"] == {"before": created.json(), "after": updated.json()}
    assert log[0]["details"] == {"before": deleted.json()}


async def test_users_seen_first_in_events_are_not_logged(client, admin, service):
    sent = await client.post("/api/events", json={"userId": 9, "type": "login"}, headers=service)
    assert sent.status_code == 201
    assert await entries(client, admin) == []


async def pending_reward(client: Any, service: dict[str, str]) -> int:
    """User 3's pending reward: an XP reward of the "Caller" badge, unlocked by one call."""
    await client.post(
        ACHIEVEMENTS,
        json={
            "name": "Caller",
            "requirements": [{"metric": "calls", "operator": "gte", "threshold": 1}],
            "rewards": [{"type": "XP", "value": 10}],
        },
        headers=service,
    )
    answer = await client.post("/api/events", json={"userId": 3, "type": "calls"}, headers=service)
    (distribution_id,) = answer.json()["unlocked"][0]["rewardDistributionIds"]
    return int(distribution_id)


async def test_reward_revoke(client, admin, service):
    distribution_id = await pending_reward(client, service)
    pending = await client.get("/api/rewards", params={"userId": 3}, headers=service)
    revoked = await client.post(f"/api/rewards/{distribution_id}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    entry = await last(client, admin)
    assert entry["action"] == "reward.revoke"
    assert entry["target"] == f"reward:{distribution_id}"
    assert entry["details"]["before"] == pending.json()[0]
    assert entry["details"]["before"]["status"] == "PENDING"
    assert entry["details"]["after"] == revoked.json()


async def test_broadcast(client, admin):
    body = {"namespace": "/leaderboard", "room": "tv-display", "event": "x", "repeat": 2}
    assert (await client.post("/api/admin/broadcast", json=body, headers=admin)).status_code == 202
    entry = await last(client, admin)
    assert entry["action"] == "admin.broadcast" and entry["target"] == "room:tv-display"
    assert entry["details"] == {
        "namespace": "/leaderboard",
        "room": "tv-display",
        "event": "x",
        "repeat": 2,
    }


async def test_event_reverse(client, admin, auth):
    ops = auth("finance", "service")
    sale = await client.post(
        "/api/events", json={"userId": 5, "type": "sale", "value": 40000}, headers=ops
    )
    event_id = sale.json()["eventId"]
    reversed_ = await client.post(
        f"/api/events/{event_id}/reverse", json={"reason": "refund"}, headers=ops
    )
    assert reversed_.status_code == 200, reversed_.text
    entry = await last(client, admin)
    assert (entry["action"], entry["actor"], entry["role"]) == (
        "event.reverse",
        "finance",
        "service",
    )
    assert entry["target"] == f"event:{event_id}"
    assert entry["details"]["reason"] == "refund"
    assert entry["details"]["userId"] == 5
    assert entry["details"]["after"] == reversed_.json()
    # The second reverse is 409: no second entry.
    again = await client.post(f"/api/events/{event_id}/reverse", headers=ops)
    assert_error(again, 409, "conflict")
    assert [e["action"] for e in await entries(client, admin)] == ["event.reverse"]


async def test_recompute_after_a_rule_change(client, admin, service):
    created = await client.post(
        ACHIEVEMENTS,
        json={
            "name": "Caller",
            "requirements": [{"metric": "calls", "operator": "gte", "threshold": 2}],
        },
        headers=service,
    )
    aid = created.json()["id"]
    await client.post("/api/events", json={"userId": 4, "type": "calls"}, headers=service)
    easier = [{"metric": "calls", "operator": "gte", "threshold": 1}]
    patched = await client.patch(
        f"{ACHIEVEMENTS}/{aid}", json={"requirements": easier}, headers=service
    )
    assert patched.status_code == 200, patched.text
    log = await entries(client, admin, action="achievement.")
    assert [e["action"] for e in log] == [
        "achievement.recompute",
        "achievement.update",
        "achievement.create",
    ]
    assert log[0]["target"] == f"achievement:{aid}"
    assert log[0]["actor"] == "host-app"
    assert (log[0]["details"]["unlocked"], log[0]["details"]["revoked"]) == (1, 0)
    # Nothing left to change: a recompute on demand writes no entry.
    recomputed = await client.post(f"{ACHIEVEMENTS}/{aid}/recompute", headers=admin)
    assert recomputed.status_code == 200, recomputed.text
    assert len(await entries(client, admin, action="achievement.")) == 3


# --- refused and rolled back: no entry -----------------------------------------------------------


async def test_refused_changes_leave_no_entry(client, admin, service, auth):
    aid = (await client.post(ACHIEVEMENTS, json={"name": "A"}, headers=service)).json()["id"]
    await client.post(TEAMS, json={"teamId": "t", "name": "T"}, headers=service)
    cid = (await client.post(CONTESTS, json={"name": "C", "metric": "xp"}, headers=service)).json()[
        "id"
    ]
    before = await entries(client, admin)
    refusals = [
        (await client.patch(f"{ACHIEVEMENTS}/4242", json={"points": 1}, headers=service), 404),
        (await client.patch(f"{ACHIEVEMENTS}/{aid}", json={"points": -1}, headers=service), 422),
        (await client.delete(f"{ACHIEVEMENTS}/{aid}", headers=auth("42", "user")), 403),
        (await client.post(TEAMS, json={"teamId": "t", "name": "Again"}, headers=service), 409),
        (await client.delete(f"{TEAMS}/t/members/99", headers=service), 404),
        (await client.patch(f"{CONTESTS}/{cid}", json={"status": "ENDED"}, headers=service), 409),
        (await client.post(f"/api/leaderboard/contests/{cid}/payout", headers=service), 409),
        (
            await client.post(
                f"{CONTESTS}/{cid}/invitations", json={"userIds": [1]}, headers=service
            ),
            409,
        ),
        (await client.post("/api/rewards/4242/revoke", headers=admin), 404),
        (await client.delete(f"{USERS}/nobody", headers=service), 404),
        (
            await client.post(USERS, json={"userId": 1, "timeZone": "Mars/Base"}, headers=service),
            422,
        ),
    ]
    assert [r.status_code for r, _ in refusals] == [status for _, status in refusals]
    assert await entries(client, admin) == before


async def test_a_change_that_rolls_back_leaves_no_entry(app, client, admin):
    database = app.state.services.database
    audit.act_as(Principal("ops", Role.ADMIN))
    try:
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                await audit.record(session, "team.create", "team:x", after={"teamId": "x"})
                raise RuntimeError("the change failed after its entry was written")
        async with database.transaction() as session:
            await audit.record(session, "team.create", "team:y", after={"teamId": "y"})
    finally:
        audit.act_as(None)
    assert [e["target"] for e in await entries(client, admin)] == ["team:y"]


async def test_a_revoke_refused_as_already_revoked_leaves_one_entry(client, admin, service):
    distribution_id = await pending_reward(client, service)
    assert (
        await client.post(f"/api/rewards/{distribution_id}/revoke", headers=admin)
    ).status_code == 200
    again = await client.post(f"/api/rewards/{distribution_id}/revoke", headers=admin)
    assert_error(again, 409, "conflict")
    assert [e["action"] for e in await entries(client, admin, action="reward.")] == [
        "reward.revoke"
    ]


# --- who: the token of the request, never another's ---------------------------------------------


async def test_concurrent_requests_each_log_their_own_token(client, admin, auth):
    tokens = [auth(f"svc-{n}", "service") for n in range(8)] + [auth("boss", "admin")]
    answers = await asyncio.gather(
        *(
            client.post(TEAMS, json={"teamId": f"t{n}", "name": f"T{n}"}, headers=headers)
            for n, headers in enumerate(tokens)
        )
    )
    assert {a.status_code for a in answers} == {201}
    log = await entries(client, admin)
    who = {e["target"]: (e["actor"], e["role"]) for e in log}
    expected = {f"team:t{n}": (f"svc-{n}", "service") for n in range(8)} | {
        "team:t8": ("boss", "admin")
    }
    assert who == expected


@pytest.mark.backends("sqlite")
async def test_background_work_started_in_a_request_is_no_ones_change():
    # A task copies its creator's context: the actor is bound to the request's own task, so
    # work it starts (the intake's drainers, throttled updates) never writes in its name.
    audit.act_as(Principal("ops", Role.ADMIN))
    try:
        assert audit.current_actor() == Principal("ops", Role.ADMIN)

        async def background() -> Principal | None:
            return audit.current_actor()

        assert await asyncio.create_task(background()) is None
    finally:
        audit.act_as(None)
    assert audit.current_actor() is None


# --- reading the log ----------------------------------------------------------------------------


async def test_filters_and_paging_newest_first(client, admin, auth):
    ann, bo = auth("ann", "service"), auth("bo", "service")
    for n in range(5):
        await client.post(TEAMS, json={"teamId": f"a{n}", "name": "A"}, headers=ann)
        await client.post(ACHIEVEMENTS, json={"name": f"B{n}"}, headers=bo)
    everything = await entries(client, admin, limit=500)
    assert len(everything) == 10
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)
    assert all(e["at"].endswith("Z") for e in everything)

    by_ann = await entries(client, admin, actor="ann")
    assert {e["actor"] for e in by_ann} == {"ann"} and len(by_ann) == 5
    assert len(await entries(client, admin, action="achievement.create")) == 5
    assert len(await entries(client, admin, action="achievement.")) == 5
    assert await entries(client, admin, action="achievement") == []  # exact unless it ends in `.`
    assert await entries(client, admin, actor="ann", action="achievement.create") == []

    pages: list[int] = []
    cursor: dict[str, Any] = {}
    while page := await entries(client, admin, limit=3, **cursor):
        pages.append(len(page))
        cursor = {"before": page[-1]["id"]}
        ids_seen = [e["id"] for e in page]
        assert all(i < ids[0] + 1 for i in ids_seen)
    assert pages == [3, 3, 3, 1]
    default = await entries(client, admin)
    assert len(default) == 10  # default limit 50


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=x", "before=0", "before=-1", "actor=", "action="]
)
async def test_bad_query_is_422(client, admin, query):
    assert_error(await client.get(f"{AUDIT}?{query}", headers=admin), 422, "validation_error")


@pytest.mark.backends("sqlite")
async def test_limit_500_is_accepted(client, admin):
    assert (await client.get(AUDIT, params={"limit": 500}, headers=admin)).status_code == 200


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("role", ["service", "user", "display"])
async def test_only_admins_read_the_log(client, auth, role):
    assert_error(await client.get(AUDIT, headers=auth("someone", role)), 403, "forbidden")


@pytest.mark.backends("sqlite")
async def test_no_token_is_401(client):
    assert_error(await client.get(AUDIT), 401, "unauthorized")


@pytest.mark.backends("sqlite")
async def test_openapi_lists_every_action(app):
    operation = app.openapi()["paths"][AUDIT]["get"]
    for action in ACTIONS:
        assert f"`{action}`" in operation["description"]
