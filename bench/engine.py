"""The engine alone, in-process: no HTTP, no load generator on the wire.

Defines the same 100 achievements as `bench/ingest.py`, then applies 1,000 events over 1,000
users either as one batch (`Engine.ingest_batch`) or as single events from 50 tasks
(`Engine.ingest`, which group-commits them). Usage:

    .venv/bin/python bench/engine.py --database postgresql|sqlite --mode batch|single \
        [--board-users 1000000]

`--board-users N` (PostgreSQL) first loads N more users holding a value on each moved metric's
all-time board (COPY, values 0..N/4 with ties, bucket counts recounted), so the boards the
events move hold N + 1,000 users: the bench's users sit at the bottom, the deepest places.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import METRICS, PG_SERVER, define_achievements

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.boards import Board
from accolade.domain.identity import Role
from accolade.pipeline.commands import EventCommand
from accolade.storage import leaderboards as rows
from accolade.storage.database import Database

SECRET = "bench-secret-" + "x" * 40


async def preload(url: str, database: Database, users: int) -> None:
    """`users` users with a value on each metric's all-time board (ids after the bench's)."""
    connection = await asyncpg.connect(url)
    started = time.perf_counter()
    try:
        rng = random.Random(7)
        now = datetime.now(UTC)
        first = 1_000_000_000  # far above the ids the engine gives the bench's own users
        ids = range(first, first + users)
        await connection.copy_records_to_table(
            "users",
            records=((i, f"board-{i}", False, f"Board {i}", now, now) for i in ids),
            columns=["id", "user_key", "key_is_int", "user_name", "created_at", "updated_at"],
        )
        for metric in METRICS:
            await connection.copy_records_to_table(
                "leaderboard_entries",
                records=(
                    (
                        metric,
                        "all",
                        "all",
                        i,
                        float(rng.randint(0, users // 4)),
                        now - timedelta(seconds=rng.randint(0, 10_000_000)),
                    )
                    for i in ids
                ),
                columns=["metric", "period", "period_key", "user_id", "value", "reached_at"],
            )
    finally:
        await connection.close()
    async with database.transaction() as session:
        for metric in METRICS:
            await rows.rebuild_buckets(session, Board(metric, "all", "all"))
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    print(
        f"preloaded {users:,} users on {len(METRICS)} boards in "
        f"{time.perf_counter() - started:.0f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--mode", choices=["batch", "single"], default="batch")
    parser.add_argument("--board-users", type=int, default=0)
    args = parser.parse_args()
    admin = None
    name = f"accolade_bench_{uuid.uuid4().hex[:8]}"
    if args.database == "postgresql":
        admin = await asyncpg.connect(PG_SERVER)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    settings = Settings(
        database_url=url,
        jwt_secret=SECRET,
        anti_cheat_max_events_per_s=100_000,
        log_level="warning",
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            if args.board_users:
                await preload(url, app.state.services.database, args.board_users)
            headers = {"Authorization": f"Bearer {issue_token(SECRET, 'b', Role.SERVICE, 3600)}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers
            ) as client:
                await define_achievements(client)
            engine = app.state.services.engine
            commands = [
                EventCommand(user_id=n % 1000, type=METRICS[n % len(METRICS)], value=1)
                for n in range(args.events)
            ]
            await engine.ingest_batch(commands[:200])  # warm-up
            started = time.perf_counter()
            if args.mode == "batch":
                await engine.ingest_batch(commands)
            else:
                gate = asyncio.Semaphore(50)

                async def one(command: EventCommand) -> None:
                    async with gate:
                        await engine.ingest(command)

                await asyncio.gather(*(one(c) for c in commands))
            seconds = time.perf_counter() - started
        print(
            f"{args.database} {args.mode} ({args.board_users + 1000:,} users a board): "
            f"{args.events / seconds:.0f} events/s, "
            f"{seconds * 1000 / args.events:.2f} ms an event (load {os.getloadavg()[0]:.2f})"
        )
    finally:
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
