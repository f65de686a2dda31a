"""The two leaderboard stores answer alike: the database (the truth) and the Redis copy, which
is rebuilt from the database after Redis loses its data, and which reads fall back from when
Redis is unreachable. Tests run against a real Redis (its own database number and key prefix)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from accolade.app import create_app
from accolade.config import Settings
from accolade.domain.boards import Board
from accolade.domain.periods import period_key
from accolade.leaderboard.redis import RedisLeaderboard
from accolade.leaderboard.sql import SqlLeaderboard
from accolade.pipeline.commands import EventCommand
from accolade.storage import users as users_repo
from accolade.storage.models import utcnow
from tests.conftest import TEST_SECRET, running, unavailable

# A database number of its own: FLUSHDB here touches nothing of other tests.
REDIS_URL = os.environ.get("ACCOLADE_TEST_LEADERBOARD_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
async def redis_store(app: FastAPI) -> AsyncIterator[RedisLeaderboard]:
    """The app's leaderboards kept in Redis from now on."""
    probe = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await probe.ping()
    except (OSError, TimeoutError, aioredis.RedisError) as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {exc}")
    finally:
        await probe.aclose()
    services = app.state.services
    store = RedisLeaderboard(
        REDIS_URL, services.database, key_prefix=f"test-lb-{uuid.uuid4().hex[:8]}"
    )
    services.leaderboards.store = store
    yield store
    await services.leaderboards.settled()
    keys = [key async for key in store.client.scan_iter(f"{store.key_prefix}:*")]
    if keys:
        await store.client.delete(*keys)
    await store.close()


async def record(client, service, events: list[tuple[Any, str, float]]) -> None:
    for user_id, metric, value in events:
        body = {"userId": user_id, "userName": f"U{user_id}", "type": metric, "value": value}
        response = await client.post("/api/events", json=body, headers=service)
        assert response.status_code == 201, response.text


# Ties on purpose: 3 and 1 reach 40 in that order; 5 and 2 reach 10 in that order.
EVENTS = [
    (1, "calls", 15),
    (2, "calls", 5),
    (3, "calls", 40),
    (5, "calls", 10),
    (1, "calls", 25),
    (2, "calls", 5),
    (4, "calls", 70),
    (6, "calls", 1),
    (7, "mails", 3),
]


async def answers(store, board: Board, team: int | None) -> dict[str, Any]:
    return {
        "top": await store.top(board, 10, team=team),
        "top2": await store.top(board, 2, team=team),
        "around": [
            await store.around(board, uid, limit, team=team)
            for uid in range(1, 8)
            for limit in (1, 2, 3, 4)
        ],
        "standing": [await store.standing(board, uid, team=team) for uid in range(1, 8)],
    }


async def test_redis_answers_as_the_database_does(app, client, service, redis_store):
    await record(client, service, EVENTS)
    # Reached at the very same instant: the user seen first (lower internal id) ranks higher.
    frozen = utcnow()
    app.state.services.leaderboards.clock = lambda: frozen
    await record(client, service, [(7, "calls", 10), (6, "calls", 9), (3, "calls", 0.5)])
    await client.post("/api/teams", json={"teamId": "t", "name": "T"}, headers=service)
    for member in (1, 2, 5):
        await client.put(f"/api/teams/t/members/{member}", headers=service)
    await app.state.services.leaderboards.settled()
    sql = SqlLeaderboard(app.state.services.database)
    team_id = 1  # the first team's row
    for period in ("all", "month"):
        board = Board("calls", period, period_key(period, utcnow()))
        for team in (None, team_id):
            assert await answers(redis_store, board, team) == await answers(sql, board, team)
    top = await redis_store.top(Board("calls", "all", "all"), 10)
    # Internal ids follow first sight: users 1..7 are rows 1, 2, 3, 5, 4, 6, 7.
    assert [(s.user_id, s.value) for s in top] == [
        (5, 70),
        (3, 40.5),
        (1, 40),
        (4, 10),  # user 5 reached 10 first, then user 2
        (2, 10),
        (6, 10),  # users 6 and 7 reached 10 at the same instant: the lower row first
        (7, 10),
    ]


