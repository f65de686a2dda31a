"""Who may call what: tokens that are refused (401) and roles that may not (403), per endpoint.

`admin` may do everything and `service` may act for any user; a `user` token reads the
achievements and only its own progress and user record, and claims its own rewards and marks its
own notifications read; a `display` token is for public real-time rooms only and gets 403 from
every REST endpoint but the public activity feed (`GET /api/activity` without `userId`).
`/health` needs no token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from accolade.auth import issue_token
from accolade.domain.identity import Role

DEFS = "/api/users/achievements/definitions"
PROGRESS = "/api/users/achievements/progress"
PROGRESS_LIST = "/api/users/achievements/progress/list"
UNLOCK = "/api/users/achievements/progress/unlock"
ACHIEVEMENTS = "/api/achievements"
USERS = "/api/users"
QUESTS = "/api/quests"
CONTESTS = "/api/contests"

OTHER_SECRET = "another-secret-" + "y" * 40

# Who may call what is decided by the token and the route, never by the database: the matrix
# runs on SQLite only (what each endpoint reads and writes is tested on both databases elsewhere).
pytestmark = pytest.mark.backends("sqlite")

# Every REST endpoint that takes a token: (method, route template, url, JSON body). The ids and
# bodies are valid, so a refusal can only come from the token. `{aid}` is an achievement id.
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("POST", "/api/users", USERS, {"userId": 42}),
    ("GET", "/api/users/{user_id}", f"{USERS}/42", None),
    ("DELETE", "/api/users/{user_id}", f"{USERS}/42", None),
    ("POST", DEFS, DEFS, {"name": "Worker II"}),
    ("GET", DEFS, DEFS, None),
    ("GET", f"{DEFS}/{{achievement_id}}", f"{DEFS}/{{aid}}", None),
    ("PUT", f"{DEFS}/{{achievement_id}}", f"{DEFS}/{{aid}}", {"name": "Renamed"}),
    ("DELETE", f"{DEFS}/{{achievement_id}}", f"{DEFS}/{{aid}}", None),
    ("POST", PROGRESS, PROGRESS, {"userId": 42, "achievementId": "{aid}"}),
    ("GET", PROGRESS, f"{PROGRESS}?userId=42&achievementId={{aid}}", None),
    ("GET", PROGRESS_LIST, f"{PROGRESS_LIST}?userId=42", None),
    ("PUT", UNLOCK, UNLOCK, {"userId": 42, "achievementId": "{aid}"}),
    ("DELETE", PROGRESS, f"{PROGRESS}?userId=42&achievementId={{aid}}", None),
    ("POST", ACHIEVEMENTS, ACHIEVEMENTS, {"name": "Explorer"}),
    ("GET", ACHIEVEMENTS, ACHIEVEMENTS, None),
    ("GET", f"{ACHIEVEMENTS}/{{achievement_id}}", f"{ACHIEVEMENTS}/{{aid}}", None),
    ("PATCH", f"{ACHIEVEMENTS}/{{achievement_id}}", f"{ACHIEVEMENTS}/{{aid}}", {"points": 5}),
    ("DELETE", f"{ACHIEVEMENTS}/{{achievement_id}}", f"{ACHIEVEMENTS}/{{aid}}", None),
    ("POST", f"{ACHIEVEMENTS}/simulate", f"{ACHIEVEMENTS}/simulate", {"name": "What if"}),
    (
        "POST",
        f"{ACHIEVEMENTS}/{{achievement_id}}/recompute",
        f"{ACHIEVEMENTS}/{{aid}}/recompute",
        None,
    ),
    ("GET", "/api/admin/connections", "/api/admin/connections", None),
    (
        "POST",
        "/api/admin/broadcast",
        "/api/admin/broadcast",
        {"namespace": "/leaderboard", "room": "tv-display", "event": "x", "data": {}},
    ),
    ("GET", "/api/rooms/{room}/events", "/api/rooms/user:42/events", None),
    ("GET", "/api/admin/flagged-events", "/api/admin/flagged-events", None),
    ("GET", "/api/admin/audit", "/api/admin/audit", None),
    ("POST", "/api/events", "/api/events", {"userId": 42, "type": "login"}),
    ("POST", "/api/events/batch", "/api/events/batch", {"events": [{"userId": 42, "type": "x"}]}),
    ("POST", "/api/events/{event_id}/reverse", "/api/events/1/reverse", {"reason": "refund"}),
    (
        "POST",
        "/api/training/gamification/award-xp",
        "/api/training/gamification/award-xp",
        {"userId": 42, "xpAmount": 10, "action": "t"},
    ),
    (
        "POST",
        "/api/training/gamification/check-streak",
        "/api/training/gamification/check-streak",
        {"userId": 42},
    ),
    (
        "POST",
        "/api/training/quiz-complete",
        "/api/training/quiz-complete",
        {"userId": 42, "quizId": 1, "score": 1, "maxScore": 2},
    ),
    (
        "POST",
        "/api/training/roleplay/{session_id}/messages",
        "/api/training/roleplay/s1/messages",
        {"userId": 42, "response": "hi"},
    ),
    ("GET", "/api/rewards/pending", "/api/rewards/pending?userId=42", None),
    ("GET", "/api/rewards", "/api/rewards?userId=42", None),
    ("POST", "/api/rewards/{distribution_id}/claim", "/api/rewards/1/claim", None),
    ("POST", "/api/rewards/{distribution_id}/revoke", "/api/rewards/1/revoke", None),
    ("GET", "/api/notifications", "/api/notifications?userId=42", None),
    ("POST", "/api/notifications/{notification_id}/read", "/api/notifications/1/read", None),
    ("POST", "/api/notifications/read-all", "/api/notifications/read-all", {"userId": 42}),
    ("GET", "/api/activity", "/api/activity?userId=42", None),
    ("GET", "/api/users/{user_id}/profile", "/api/users/42/profile", None),
    ("POST", QUESTS, QUESTS, {"title": "Q", "steps": [{"title": "S"}]}),
    ("GET", QUESTS, QUESTS, None),
    ("GET", f"{QUESTS}/active", f"{QUESTS}/active?userId=42", None),
    ("GET", f"{QUESTS}/{{quest_id}}", f"{QUESTS}/1", None),
    ("POST", f"{QUESTS}/{{quest_id}}/start", f"{QUESTS}/1/start", {"userId": 42}),
    (
        "POST",
        f"{QUESTS}/{{quest_id}}/steps/{{step_id}}/complete",
        f"{QUESTS}/1/steps/step-1/complete",
        {"userId": 42},
    ),
    ("POST", f"{QUESTS}/{{quest_id}}/abandon", f"{QUESTS}/1/abandon", {"userId": 42}),
    ("GET", f"{QUESTS}/{{quest_id}}/progress", f"{QUESTS}/1/progress?userId=42", None),
    ("GET", "/api/leaderboards/{metric}", "/api/leaderboards/xp?period=month", None),
    ("POST", "/api/sales-reps/{user_id}/sales", "/api/sales-reps/42/sales", {"amount": 100}),
    ("POST", "/api/teams", "/api/teams", {"teamId": "t1", "name": "Sales East"}),
    ("GET", "/api/teams", "/api/teams", None),
    ("GET", "/api/teams/{team_id}", "/api/teams/t1", None),
    ("DELETE", "/api/teams/{team_id}", "/api/teams/t1", None),
    ("PUT", "/api/teams/{team_id}/members/{user_id}", "/api/teams/t1/members/42", None),
    ("DELETE", "/api/teams/{team_id}/members/{user_id}", "/api/teams/t1/members/42", None),
    ("POST", CONTESTS, CONTESTS, {"name": "Q4 Sales Challenge", "metric": "revenue"}),
    ("GET", CONTESTS, CONTESTS, None),
    ("GET", f"{CONTESTS}/{{contest_id}}", f"{CONTESTS}/1", None),
    ("PATCH", f"{CONTESTS}/{{contest_id}}", f"{CONTESTS}/1", {"name": "Q4"}),
    ("POST", f"{CONTESTS}/{{contest_id}}/enter", f"{CONTESTS}/1/enter", {"userId": 42}),
    ("GET", f"{CONTESTS}/{{contest_id}}/leaderboard", f"{CONTESTS}/1/leaderboard", None),
    (
        "POST",
        f"{CONTESTS}/{{contest_id}}/invitations",
        f"{CONTESTS}/1/invitations",
        {"userIds": [42]},
    ),
    (
        "POST",
        "/api/leaderboard/contests/{contest_id}/payout",
        "/api/leaderboard/contests/1/payout",
        None,
    ),
]
ENDPOINT_IDS = [f"{method} {template}" for method, template, _, _ in ENDPOINTS]
# What a TV screen reads: any token, `display` included, and no token while
# ACCOLADE_PUBLIC_DISPLAY is on (tests/api/test_leaderboards.py shows it off and on).
PUBLIC_READS = {
    ("GET", "/api/leaderboards/{metric}"),
    ("GET", "/api/teams"),
    ("GET", "/api/teams/{team_id}"),
    ("GET", CONTESTS),
    ("GET", f"{CONTESTS}/{{contest_id}}"),
    ("GET", f"{CONTESTS}/{{contest_id}}/leaderboard"),
}
GUARDED = [e for e in ENDPOINTS if (e[0], e[1]) not in PUBLIC_READS]
GUARDED_IDS = [f"{method} {template}" for method, template, _, _ in GUARDED]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return dict(body["error"])


def _fill(value: Any, aid: int) -> Any:
    if value == "{aid}":
        return aid
    if isinstance(value, str):
        return value.replace("{aid}", str(aid))
    if isinstance(value, dict):
        return {key: _fill(item, aid) for key, item in value.items()}
    return value


async def call(
    client: httpx.AsyncClient,
    endpoint: tuple[str, str, str, Any],
    headers: dict[str, Any] | None,
    aid: int = 1,
) -> httpx.Response:
    method, _, url, body = endpoint
    return await client.request(
        method, _fill(url, aid), json=_fill(body, aid), headers=headers or {}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret_of(app: FastAPI) -> str:
    return str(app.state.services.jwt_secret)


def claims(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"sub": "admin", "role": "admin", "iat": now, "exp": now + timedelta(hours=1), **extra}


@pytest.fixture
async def aid(client: httpx.AsyncClient, service: dict[str, str]) -> int:
    """An achievement (both APIs see it) with progress rows for users 42 and 7."""
    created = await client.post(DEFS, json={"name": "Worker I"}, headers=service)
    assert created.status_code == 201, created.text
    achievement_id = int(created.json()["id"])
    for user_id in (42, 7):
        row = await client.post(
            PROGRESS,
            json={"userId": user_id, "achievementId": achievement_id, "metadata": {"n": 1}},
            headers=service,
        )
        assert row.status_code == 200, row.text
    return achievement_id


@pytest.fixture
def user42(auth) -> dict[str, str]:
    return auth("42", "user")


@pytest.fixture
def display(auth) -> dict[str, str]:
    return auth("tv-lobby", "display")


# --- the list above is every endpoint ------------------------------------------------------------


async def test_every_api_route_is_in_the_auth_matrix(app):
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    listed = {(method, template) for method, template, _, _ in ENDPOINTS}
    assert routes - listed == set(), "add these routes to ENDPOINTS in tests/api/test_auth.py"
    assert listed - routes == set(), "ENDPOINTS names routes the app does not have"


# --- tokens that are refused: 401 everywhere ------------------------------------------------------


@pytest.mark.parametrize("endpoint", GUARDED, ids=GUARDED_IDS)
async def test_no_token_is_401(client, endpoint):
    assert_error(await call(client, endpoint, None), 401, "unauthorized")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_garbage_token_is_401(client, endpoint):
    assert_error(await call(client, endpoint, bearer("not-a-jwt")), 401, "unauthorized")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_expired_token_is_401(client, auth, endpoint):
    response = await call(client, endpoint, auth("admin", "admin", ttl_s=-10))
    error = assert_error(response, 401, "unauthorized")
    assert "expired" in error["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_token_signed_with_another_secret_is_401(client, endpoint):
    token = issue_token(OTHER_SECRET, "admin", Role.ADMIN, 3600)
    assert_error(await call(client, endpoint, bearer(token)), 401, "unauthorized")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_unknown_role_is_401(client, app, endpoint):
    token = jwt.encode(claims(role="superuser"), secret_of(app), algorithm="HS256")
    assert_error(await call(client, endpoint, bearer(token)), 401, "unauthorized")


def _signed(secret: str, algorithm: str = "HS256", **extra: Any) -> dict[str, str]:
    return bearer(jwt.encode(claims(**extra), secret, algorithm=algorithm))


def _without(claim: str, secret: str) -> dict[str, str]:
    payload = claims()
    del payload[claim]
    return bearer(jwt.encode(payload, secret, algorithm="HS256"))


def _tampered(secret: str) -> dict[str, str]:
    """A user token whose payload was swapped for an admin one, keeping the user's signature."""
    header, _, signature = issue_token(secret, "42", Role.USER, 60).split(".")
    _, payload, _ = issue_token(secret, "42", Role.ADMIN, 60).split(".")
    return bearer(f"{header}.{payload}.{signature}")


