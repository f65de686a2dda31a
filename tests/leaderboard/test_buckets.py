"""The bucket index places users exactly: the value keys keep the order of the values, and after
random moves (ties, negative values, jumps over many buckets, batches moving several users of
one board, a user's deletion) every place an event reports, every place read and every bucket
count equals what a sort of the board's rows gives."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import select, text

from accolade.domain import buckets
from accolade.domain.boards import Board, window
from accolade.leaderboard.sql import SqlLeaderboard
from accolade.pipeline.commands import EventCommand
from accolade.storage import leaderboards as rows
from accolade.storage import migrate
from accolade.storage.database import Database
from accolade.storage.models import LeaderboardBucket, LeaderboardEntry, User
from accolade.support.urls import parse_database_url
from tests.conftest import fresh_postgres_database

METRIC = "score"
BOARD = Board(METRIC, "all", "all")

Position = tuple[float, datetime]


def _floats() -> list[float]:
    rng = random.Random(3)
    special = [0.0, -0.0, 5e-324, -5e-324, 1.0, -1.0, 1.5, 2.0, -2.0, 1e308, -1e308, 2.5e-310]
    special += [math.nextafter(1.0, 2.0), math.nextafter(1.0, 0.0), math.inf, -math.inf]
    drawn = [rng.uniform(-1e6, 1e6) for _ in range(2000)]
    drawn += [struct.unpack(">d", rng.randbytes(8))[0] for _ in range(2000)]
    return special + [v for v in drawn if not math.isnan(v)]


def test_value_keys_keep_the_order_of_the_values():
    values = sorted(_floats())
    keys = [buckets.value_key(v) for v in values]
    for i in range(len(values) - 1):
        a, b = values[i], values[i + 1]
        # Equal values (0.0 and -0.0 too) share one key.
        assert (keys[i] < keys[i + 1]) if a < b else (keys[i] == keys[i + 1]), (a, b)
    assert buckets.value_key(-0.0) == buckets.value_key(0.0) == 0
    assert all(buckets.key_value(buckets.value_key(v)) == v for v in values)


def test_a_fine_bucket_holds_the_values_below_its_upper_bound():
    for value in _floats():
        if math.isinf(value):
            continue
        fine = buckets.fine(value)
        upper = buckets.fine_upper(fine)
        assert value < upper
        assert upper == math.inf or buckets.fine(upper) == fine + 1
        assert buckets.coarse_of_fine(fine) == buckets.coarse(value)
        assert fine < buckets.fine_end(buckets.coarse(value)) <= fine + (1 << buckets.FINE_BITS)


def test_the_window_around_a_user_holds_at_most_limit_places():
    assert window(10, 10, 5) == (2, 2)
    assert window(10, 10, 4) == (1, 2)
    assert window(0, 10, 5) == (0, 4)
    assert window(10, 1, 5) == (3, 1)
    assert window(1, 1, 5) == (1, 1)
    assert window(10, 10, 1) == (0, 0)


# --- against a sort of the board ----------------------------------------------------------------


def _rank(board: dict[int, Position], user: int) -> int:
    order = sorted(board, key=lambda u: (-board[u][0], board[u][1], u))
    return order.index(user) + 1


async def _internal_ids(app: FastAPI) -> dict[str, int]:
    async with app.state.services.database.transaction() as session:
        found = await session.execute(select(User.user_key, User.id))
        return {key: user_id for key, user_id in found.all()}


async def _assert_board_exact(app: FastAPI, expected: dict[int, Position]) -> None:
    """The rows, every place read, and every board's bucket counts agree with a sort."""
    database = app.state.services.database
    async with database.transaction() as session:
        found = await session.execute(
            select(LeaderboardEntry.user_id, LeaderboardEntry.value).where(rows.on_board(BOARD))
        )
        assert dict(found.all()) == {u: p[0] for u, p in expected.items()}
        for board in await rows.boards(session):
            values = (
                await session.scalars(select(LeaderboardEntry.value).where(rows.on_board(board)))
            ).all()
            counted = await session.execute(
                select(
                    LeaderboardBucket.level, LeaderboardBucket.bucket, LeaderboardBucket.n
                ).where(
                    LeaderboardBucket.metric == board.metric,
                    LeaderboardBucket.period == board.period,
                    LeaderboardBucket.period_key == board.period_key,
                    LeaderboardBucket.n != 0,
                )
            )
            kept = {(level, bucket): n for level, bucket, n in counted.all()}
            assert kept == dict(buckets.count(values)), board
    store = SqlLeaderboard(database)
    for user in expected:
        standing = await store.standing(BOARD, user)
        assert standing is not None and standing.rank == _rank(expected, user)
    order = sorted(expected, key=lambda u: (-expected[u][0], expected[u][1], u))
    assert [s.user_id for s in await store.top(BOARD, len(order))] == order
    for user in list(expected)[:4]:
        around = await store.around(BOARD, user, 5)
        mine = order.index(user)
        up, down = window(mine, len(order) - 1 - mine, 5)
        assert [s.user_id for s in around] == order[mine - up : mine + down + 1]


