"""The engine alone, in-process: no HTTP, no load generator on the wire.

Defines the same 100 achievements as `bench/ingest.py`, then applies 1,000 events over 1,000
users either as one batch (`Engine.ingest_batch`) or as single events from 50 tasks
(`Engine.ingest`, which group-commits them). Usage:

    .venv/bin/python bench/engine.py --database postgresql|sqlite --mode batch|single
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import METRICS, PG_SERVER, define_achievements

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from accolade.services.engine import EventCommand

SECRET = "bench-secret-" + "x" * 40


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--mode", choices=["batch", "single"], default="batch")
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
            f"{args.database} {args.mode}: {args.events / seconds:.0f} events/s, "
            f"{seconds * 1000 / args.events:.2f} ms an event (load {os.getloadavg()[0]:.2f})"
        )
    finally:
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