async def test_after_flushdb_the_board_is_rebuilt_from_the_database(
    app, client, service, redis_store
):
    await record(client, service, EVENTS)
    leaderboards = app.state.services.leaderboards
    await leaderboards.settled()
    before = (await client.get("/api/leaderboards/calls")).json()
    await redis_store.client.flushdb()
    # Read after the loss: the board is rebuilt, the same as before.
    assert (await client.get("/api/leaderboards/calls")).json() == before
    # Write after the loss: the copy is rebuilt with the new row in it.
    await redis_store.client.flushdb()
    await record(client, service, [(6, "calls", 100)])
    await leaderboards.settled()
    assert await redis_store.client.exists(redis_store._keys(Board("calls", "all", "all"))[2])
    after = (await client.get("/api/leaderboards/calls", params={"limit": 3})).json()
    assert [(e["userId"], e["value"]) for e in after] == [(6, 101), (4, 70), (3, 40)]
    # rebuild() of every board gives the same answers as the database.
    await redis_store.client.flushdb()
    assert await leaderboards.rebuild() > 0
    sql = SqlLeaderboard(app.state.services.database)
    board = Board("calls", "week", period_key("week", utcnow()))
    assert await redis_store.top(board, 10) == await sql.top(board, 10)


async def test_with_redis_down_events_commit_and_reads_come_from_the_database(app, client, service):
    services = app.state.services
    services.leaderboards.store = RedisLeaderboard(
        "redis://127.0.0.1:1/0", services.database, key_prefix="down"
    )
    await record(client, service, EVENTS)
    await services.leaderboards.settled()
    answer = (await client.get("/api/leaderboards/calls", params={"around": 2, "limit": 3})).json()
    assert [(e["rank"], e["userId"]) for e in answer] == [(4, 5), (5, 2), (6, 6)]
    await services.leaderboards.store.close()


async def test_with_redis_the_event_answer_places_come_from_the_copy(
    app, client, service, redis_store
):
    sql = SqlLeaderboard(app.state.services.database)
    board = Board("calls", "all", "all")

    async def place(user_id: int) -> int | None:
        async with app.state.services.database.transaction() as session:
            user = await users_repo.get(session, user_id)
        if user is None:
            return None
        found = await sql.standing(board, user.id)
        return found.rank if found else None

    for user_id, value in [(1, 5), (2, 7), (3, 7), (4, 1), (1, 3), (4, 20), (3, 1), (2, 0.5)]:
        previous = await place(user_id)
        body = {"userId": user_id, "type": "calls", "value": value}
        answer = (await client.post("/api/events", json=body, headers=service)).json()
        await app.state.services.leaderboards.settled()
        now = await place(user_id)
        changes = [r for r in answer["ranks"] if r["metric"] == "calls"]
        expected = [] if previous == now else [(previous, now)]
        assert [(r["previousRank"], r["newRank"]) for r in changes] == expected
    # The copy answers by itself (the database is asked only when it cannot): a user moving
    # from last place to a new best, and a newcomer entering last.
    last = (await redis_store.top(board, 10))[-1]
    assert await redis_store.places(
        board, last.user_id, (last.value, utcnow()), (99.0, utcnow())
    ) == (
        4,
        1,
    )
    assert await redis_store.places(board, 999, None, (0.25, utcnow())) == (None, 5)


async def test_two_installations_sharing_a_redis_keep_their_own_boards(tmp_path):
    probe = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await probe.ping()
    except (OSError, TimeoutError, aioredis.RedisError) as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {exc}")
    apps = [
        create_app(
            Settings(
                database_url=f"sqlite:///{tmp_path / f'{name}.db'}",
                redis_url=REDIS_URL,
                jwt_secret=TEST_SECRET,
                _env_file=None,  # type: ignore[call-arg]
            )
        )
        for name in ("one", "two")
    ]
    prefixes: list[str] = []
    try:
        async with running(apps[0]) as one, running(apps[1]) as two:
            for app, value in ((one, 10), (two, 99), (one, 5), (two, 1)):
                engine = app.state.services.engine
                await engine.ingest(EventCommand(user_id=1, type="calls", value=value))
                await engine.ingest(EventCommand(user_id=2, type="calls", value=value / 2))
            answers = []
            for app in (one, two):
                leaderboards = app.state.services.leaderboards
                await leaderboards.settled()
                assert isinstance(leaderboards.store, RedisLeaderboard)
                prefixes.append(leaderboards.store.key_prefix)
                view = await leaderboards.board("calls")
                answers.append([(e["userId"], e["value"]) for e in view.entries])
            assert answers == [[(1, 15), (2, 7.5)], [(1, 100), (2, 50)]]
            assert prefixes[0] != prefixes[1] and all(p.startswith("accolade:") for p in prefixes)
            # An all-time board's keys stay; a period's go a day after the period ends.
            store = one.state.services.leaderboards.store
            assert await probe.ttl(store._keys(Board("calls", "all", "all"))[0]) == -1
            month = Board("calls", "month", period_key("month", utcnow()))
            ttl_s = await probe.ttl(store._keys(month)[0])
            assert 86_400 < ttl_s <= 32 * 86_400 + 86_400
    finally:
        for prefix in prefixes:
            keys = [key async for key in probe.scan_iter(f"{prefix}:*")]
            if keys:
                await probe.delete(*keys)
        await probe.aclose()