def _steps(rng: random.Random) -> list[list[tuple[int, float]]]:
    """Batches of (user, value): singles and batches, ties, negatives, one long jumper."""
    steps: list[list[tuple[int, float]]] = []
    for n in range(40):
        size = 1 if n % 3 else rng.randint(2, 8)
        steps.append(
            [
                (rng.randint(1, 14), rng.choice([1, 2, 3, 0.5, -1, -4, 10, 0.25, -0.5]))
                for _ in range(size)
            ]
        )
    # A user jumps over many buckets, up and back down; a batch moves one user twice.
    steps += [[(15, -40)], [(15, 1_000_000.0)], [(15, -999_990.0)], [(3, 1e9), (3, -1e9)]]
    steps.append([(u, 2.0) for u in range(1, 16)])  # everyone on one board in one batch
    return steps


async def test_event_places_match_a_sort_of_the_board(app):
    services = app.state.services
    rng = random.Random(17)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    expected: dict[int, Position] = {}
    for n, step in enumerate(_steps(rng)):
        # Some steps share an instant with the one before: ties broken by the user id.
        now = start + timedelta(seconds=n - n % 2)
        services.leaderboards.clock = lambda now=now: now
        commands = [EventCommand(user_id=u, type=METRIC, value=v) for u, v in step]
        if len(commands) == 1:
            results = [await services.engine.ingest(commands[0])]
        else:
            results = await services.engine.ingest_batch(commands)
        ids = await _internal_ids(app)
        for (user, value), result in zip(step, results, strict=True):
            uid = ids[str(user)]
            previous = _rank(expected, uid) if uid in expected else None
            old = expected.get(uid)
            expected[uid] = (value, now) if old is None else (old[0] + value, max(old[1], now))
            new = _rank(expected, uid)
            reported = [
                (r["previousRank"], r["newRank"])
                for r in result.body["ranks"]
                if r.get("metric") == METRIC and "newRank" in r
            ]
            assert reported == ([] if previous == new else [(previous, new)]), (n, user, step)
    await _assert_board_exact(app, expected)


async def test_deleting_a_user_takes_its_rows_off_the_counts(app, client, admin):
    services = app.state.services
    for user, value in [(1, 5), (2, 300), (3, -7), (4, 5), (2, 1), (5, 0.5)]:
        await services.engine.ingest(EventCommand(user_id=user, type=METRIC, value=value))
    ids = await _internal_ids(app)
    deleted = await client.delete("/api/users/2", headers=admin)
    assert deleted.status_code in (200, 204), deleted.text
    async with services.database.transaction() as session:
        found = await session.execute(
            select(
                LeaderboardEntry.user_id, LeaderboardEntry.value, LeaderboardEntry.reached_at
            ).where(rows.on_board(BOARD))
        )
        remaining: dict[int, Any] = {u: (v, at) for u, v, at in found.all()}
    assert ids["2"] not in remaining and len(remaining) == 4
    await _assert_board_exact(app, remaining)
    # The next event of another user is placed among those left.
    answer = await services.engine.ingest(EventCommand(user_id=3, type=METRIC, value=8))
    ranks = [r for r in answer.body["ranks"] if r.get("metric") == METRIC]
    assert [(r["previousRank"], r["newRank"]) for r in ranks] == [(4, 3)]


