"""Replay benchmark: re-apply 1,000,000 stored events for 10,000 users against 100 rules.

Fills a fresh PostgreSQL database with COPY (a mix of event types over three months of
occurredAt), then runs `accolade.pipeline.replay.replay` in-process and prints events/s: the
whole replay (paged reads included), the reads alone, and the in-memory core alone. Usage:

    .venv/bin/python bench/replay.py [--events 1000000] [--users 10000] [--chunk 50000]
    .venv/bin/python bench/replay.py --keep            # leave the database for a profile:
    .venv/bin/py-spy record -r 250 -f raw -o /tmp/replay.txt -- \\
        .venv/bin/python bench/replay.py --database-url URL_IT_PRINTED --only replay
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from accolade.domain.achievements import Operator, Requirement, Timeframe, TimeUnit
from accolade.pipeline.replay import ReplayRules, UserReplay, replay
from accolade.pipeline.rules import Rule
from accolade.storage import migrate
from accolade.storage.database import Database
from accolade.support.urls import parse_database_url

PG_SERVER = os.environ.get(
    "ACCOLADE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CUSTOM = ["call", "deal", "meeting", "demo", "email"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
HISTORY_DAYS = 90


def make_rules(count: int) -> list[Rule]:
    """`count` rules: a quarter timeframed (minutes, hours, days), some on the gauges, some with
    two requirements, thresholds spread so that some hold early, some late and some never."""
    rng = random.Random(12)
    metrics = [*CUSTOM, "revenue", "sales", "signups", "login", "quiz.completed"]
    units = [(10, TimeUnit.MINUTES), (1, TimeUnit.HOURS), (1, TimeUnit.DAYS), (7, TimeUnit.DAYS)]
    rules = []
    for n in range(count):
        requirements: list[Requirement] = []
        if n % 10 == 0:
            gauge = ["xp", "level", "streak", "best_streak"][n // 10 % 4]
            threshold = {"xp": 3000.0, "level": 8.0, "streak": 5.0, "best_streak": 7.0}[gauge]
            requirements.append(Requirement(gauge, Operator.GTE, threshold * (1 + n / 100)))
        else:
            metric = metrics[n % len(metrics)]
            scale = 1000.0 if metric == "revenue" else 1.0
            if n % 4 == 0:
                duration, unit = units[n // 4 % len(units)]
                threshold = 2 + rng.randint(0, 3) * (duration if unit is TimeUnit.DAYS else 1)
                requirements.append(
                    Requirement(metric, Operator.GTE, threshold * scale, Timeframe(duration, unit))
                )
            else:
                requirements.append(Requirement(metric, Operator.GTE, rng.randint(3, 40) * scale))
        if n % 7 == 3:
            requirements.append(Requirement("xp", Operator.GTE, 500.0 + 20 * n))
        rules.append(
            Rule(n + 1, f"Rule {n + 1}", "", None, "common", False, 0, tuple(requirements), ())
        )
    return rules


def event_rows(
    users: int, events: int, now: datetime, seed: int = 1
) -> list[tuple[int, str, float | None, datetime, datetime, str, str]]:
    """(user_id, type, value, occurred_at, received_at, data, result) rows, users 1..`users`."""
    rng = random.Random(seed)
    kinds = (
        ["xp"] * 25
        + ["login"] * 12
        + ["activity"] * 4
        + ["sale"] * 14
        + [m for m in CUSTOM for _ in range(7)]
        + ["quiz.completed"] * 3
        + ["problem.solved"] * 3
    )
    start = now - timedelta(days=HISTORY_DAYS)
    span_s = HISTORY_DAYS * 86400
    rows = []
    for _ in range(events):
        user = rng.randint(1, users)
        kind = rng.choice(kinds)
        # Events cluster in a user's working bursts: a random day, then minutes apart.
        at = start + timedelta(seconds=rng.random() * span_s)
        value: float | None = None
        data = "{}"
        if kind == "xp":
            value = float(rng.choice([10, 25, 50, 100, 250]))
        elif kind == "sale":
            value = float(rng.randint(100, 5000))
            if rng.random() < 0.5:
                data = json.dumps({"signups": rng.randint(1, 3)})
        elif kind in CUSTOM and rng.random() < 0.3:
            value = float(rng.randint(1, 5))
        elif kind == "quiz.completed":
            data = json.dumps({"score": rng.randint(5, 10), "maxScore": 10})
        rows.append((user, kind, value, at, now, data, "{}"))
    return rows


async def fill(url: str, users: int, events: int) -> None:
    database = Database(parse_database_url(url))
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()
    connection = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "users",
            records=[
                (n, str(n), True, f"User {n}", ZONES[n % len(ZONES)], now, now)
                for n in range(1, users + 1)
            ],
            columns=[
                "id",
                "user_key",
                "key_is_int",
                "user_name",
                "time_zone",
                "created_at",
                "updated_at",
            ],
        )
        await connection.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), $1)", users)
        rows = event_rows(users, events, now)
        made = time.perf_counter()
        await connection.copy_records_to_table(
            "events",
            records=rows,
            columns=["user_id", "type", "value", "occurred_at", "received_at", "data", "result"],
        )
        await connection.execute("ANALYZE events")
        print(
            f"filled {events:,} events for {users:,} users: rows made in "
            f"{made - started:.1f}s, COPY {time.perf_counter() - made:.1f}s",
            flush=True,
        )
    finally:
        await connection.close()


async def read_only(database: Database, chunk: int) -> tuple[int, float, list[Any]]:
    """The paged reads alone (what `replay` reads, nothing applied); keeps a sample of rows."""
    from accolade.pipeline.replay import _read_page

    started = time.perf_counter()
    count, after = 0, None
    sample: list[Any] = []
    while True:
        async with database.transaction() as session:
            page = await _read_page(session, None, after, chunk)
        count += len(page.rows)
        if len(sample) < 300_000:
            sample.extend(page.rows)
        if len(page.rows) < chunk:
            break
        last = page.rows[-1]
        after = (last[1], last[4], last[0])
    return count, time.perf_counter() - started, sample


def core_only(rows: list[Any], rules: ReplayRules) -> tuple[int, float]:
    """The in-memory replay of rows already read (in user, occurred_at, id order)."""
    started = time.perf_counter()
    state: UserReplay | None = None
    for _, user_id, kind, value, at, data in rows:
        if state is None or state.user_id != user_id:
            state = UserReplay(rules, ZONES[user_id % len(ZONES)], user_id=user_id)
        state.apply(kind, value, at, data)
    return len(rows), time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--database-url", help="an already filled database (skips the fill)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--only", choices=["all", "replay"], default="all")
    args = parser.parse_args()

    admin: asyncpg.Connection | None = None
    name = None
    url = args.database_url
    if url is None:
        admin = await asyncpg.connect(PG_SERVER)
        name = f"accolade_replay_{uuid.uuid4().hex[:8]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_SERVER.rpartition('/')[0]}/{name}"
    try:
        if args.database_url is None:
            await fill(url, args.users, args.events)
        rules = ReplayRules(make_rules(args.rules))
        timeframed = sum(any(q.timeframe for q in r.requirements) for r in rules.rules)
        print(
            f"{len(rules.rules)} rules ({timeframed} timeframed, {len(rules.windows)} windows "
            f"over {len(rules.series)} bucket series)",
            flush=True,
        )
        database = Database(parse_database_url(url))
        try:
            result = await replay(database, rules, chunk=args.chunk)
            holders = sum(len(h) for h in result.first_held.values())
            print(
                f"replay: {result.events:,} events, {len(result.users):,} users in "
                f"{result.elapsed_s:.2f}s = {result.events_per_s:,.0f} events/s "
                f"({holders:,} (user, rule) pairs held, "
                f"{sum(1 for h in result.first_held.values() if h)} rules held by someone)",
                flush=True,
            )
            if args.only == "all":
                count, read_s, sample = await read_only(database, args.chunk)
                print(
                    f"reads alone: {count:,} rows in {read_s:.2f}s = {count / read_s:,.0f} rows/s",
                    flush=True,
                )
                applied, core_s = core_only(sample, rules)
                print(
                    f"core alone: {applied:,} events in {core_s:.2f}s = "
                    f"{applied / core_s:,.0f} events/s",
                    flush=True,
                )
        finally:
            await database.dispose()
    finally:
        if admin is not None:
            if args.keep:
                print(f"kept: {url}")
            else:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
