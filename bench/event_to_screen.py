"""Event-to-screen latency: from each POST /api/events to its celebration on 1,000 TV screens.

Starts `accolade serve` on a fresh PostgreSQL database (or SQLite file), defines one achievement
(`e2s >= 1`), connects N official socket.io-client v4 clients (bench/event_to_screen.js) to
`/leaderboard` joined to `tv-display` over websocket, then posts events open-loop at a fixed rate:
each event is a fresh user's first `e2s`, so it unlocks the badge once and produces exactly one
`🏅 Screen Badge Earned!` celebration. Each frame's latency is measured at the client, from the
moment the sender started its POST (the send time travels in the user id) to the frame's arrival.
Everything runs on loopback and is bounded: `--seconds` of sending, `--drain-s` of waiting.

    .venv/bin/python bench/event_to_screen.py [--rate 1000] [--seconds 10] [--clients 1000]
        [--database postgresql|sqlite] [--connections 256] [--drain-s 15]

Prints the figures and one JSON line: latency p50/p90/p99 over every (client, frame), the same
for the first and the last client to see each event, the achieved rate, POST latency, and lost
celebrations (frames expected at the clients and never seen).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from accolade.auth import issue_token  # noqa: E402
from accolade.domain.identity import Role  # noqa: E402

PG_SERVER = os.environ.get(
    "ACCOLADE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-" + "x" * 40
BADGE = "Screen"
TITLE = f"🏅 {BADGE} Badge Earned!"
METRIC = "e2s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


class Screens:
    """The Node process holding the clients; reads its JSON lines as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.frames = 0
        self.expected = sys.maxsize
        self.all_seen = asyncio.Event()
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.summary: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = json.loads(raw)
            if "error" in line:
                for future in (self.ready, self.summary):
                    if not future.done():
                        future.set_exception(RuntimeError(f"screens: {line['error']}"))
            elif line.get("ready"):
                self.ready.set_result(line)
            elif "progress" in line:
                self.frames = int(line["progress"])
                if self.frames >= self.expected:
                    self.all_seen.set()
            elif line.get("summary"):
                self.summary.set_result(line)
        for future in (self.ready, self.summary):
            if not future.done():
                future.set_exception(RuntimeError("the screens process ended"))

    def expect(self, frames: int) -> None:
        self.expected = frames
        if self.frames >= frames:
            self.all_seen.set()

    async def stop(self, timeout_s: float = 30) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"stop\n")
        await self.process.stdin.drain()
        return await asyncio.wait_for(self.summary, timeout_s)


async def wait_healthy(session: aiohttp.ClientSession, base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/health") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not answer /health within {timeout_s}s")


async def post_event(session: aiohttp.ClientSession, base: str, user_id: str) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.post(
        f"{base}/api/events", json={"userId": user_id, "type": METRIC, "value": 1}
    ) as response:
        await response.read()
        return response.status, (time.perf_counter() - started) * 1000


