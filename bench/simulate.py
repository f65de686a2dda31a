"""Simulate benchmark: "what if" for a proposed achievement over 1,000,000 stored events.

Seeds a fresh database with bench/replay.py's own seeding (its `fill` on PostgreSQL, its
`event_rows` written with sqlite3 on SQLite: the same 10,000 users and event mix), then calls
`SimulateService.simulate` (what `POST /api/achievements/simulate` calls) for two proposals: a
plain total ("10 deals") and a timeframed one ("5 deals within a day"). Target: each answered
within 10 s. Usage:

    .venv/bin/python bench/simulate.py [--backend both|postgresql|sqlite] [--events 1000000]
    .venv/bin/python bench/simulate.py --backend sqlite --keep   # keep the database to profile:
    .venv/bin/py-spy record -r 200 -f raw -o /tmp/simulate.txt -- \\
        .venv/bin/python bench/simulate.py --database-url URL_IT_PRINTED
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import replay as replay_bench  # bench/replay.py: its seeding, not a copy

from accolade.services.simulate import SimulateService
from accolade.storage import migrate
from accolade.storage.database import Database
from accolade.support.urls import parse_database_url

TARGET_S = 10.0
PROPOSALS: dict[str, dict[str, Any]] = {
    "10 deals": {
        "name": "Ten deals",
        "requirements": [{"metric": "deal", "operator": "gte", "threshold": 10}],
    },
    "5 deals within a day": {
        "name": "Busy day",
        "requirements": [
            {
                "metric": "deal",
                "operator": "gte",
                "threshold": 5,
                "timeframe": {"duration": 1, "unit": "days"},
            }
        ],
    },
    # A gauge: XP moves with many event types, so this one replays every stored event.
    "level 10": {
        "name": "Veteran",
        "requirements": [{"metric": "level", "operator": "gte", "threshold": 10}],
    },
}


def _sqlite_time(at: datetime) -> str:
    # SQLAlchemy's SQLite DateTime text, always with microseconds (keyset order is text order).
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


async def fill_sqlite(url: str, path: Path, users: int, events: int) -> None:
    database = Database(parse_database_url(url))
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = replay_bench.event_rows(users, events, now)
    made = time.perf_counter()
    connection = sqlite3.connect(path)
    try:
        stamp = _sqlite_time(now)
        zones = replay_bench.ZONES
        connection.executemany(
            "INSERT INTO users (id, user_key, key_is_int, user_name, time_zone, first_event_at, "
            "created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
            [
                (n, str(n), f"User {n}", zones[n % len(zones)], stamp, stamp, stamp)
                for n in range(1, users + 1)
            ],
        )
        connection.executemany(
            "INSERT INTO events (user_id, type, value, occurred_at, received_at, data, result) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (user, kind, value, _sqlite_time(at), stamp, data, result)
                for user, kind, value, at, _, data, result in rows
            ),
        )
        connection.execute(
            "INSERT INTO tallies (name, value) VALUES ('active_users', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (users,),
        )
        connection.commit()
        connection.execute("ANALYZE")
    finally:
        connection.close()
    print(
        f"filled {events:,} events for {users:,} users: rows made in {made - started:.1f}s, "
        f"inserted in {time.perf_counter() - made:.1f}s",
        flush=True,
    )


async def fill_postgresql(url: str, users: int, events: int) -> None:
    await replay_bench.fill(url, users, events)
    connection = await asyncpg.connect(url)
    try:  # every seeded user has events: rarity's denominator
        await connection.execute(
            "INSERT INTO tallies (name, value) VALUES ('active_users', $1) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            users,
        )
    finally:
        await connection.close()


async def run(url: str) -> bool:
    database = Database(parse_database_url(url))
    service = SimulateService(database)
    within = True
    try:
        for label, proposal in PROPOSALS.items():
            started = time.perf_counter()
            found = await service.simulate(proposal)
            elapsed = time.perf_counter() - started
            within &= elapsed <= TARGET_S
            first = found.first_unlocks[0].at.isoformat() if found.first_unlocks else "-"
            print(
                f"{database.dialect:10} {label:22} {elapsed:6.2f}s "
                f"({found.events:,} events, {found.events / elapsed:,.0f} events/s): "
                f"qualifying {found.qualifying:,} of {found.active_users:,} "
                f"({found.rarity_percent}%), {len(found.per_day)} days with unlocks, "
                f"first at {first}",
                flush=True,
            )
    finally:
        await database.dispose()
    return within


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--database-url", help="an already filled database (skips the fill)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()

    if args.database_url is not None:
        sys.exit(0 if await run(args.database_url) else 1)
    within = True
    if args.backend in ("both", "postgresql"):
        admin = await asyncpg.connect(replay_bench.PG_SERVER)
        name = f"accolade_simulate_{uuid.uuid4().hex[:8]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{replay_bench.PG_SERVER.rpartition('/')[0]}/{name}"
        try:
            await fill_postgresql(url, args.users, args.events)
            within &= await run(url)
        finally:
            if args.keep:
                print(f"kept: {url}")
            else:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    if args.backend in ("both", "sqlite"):
        folder = Path(tempfile.mkdtemp(prefix="accolade-simulate-"))
        path = folder / "accolade.db"
        url = f"sqlite:///{path}"
        try:
            await fill_sqlite(url, path, args.users, args.events)
            within &= await run(url)
        finally:
            if args.keep:
                print(f"kept: {url}")
            else:
                shutil.rmtree(folder)
    print(f"within {TARGET_S:.0f} s: {'yes' if within else 'NO'}")
    sys.exit(0 if within else 1)


if __name__ == "__main__":
    asyncio.run(main())