def _unsigned(secret: str) -> dict[str, str]:
    header, payload, _ = issue_token(secret, "admin", Role.ADMIN, 60).split(".")
    return bearer(f"{header}.{payload}.")


# Each takes the app's real secret and makes an Authorization header that must be refused.
BAD_TOKENS: dict[str, Callable[[str], dict[str, Any]]] = {
    "basic-scheme": lambda _: {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "bearer-without-token": lambda _: {"Authorization": "Bearer"},
    "bearer-empty": lambda _: {"Authorization": "Bearer "},
    "token-without-scheme": lambda s: {"Authorization": issue_token(s, "a", Role.ADMIN, 60)},
    "two-tokens": lambda s: bearer(f"{issue_token(s, 'a', Role.ADMIN, 60)} x"),
    "non-ascii": lambda _: {"Authorization": "Bearer t\u00f6ken".encode("latin-1")},
    "alg-none": lambda _: bearer(jwt.encode(claims(), key=None, algorithm="none")),
    "signature-stripped": _unsigned,
    "tampered-payload": _tampered,
    "hs512": lambda s: _signed(s * 2, "HS512"),
    "no-role": lambda s: _without("role", s),
    "no-sub": lambda s: _without("sub", s),
    "empty-sub": lambda s: _signed(s, sub=""),
    "numeric-sub": lambda s: _signed(s, sub=42),
    "role-not-a-string": lambda s: _signed(s, role=["admin"]),
    "role-upper-case": lambda s: _signed(s, role="ADMIN"),
    "not-yet-valid": lambda s: _signed(s, nbf=datetime.now(UTC) + timedelta(hours=1)),
    "expiry-not-a-date": lambda s: _signed(s, exp="tomorrow"),
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_malformed_or_forged_token_is_401(client, app, kind):
    headers = BAD_TOKENS[kind](secret_of(app))
    for endpoint in (ENDPOINTS[4], ENDPOINTS[3]):  # a read and a write
        assert_error(await call(client, endpoint, headers), 401, "unauthorized")


async def test_refused_token_changes_nothing(client, aid, admin):
    token = issue_token(OTHER_SECRET, "admin", Role.ADMIN, 3600)
    response = await client.delete(f"{DEFS}/{aid}", headers=bearer(token))
    assert_error(response, 401, "unauthorized")
    assert (await client.get(f"{DEFS}/{aid}", headers=admin)).status_code == 200


async def test_unauthorized_comes_before_not_found(client):
    assert_error(await client.get(f"{DEFS}/4242"), 401, "unauthorized")


async def test_token_without_expiry_is_accepted(client, auth):
    assert (await client.get(DEFS, headers=auth("admin", "admin", ttl_s=None))).status_code == 200


# --- anonymous ------------------------------------------------------------------------------------


async def test_health_needs_no_token(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_health_ignores_a_bad_token(client):
    assert (await client.get("/health", headers=bearer("not-a-jwt"))).status_code == 200


# --- admin and service: everything, for any user --------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "service"])
async def test_privileged_roles_manage_definitions(client, auth, role):
    headers = auth(f"{role}-1", role)
    created = await client.post(DEFS, json={"name": "Worker I"}, headers=headers)
    assert created.status_code == 201, created.text
    url = f"{DEFS}/{created.json()['id']}"
    assert (await client.get(url, headers=headers)).status_code == 200
    updated = await client.put(url, json={"description": "new"}, headers=headers)
    assert updated.status_code == 200 and updated.json()["description"] == "new"
    assert (await client.delete(url, headers=headers)).status_code == 200


@pytest.mark.parametrize("role", ["admin", "service"])
async def test_privileged_roles_manage_achievements(client, auth, role):
    headers = auth(f"{role}-1", role)
    created = await client.post(ACHIEVEMENTS, json={"name": "Explorer"}, headers=headers)
    assert created.status_code == 201, created.text
    url = f"{ACHIEVEMENTS}/{created.json()['id']}"
    assert (await client.get(url, headers=headers)).status_code == 200
    patched = await client.patch(url, json={"points": 50}, headers=headers)
    assert patched.status_code == 200 and patched.json()["points"] == 50
    assert (await client.delete(url, headers=headers)).status_code == 200


@pytest.mark.parametrize("role", ["admin", "service"])
async def test_privileged_roles_write_and_read_progress_for_any_user(client, auth, aid, role):
    headers = auth(f"{role}-1", role)
    body = {"userId": "u-99", "achievementId": aid}
    written = await client.post(PROGRESS, json={**body, "metadata": {"n": 2}}, headers=headers)
    assert written.status_code == 200, written.text
    unlocked = await client.put(UNLOCK, json=body, headers=headers)
    assert unlocked.status_code == 200 and unlocked.json()["unlockedAt"] is not None
    query = {"userId": "u-99", "achievementId": aid}
    read = await client.get(PROGRESS, params=query, headers=headers)
    assert read.status_code == 200 and read.json()["userId"] == "u-99"
    listed = await client.get(PROGRESS_LIST, params={"userId": "u-99"}, headers=headers)
    assert listed.status_code == 200 and len(listed.json()) == 1
    assert (await client.delete(PROGRESS, params=query, headers=headers)).status_code == 200


@pytest.mark.parametrize("role", ["admin", "service"])
async def test_privileged_roles_manage_any_user(client, auth, role):
    headers = auth(f"{role}-1", role)
    created = await client.post(USERS, json={"userId": "u-5", "userName": "Ann"}, headers=headers)
    assert created.status_code == 201, created.text
    assert (await client.get(f"{USERS}/u-5", headers=headers)).status_code == 200
    assert (await client.delete(f"{USERS}/u-5", headers=headers)).status_code == 200


# --- user: reads the achievements, and only its own data --------------------------------------


@pytest.mark.parametrize("url", [DEFS, f"{DEFS}/{{aid}}", ACHIEVEMENTS, f"{ACHIEVEMENTS}/{{aid}}"])
async def test_user_reads_achievements(client, aid, user42, url):
    response = await client.get(_fill(url, aid), headers=user42)
    assert response.status_code == 200, response.text


# Every write but to the user record: a user's own id in the body or query does not help.
# Writes a user token may make for itself (its own rewards and notifications), tested elsewhere.
USER_SELF_SERVICE = {
    "/api/rewards/{distribution_id}/claim",
    "/api/notifications/{notification_id}/read",
    "/api/notifications/read-all",
    f"{QUESTS}/{{quest_id}}/start",
    f"{QUESTS}/{{quest_id}}/steps/{{step_id}}/complete",
    f"{QUESTS}/{{quest_id}}/abandon",
    f"{CONTESTS}/{{contest_id}}/enter",
}
USER_FORBIDDEN = [
    e
    for e in ENDPOINTS
    if e[0] != "GET" and e[2] not in (USERS, f"{USERS}/42") and e[1] not in USER_SELF_SERVICE
]


@pytest.mark.parametrize(
    "endpoint",
    USER_FORBIDDEN,
    ids=[f"{method} {template}" for method, template, _, _ in USER_FORBIDDEN],
)
async def test_user_may_not_write_achievements_or_progress(client, aid, user42, endpoint):
    # The bodies and queries name user 42, the token's own user: still not a user's to write.
    assert_error(await call(client, endpoint, user42, aid), 403, "forbidden")


async def test_forbidden_write_changes_nothing(client, aid, user42, service):
    unlock = await client.put(UNLOCK, json={"userId": 42, "achievementId": aid}, headers=user42)
    assert_error(unlock, 403, "forbidden")
    assert_error(await client.delete(f"{DEFS}/{aid}", headers=user42), 403, "forbidden")
    row = await client.get(PROGRESS, params={"userId": 42, "achievementId": aid}, headers=service)
    assert row.json()["unlockedAt"] is None
    assert (await client.get(f"{DEFS}/{aid}", headers=service)).status_code == 200


async def test_user_reads_its_own_progress(client, aid, user42):
    response = await client.get(
        PROGRESS, params={"userId": "42", "achievementId": aid}, headers=user42
    )
    assert response.status_code == 200, response.text
    assert response.json()["userId"] == 42
    assert response.json()["metadata"] == {"n": 1}


async def test_user_lists_its_own_progress(client, aid, user42):
    response = await client.get(PROGRESS_LIST, params={"userId": "42"}, headers=user42)
    assert response.status_code == 200, response.text
    assert [row["userId"] for row in response.json()] == [42]


async def test_user_reads_its_own_progress_before_it_has_any(client, aid, auth):
    headers = auth("u-new", "user")
    response = await client.get(
        PROGRESS, params={"userId": "u-new", "achievementId": aid}, headers=headers
    )
    assert response.status_code == 200
    assert response.json() is None


@pytest.mark.parametrize("other", ["7", "nobody", "042", "42 ", "4"])
async def test_user_reading_someone_elses_progress_is_403(client, aid, user42, other):
    response = await client.get(
        PROGRESS, params={"userId": other, "achievementId": aid}, headers=user42
    )
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("other", ["7", "nobody"])
async def test_user_listing_someone_elses_progress_is_403(client, aid, user42, other):
    response = await client.get(PROGRESS_LIST, params={"userId": other}, headers=user42)
    assert_error(response, 403, "forbidden")


async def test_user_reads_its_own_user_record(client, aid, user42):
    response = await client.get(f"{USERS}/42", headers=user42)
    assert response.status_code == 200, response.text
    assert response.json()["userId"] == 42


async def test_user_deletes_itself(client, aid, user42, service):
    response = await client.delete(f"{USERS}/42", headers=user42)
    assert response.status_code == 200, response.text
    assert_error(await client.get(f"{USERS}/42", headers=service), 404, "not_found")


async def test_user_creates_itself(client, auth):
    response = await client.post(
        USERS, json={"userId": "u-3", "userName": "Bo"}, headers=auth("u-3", "user")
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("other", ["7", "nobody"])
async def test_user_reaching_another_user_is_403(client, aid, user42, service, method, other):
    response = await client.request(method, f"{USERS}/{other}", headers=user42)
    assert_error(response, 403, "forbidden")
    if other == "7":
        assert (await client.get(f"{USERS}/7", headers=service)).status_code == 200


async def test_user_creating_another_user_is_403(client, user42, service):
    response = await client.post(USERS, json={"userId": 7, "userName": "Mallory"}, headers=user42)
    assert_error(response, 403, "forbidden")
    assert_error(await client.get(f"{USERS}/7", headers=service), 404, "not_found")


# --- display: public real-time rooms only, no REST ------------------------------------------------


@pytest.mark.parametrize("endpoint", GUARDED, ids=GUARDED_IDS)
async def test_display_is_403_on_every_rest_endpoint(client, aid, display, endpoint):
    assert_error(await call(client, endpoint, display, aid), 403, "forbidden")


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if (e[0], e[1]) in PUBLIC_READS])
@pytest.mark.parametrize("who", ["anonymous", "display"])
async def test_public_reads_need_no_privilege(client, service, display, endpoint, who):
    await client.post("/api/teams", json={"teamId": "t1", "name": "Sales East"}, headers=service)
    await client.post(CONTESTS, json={"name": "Q4", "metric": "revenue"}, headers=service)
    response = await call(client, endpoint, display if who == "display" else None)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_display_may_not_reach_the_user_of_its_own_sub(client, display, service, method):
    await client.post(USERS, json={"userId": "tv-lobby"}, headers=service)
    response = await client.request(method, f"{USERS}/tv-lobby", headers=display)
    assert_error(response, 403, "forbidden")


async def test_display_may_not_read_progress_of_its_own_sub(client, aid, display):
    params = {"userId": "tv-lobby", "achievementId": aid}
    assert_error(await client.get(PROGRESS, params=params, headers=display), 403, "forbidden")