async def test_rebuild_buckets_recounts_a_board_from_its_rows(app):
    services = app.state.services
    for user, value in [(1, 5), (2, 300), (3, -7)]:
        await services.engine.ingest(EventCommand(user_id=user, type=METRIC, value=value))
    async with services.database.transaction() as session:
        await session.execute(
            LeaderboardBucket.__table__.update().values(n=LeaderboardBucket.n + 5)
        )
    async with services.database.transaction() as session:
        assert await rows.rebuild_buckets(session, BOARD) == 3
    store = SqlLeaderboard(services.database)
    ids = await _internal_ids(app)
    assert [(await store.standing(BOARD, ids[u])).rank for u in "123"] == [2, 1, 3]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_the_migration_counts_the_boards_already_there(tmp_path, dialect):
    async with contextlib.AsyncExitStack() as stack:
        if dialect == "postgresql":
            url = await stack.enter_async_context(fresh_postgres_database("accolade_migrate"))
        else:
            url = f"sqlite:///{tmp_path / 'old.db'}"
        await _migrate_old_boards(url)


async def _migrate_old_boards(url: str) -> None:
    database = Database(parse_database_url(url))
    at = datetime(2026, 11, 1, tzinfo=UTC)
    values = [5.0, 5.0, -3.0, 1e6, 0.25]
    try:
        async with database.engine.connect() as conn:
            await conn.run_sync(lambda sync: command.upgrade(migrate._config(sync), "0007"))
            await conn.commit()
        async with database.transaction() as session:
            for n, value in enumerate(values, start=1):
                await session.execute(
                    text(
                        "INSERT INTO users (id, user_key, key_is_int, created_at, updated_at) "
                        "VALUES (:n, :key, false, :at, :at)"
                    ),
                    {"n": n, "key": f"u{n}", "at": at},
                )
                await session.execute(
                    LeaderboardEntry.__table__.insert().values(
                        metric=METRIC, period="all", period_key="all", user_id=n, value=value
                    ),
                    {"reached_at": at},  # typed as the app writes it (ties compare it)
                )
        await migrate.upgrade(database)
        async with database.transaction() as session:
            found = await session.execute(
                select(LeaderboardBucket.level, LeaderboardBucket.bucket, LeaderboardBucket.n)
            )
            assert {(lv, b): n for lv, b, n in found.all()} == dict(buckets.count(values))
        ranks = [(await SqlLeaderboard(database).standing(BOARD, n)) for n in range(1, 6)]
        assert [s.rank for s in ranks if s is not None] == [2, 3, 5, 1, 4]
    finally:
        await database.dispose()


async def test_concurrent_transactions_keep_the_counts_exact(app):
    services = app.state.services
    rng = random.Random(23)

    async def batch(seed: int) -> None:
        local = random.Random(seed)
        commands = [
            EventCommand(user_id=local.randint(1, 12), type=METRIC, value=local.choice([1, -2, 50]))
            for _ in range(6)
        ]
        await services.engine.ingest_batch(commands)

    for _ in range(3):
        await asyncio.gather(*(batch(rng.randint(0, 10**6)) for _ in range(4)))
    async with services.database.transaction() as session:
        found = await session.execute(
            select(
                LeaderboardEntry.user_id, LeaderboardEntry.value, LeaderboardEntry.reached_at
            ).where(rows.on_board(BOARD))
        )
        board: dict[int, Any] = {u: (v, at) for u, v, at in found.all()}
    await _assert_board_exact(app, board)
