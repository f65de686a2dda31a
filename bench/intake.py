"""The intake in-process, on the load of `../shared/bench/run_ingest.sh`: `sale` events of value
25 for random users among 10,000, 100 enabled achievements on `revenue`, on a fresh PostgreSQL
database. No HTTP: what it prints is the engine's own cost (events/s and the Python process's CPU
per event), the figure to compare between commits on a noisy machine. Usage:

    .venv/bin/python bench/intake.py [--events 3000] [--mode single|batch] [--no-listeners]
        [--statements]

`single` sends from 50 tasks (`Engine.ingest`, group commit), `batch` 1,000 events a call
(`Engine.ingest_batch`). `--no-listeners` leaves the leaderboards and contests out (the engine's
share); `--statements` lists the statements run, with their count and time (wall clock, other
tasks' work included).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine as SAEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import PG_SERVER

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from accolade.pipeline.commands import EventCommand

USERS = 10_000
CLIENTS = 50


def count_statements() -> tuple[collections.Counter[str], collections.Counter[str]]:
    counts: collections.Counter[str] = collections.Counter()
    seconds: collections.Counter[str] = collections.Counter()

    @event.listens_for(SAEngine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        counts[statement[:100]] += 1
        conn.info["bench.started"] = time.perf_counter()

    @event.listens_for(SAEngine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seconds[statement[:100]] += time.perf_counter() - conn.info.pop("bench.started")

    return counts, seconds


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace) -> None:
    name = f"bench_intake_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_SERVER.replace("postgresql+asyncpg", "postgresql"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_SERVER.rsplit("/", 1)[0]
    settings = Settings(database_url=f"{base}/{name}", jwt_secret="b" * 48, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        services = app.state.services
        if not args.listeners:
            services.engine.listeners.clear()
        token = issue_token(services.jwt_secret, "bench", Role.ADMIN, 3600)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for i in range(1, 101):
                answer = await client.post(
                    "/api/achievements",
                    headers={"Authorization": f"Bearer {token}"},
                    json={
                        "key": f"rev-{i}",
                        "name": f"Revenue {i}",
                        "type": "MILESTONE",
                        "requirements": [
                            {"metric": "revenue", "operator": "gte", "threshold": i * 1000}
                        ],
                    },
                )
                assert answer.status_code == 201, answer.text
        rng = random.Random(1)

        def sale(key: str) -> EventCommand:
            user = rng.randint(1, USERS)
            return EventCommand(user, "sale", 25, user_name=f"Rep {user}", idempotency_key=key)

        await asyncio.gather(*(services.engine.ingest(sale(f"w{k}")) for k in range(200)))
        counts, seconds = count_statements() if args.statements else (None, None)
        cpu, started = cpu_s(), time.perf_counter()
        if args.mode == "batch":
            for first in range(0, args.events, 1000):
                last = min(args.events, first + 1000)
                await services.engine.ingest_batch([sale(f"b{k}") for k in range(first, last)])
        else:

            async def client_task(offset: int) -> None:
                for k in range(offset, args.events, CLIENTS):
                    await services.engine.ingest(sale(f"s{k}"))

            await asyncio.gather(*(client_task(c) for c in range(CLIENTS)))
        elapsed, cpu = time.perf_counter() - started, cpu_s() - cpu
        listeners = "with" if args.listeners else "without"
        print(
            f"{args.mode}, {listeners} listeners: {args.events / elapsed:,.0f} events/s, "
            f"Python CPU {1000 * cpu / args.events:.2f} ms an event"
        )
        if counts is not None and seconds is not None:
            print(f"statements: {sum(counts.values())}, {sum(seconds.values()):.2f} s")
            for statement, spent in seconds.most_common(15):
                print(f"  {spent:6.2f} s {counts[statement]:6} x {' '.join(statement.split())}")
    finally:
        await lifespan.__aexit__(None, None, None)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--mode", choices=["single", "batch"], default="single")
    parser.add_argument("--no-listeners", dest="listeners", action="store_false")
    parser.add_argument("--statements", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
