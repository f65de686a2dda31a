"""Ingestion benchmark: single events from 50 concurrent clients, and batches of 1,000.

Starts `accolade serve` on a fresh database (SQLite file or a new PostgreSQL database), defines
100 enabled achievements (so each event is evaluated against the rules that read its metric),
then measures. Usage:

    .venv/bin/python bench/ingest.py --database sqlite|postgresql [--events 5000] [--batches 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get(
    "ACCOLADE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-" + "x" * 40
METRICS = ["deal", "call", "meeting", "demo", "email"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from accolade.auth import issue_token
    from accolade.domain.identity import Role

    return issue_token(SECRET, "bench", Role.SERVICE, 3600)


async def define_achievements(client: httpx.AsyncClient) -> None:
    for n in range(100):
        metric = METRICS[n % len(METRICS)]
        requirement: dict[str, object] = {
            "metric": metric,
            "operator": "gte",
            "threshold": 10 + n * 7,
        }
        if n % 4 == 0:
            requirement["timeframe"] = {"duration": 1, "unit": "days"}
        response = await client.post(
            "/api/achievements",
            json={
                "name": f"Bench {n}",
                "requirements": [requirement],
                "rewards": [{"type": "XP", "value": 10}],
            },
        )
        response.raise_for_status()


def event(n: int) -> dict[str, object]:
    return {"userId": n % 1000, "type": METRICS[n % len(METRICS)], "value": 1}


async def singles(client: httpx.AsyncClient, total: int, concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for n in counter:
            started = time.perf_counter()
            response = await client.post("/api/events", json=event(n))
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 201:
                raise RuntimeError(response.text)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "events": total,
        "concurrency": concurrency,
        "events_per_s": round(total / seconds),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(0.99 * len(latencies)) - 1], 1),
    }


async def batches(client: httpx.AsyncClient, count: int, size: int) -> dict[str, object]:
    started = time.perf_counter()
    for b in range(count):
        response = await client.post(
            "/api/events/batch",
            json={"events": [event(b * size + n) for n in range(size)]},
            timeout=120,
        )
        if response.status_code != 201:
            raise RuntimeError(response.text)
    seconds = time.perf_counter() - started
    return {"batches": count, "batch_size": size, "events_per_s": round(count * size / seconds)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp())
    admin = None
    if args.database == "sqlite":
        url = f"sqlite:///{work / 'bench.db'}"
    else:
        name = f"accolade_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_SERVER)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    port = free_port()
    env = {
        **os.environ,
        "ACCOLADE_JWT_SECRET": SECRET,
        "ACCOLADE_LOG_LEVEL": "warning",
        "ACCOLADE_ANTI_CHEAT_MAX_EVENTS_PER_S": "100000",
    }
    log_path = work / "serve.log"
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/accolade"), "serve", "--port", str(port), "--database-url", url],
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        headers = {"Authorization": f"Bearer {token()}"}
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=30
        ) as client:
            for _ in range(100):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await define_achievements(client)
            await singles(client, 500, args.concurrency)  # warm-up
            single = await singles(client, args.events, args.concurrency)
            batch = await batches(client, args.batches, 1000)
        print(
            json.dumps(
                {"database": args.database, "achievements": 100, "single": single, "batch": batch}
            )
        )
    except Exception:
        print(f"the server's log ({log_path}):", file=sys.stderr)
        print(log_path.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=20)
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
