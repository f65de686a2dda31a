"""Leaderboard read latency with 1,000,000 users: top 10 and "around me" on PostgreSQL and Redis.

Makes a fresh PostgreSQL database at the head migration, loads N users and one board of N rows
(`xp`, all time) with COPY (values with many ties, so the tie order is exercised), counts its
rows per bucket (`rebuild_buckets`: the index places are summed from), then copies the board to
Redis with the store's own `rebuild()` (pipelined), and times the stores' reads as
the API calls them, one at a time. Usage:

    .venv/bin/python bench/leaderboard.py [--users 1000000] [--queries 2000] [--store both]

Redis: ACCOLADE_BENCH_REDIS_URL (default redis://127.0.0.1:6379/14; its keys are deleted after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from accolade.domain.boards import Board  # noqa: E402
from accolade.leaderboard.redis import RedisLeaderboard  # noqa: E402
from accolade.leaderboard.sql import SqlLeaderboard  # noqa: E402
from accolade.storage import leaderboards as rows  # noqa: E402
from accolade.storage import migrate  # noqa: E402
from accolade.storage.database import Database  # noqa: E402
from accolade.support.urls import parse_database_url  # noqa: E402

PG_SERVER = os.environ.get(
    "ACCOLADE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("ACCOLADE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BOARD = Board("xp", "all", "all")
RADIUS = 5
AROUND_LIMIT = 2 * RADIUS + 1  # the user and 5 places either side


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


async def timed(n: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(min(50, n)):  # warm caches and connections
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def load(dsn: str, users: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        rng = random.Random(7)
        now = datetime.now(UTC)
        start = time.perf_counter()
        await connection.copy_records_to_table(
            "users",
            records=((i, f"u{i}", False, f"User {i}", now, now) for i in range(1, users + 1)),
            columns=["id", "user_key", "key_is_int", "user_name", "created_at", "updated_at"],
        )
        loaded_users = time.perf_counter() - start
        start = time.perf_counter()
        await connection.copy_records_to_table(
            "leaderboard_entries",
            records=(
                (
                    "xp",
                    "all",
                    "all",
                    i,
                    float(rng.randint(0, users // 4)),  # about 4 users per value: ties
                    now - timedelta(seconds=rng.randint(0, 10_000_000)),
                )
                for i in range(1, users + 1)
            ),
            columns=["metric", "period", "period_key", "user_id", "value", "reached_at"],
        )
        loaded_rows = time.perf_counter() - start
        start = time.perf_counter()
        await connection.execute("VACUUM ANALYZE users")
        await connection.execute("VACUUM ANALYZE leaderboard_entries")
        vacuumed = time.perf_counter() - start
        print(
            f"loaded {users:,} users in {loaded_users:.1f} s, their rows (COPY into the indexed "
            f"table) in {loaded_rows:.1f} s, VACUUM ANALYZE {vacuumed:.1f} s"
        )
    finally:
        await connection.close()


async def index(database: Database) -> None:
    """Count the loaded board's rows per bucket, as the listener keeps them."""
    start = time.perf_counter()
    async with database.transaction() as session:
        counted = await rows.rebuild_buckets(session, BOARD)
    print(f"bucket counts of {counted:,} rows in {time.perf_counter() - start:.1f} s")


async def check_exact(database: Database, users: int, probes: int = 20) -> None:
    """The bucket places equal the places counted row by row (the old way), for a few users."""
    store, rng = SqlLeaderboard(database), random.Random(5)
    for _ in range(probes):
        user_id = rng.randint(1, users)
        found = await store.standing(BOARD, user_id)
        assert found is not None
        async with database.transaction() as session:
            value, at = (
                await session.execute(
                    select(rows.E.value, rows.E.reached_at).where(
                        rows.on_board(BOARD), rows.E.user_id == user_id
                    )
                )
            ).one()
            ahead = await session.scalar(rows.count_ahead(BOARD, value, at, user_id))
        assert found.rank == int(ahead or 0) + 1, (user_id, found.rank, ahead)
    print(f"bucket places equal the rows counted one by one ({probes} users)")


async def measure(name: str, store: Any, users: int, queries: int) -> None:
    rng = random.Random(11)
    top = await timed(queries, lambda: store.top(BOARD, 10))
    around = await timed(queries, lambda: store.around(BOARD, rng.randint(1, users), AROUND_LIMIT))
    standing = await timed(queries, lambda: store.standing(BOARD, rng.randint(1, users)))
    print(f"{name:10} top 10           {ms(top)}")
    print(f"{name:10} around me (+-{RADIUS})  {ms(around)}")
    print(f"{name:10} rank of a user   {ms(standing)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--store", choices=["both", "postgresql", "redis"], default="both")
    args = parser.parse_args()

    admin = await asyncpg.connect(PG_SERVER)
    name = f"accolade_bench_lb_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_SERVER.rpartition("/")
    url = f"{base}/{name}"
    database = Database(parse_database_url(url))
    redis_store: RedisLeaderboard | None = None
    try:
        await migrate.upgrade(database)
        await load(url, args.users)
        await index(database)
        await check_exact(database, args.users)
        if args.store in ("both", "postgresql"):
            await measure("PostgreSQL", SqlLeaderboard(database), args.users, args.queries)
        if args.store in ("both", "redis"):
            redis_store = RedisLeaderboard(REDIS_URL, database, key_prefix=f"bench-{name}")
            start = time.perf_counter()
            copied = await redis_store.rebuild(BOARD)
            print(f"Redis copy of {copied:,} rows (rebuild) in {time.perf_counter() - start:.1f} s")
            await measure("Redis", redis_store, args.users, args.queries)
            sql = SqlLeaderboard(database)
            assert await redis_store.top(BOARD, 10) == await sql.top(BOARD, 10)
            probe = random.Random(3).randint(1, args.users)
            assert await redis_store.around(BOARD, probe, AROUND_LIMIT) == await sql.around(
                BOARD, probe, AROUND_LIMIT
            )
            print("Redis and PostgreSQL give the same top 10 and the same neighbours")
    finally:
        if redis_store is not None:
            keys = [k async for k in redis_store.client.scan_iter(f"bench-{name}:*")]
            if keys:
                await redis_store.client.unlink(*keys)  # DEL of a 1M set outlasts the timeout
            await redis_store.close()
        await database.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