async def send_open_loop(
    session: aiohttp.ClientSession, base: str, rate: float, seconds: float
) -> tuple[list[str], list[tuple[int, float]], float, float]:
    """Post `rate * seconds` events on a fixed schedule, never waiting for answers; returns the
    user ids posted, (status, POST ms) of each, the sending window and the time to the last
    answer (both in seconds from the first send)."""
    total = int(rate * seconds)
    posted: list[str] = []
    tasks: list[asyncio.Task[tuple[int, float]]] = []
    started = time.perf_counter()
    for seq in range(total):
        delay = started + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user_id = f"s{seq}-{time.time_ns() // 1000}"  # the send time, read at the screens
        posted.append(user_id)
        tasks.append(asyncio.create_task(post_event(session, base, user_id)))
    sent_s = time.perf_counter() - started
    answers: list[tuple[int, float]] = []
    for task in tasks:
        try:
            answers.append(await task)
        except (aiohttp.ClientError, TimeoutError) as exc:
            answers.append((0, float("nan")))
            print(f"POST failed: {exc!r}", file=sys.stderr)
    return posted, answers, sent_s, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--connections", type=int, default=256, help="HTTP connections at most")
    parser.add_argument("--drain-s", type=float, default=15.0, help="wait for frames this long")
    parser.add_argument("--warmup", type=int, default=20, help="events before measuring")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="accolade-e2s-"))
    admin: asyncpg.Connection | None = None
    name = f"accolade_e2s_{uuid.uuid4().hex[:8]}"
    if args.database == "sqlite":
        url = f"sqlite:///{work / 'bench.db'}"
    else:
        admin = await asyncpg.connect(PG_SERVER)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_SERVER.rpartition('/')[0]}/{name}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ACCOLADE_JWT_SECRET": SECRET,
        "ACCOLADE_LOG_LEVEL": "warning",
        "ACCOLADE_ANTI_CHEAT_MAX_EVENTS_PER_S": "1000000",
    }
    log_path = work / "serve.log"
    with log_path.open("w") as log:
        server = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv/bin/accolade"),
            "serve",
            "--port",
            str(port),
            "--database-url",
            url,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    screens: Screens | None = None
    try:
        headers = {"Authorization": f"Bearer {issue_token(SECRET, 'bench', Role.SERVICE, 3600)}"}
        connector = aiohttp.TCPConnector(limit=args.connections)
        timeout = aiohttp.ClientTimeout(total=args.seconds + args.drain_s + 60)
        async with aiohttp.ClientSession(
            headers=headers, connector=connector, timeout=timeout
        ) as session:
            await wait_healthy(session, base)
            achievement = {
                "name": BADGE,
                "requirements": [{"metric": METRIC, "operator": "gte", "threshold": 1}],
            }
            async with session.post(f"{base}/api/achievements", json=achievement) as response:
                if response.status != 201:
                    raise RuntimeError(f"achievement: {response.status} {await response.text()}")
            node = await asyncio.create_subprocess_exec(
                "node",
                str(ROOT / "bench/event_to_screen.js"),
                "--url",
                base,
                "--clients",
                str(args.clients),
                "--title",
                TITLE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "NODE_PATH": str(ROOT / "tests/node/node_modules")},
                limit=64 * 1024 * 1024,  # the summary is one long line
            )
            screens = Screens(node)
            connect_started = time.perf_counter()
            ready = await asyncio.wait_for(screens.ready, 180)
            connect_s = time.perf_counter() - connect_started
            print(f"{ready['joined']} clients joined tv-display in {connect_s:.1f}s", flush=True)
            for n in range(args.warmup):  # not counted: their ids do not start with "s"
                await post_event(session, base, f"w{n}")
            await asyncio.sleep(1)

            posted, answers, sent_s, answered_s = await send_open_loop(
                session, base, args.rate, args.seconds
            )
            ok = [p for p, (status, _) in zip(posted, answers, strict=True) if status == 201]
            expected = len(ok) * args.clients
            screens.expect(expected)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(screens.all_seen.wait(), args.drain_s)
            summary = await screens.stop()
        per_event: dict[str, int] = summary["per_event"]
        lost = sum(args.clients - per_event.get(user_id, 0) for user_id in ok)
        post_ms = [ms for status, ms in answers if status == 201]
        result = {
            "database": args.database,
            "clients": args.clients,
            "joined": summary["joined"],
            "target_rate": args.rate,
            "events": len(posted),
            "events_ok": len(ok),
            "sent_per_s": round(len(posted) / sent_s, 1),
            "answered_per_s": round(len(ok) / answered_s, 1),
            "frames": summary["frames"],
            "frames_expected": expected,
            "lost_frames": lost,
            "events_never_seen": sum(1 for user_id in ok if user_id not in per_event),
            "latency_ms": summary["latency_ms"],
            "first_client_ms": summary["first_client_ms"],
            "last_client_ms": summary["last_client_ms"],
            "post_ms": {
                "p50": percentile(post_ms, 0.5),
                "p99": percentile(post_ms, 0.99),
                "mean": round(statistics.fmean(post_ms), 1) if post_ms else None,
            },
            "disconnects": summary["disconnects"],
        }
        latency = result["latency_ms"]
        print(
            f"{len(ok)}/{len(posted)} events at {result['sent_per_s']}/s sent, "
            f"{result['answered_per_s']}/s answered; frames {summary['frames']}/{expected} "
            f"(lost {lost}); POST -> screen p50 {latency['p50']} ms, p99 {latency['p99']} ms",
            flush=True,
        )
        print(json.dumps(result))
    except Exception:
        print(f"the server's log ({log_path}):", file=sys.stderr)
        print(log_path.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        try:
            if screens is not None:
                if screens.process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        screens.process.kill()
                await screens.process.wait()
                screens.reader.cancel()
            if server.returncode is None:  # (a server that died is in the log shown above)
                server.terminate()
                try:
                    await asyncio.wait_for(server.wait(), 20)
                except TimeoutError:
                    server.kill()
                    await server.wait()
        finally:  # the scratch database and files go whatever happened above
            if admin is not None:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
