"""The contest scheduler: LIVE at startAt and ENDED at endAt by itself, still after a restart,
and once however many nodes share the database. Waits poll the status with a timeout; nothing
asserts how long anything took."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from accolade.pipeline.broadcaster import Broadcaster
from accolade.services.contest_scoring import bump_version
from accolade.services.contests import ContestService
from accolade.storage import migrate
from accolade.storage.database import Database
from accolade.storage.models import Contest, RoomEvent
from tests.conftest import TEST_SECRET, empty_database, fresh_postgres_database, running

WAIT_S = 15.0


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll `check` until it returns something truthy, for at most WAIT_S."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {WAIT_S} s")
        await asyncio.sleep(0.05)


def http(app: FastAPI, headers: dict[str, str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://accolade.test", headers=headers)


async def status_of(client: httpx.AsyncClient, contest_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/contests/{contest_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count_events(database: Database, room: str, event: str) -> int:
    async with database.transaction() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(RoomEvent)
                .where(RoomEvent.room == room, RoomEvent.event == event)
            )
            or 0
        )


async def until_past(at: datetime) -> None:
    await asyncio.sleep(max((at - datetime.now(UTC)).total_seconds(), 0.0) + 0.05)


async def test_contest_goes_live_and_ends_by_itself(app, client, service):
    now = datetime.now(UTC)
    created = await client.post(
        "/api/contests",
        json={
            "name": "Lunch Sprint",
            "metric": "deals",
            "startAt": iso(now + timedelta(seconds=1)),
            "endAt": iso(now + timedelta(seconds=2)),
        },
        headers=service,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]

    async def status(wanted: str) -> dict[str, Any] | None:
        body = await status_of(client, cid)
        return body if body["status"] == wanted else None

    live = await eventually(lambda: status("LIVE"), "going LIVE at startAt")
    assert at(live["startedAt"]) >= at(live["startAt"])
    ended = await eventually(lambda: status("ENDED"), "ending at endAt")
    assert at(ended["endedAt"]) >= at(ended["endAt"])
    database = app.state.services.database
    room = f"contest:{cid}"
    assert await count_events(database, room, "contest:status") == 2
    assert await count_events(database, room, "contest:ended") == 1


async def test_a_contest_whose_end_passed_while_down_ends_at_start_up(settings, service):
    await empty_database(settings)
    now = datetime.now(UTC)
    end_at = now + timedelta(seconds=3)
    body = {"name": "Night", "metric": "deals", "startAt": iso(now), "endAt": iso(end_at)}
    async with running(create_app(settings)) as first, http(first, service) as client:
        cid = (await client.post("/api/contests", json=body)).json()["id"]

        async def live() -> bool:
            return (await status_of(client, cid))["status"] == "LIVE"

        await eventually(live, "going LIVE")
    database = Database(settings.database)
    try:
        async with database.transaction() as session:
            contest = await session.get(Contest, cid)
            assert contest is not None and contest.status == "LIVE"  # the node stopped first
        await until_past(end_at)  # the node is down when the end comes
    finally:
        await database.dispose()
    async with running(create_app(settings)) as second, http(second, service) as client:

        async def ended() -> bool:
            return (await status_of(client, cid))["status"] == "ENDED"

        await eventually(ended, "ending at start-up")
        database = second.state.services.database
        assert await count_events(database, f"contest:{cid}", "contest:ended") == 1


async def _set_end(database: Database, contest_id: int, end_at: datetime) -> None:
    async with database.transaction() as session:
        contest = await session.get(Contest, contest_id)
        assert contest is not None
        contest.end_at = end_at
        await bump_version(session)


async def test_two_nodes_end_one_contest_once():
    async with fresh_postgres_database("accolade_contests") as url:
        settings = Settings(database_url=url, jwt_secret=TEST_SECRET, _env_file=None)  # type: ignore[call-arg]
        headers = {"Authorization": "Bearer " + _token()}
        async with (
            running(create_app(settings)) as node_a,
            running(create_app(settings)) as node_b,
            http(node_a, headers) as a,
            http(node_b, headers) as b,
        ):
            end_at = datetime.now(UTC) + timedelta(seconds=1.5)
            created = await a.post(
                "/api/contests",
                json={
                    "name": "Shared",
                    "metric": "deals",
                    "startAt": iso(datetime.now(UTC) - timedelta(seconds=1)),
                    "endAt": iso(end_at),
                },
            )
            assert created.status_code == 201, created.text
            cid = created.json()["id"]

            async def ended() -> bool:
                return (await status_of(b, cid))["status"] == "ENDED"

            await eventually(ended, "ending on one of two nodes")
            # Both nodes' schedulers have had a pass past the end since (each looks at least
            # once a second); one ended it.
            await until_past(datetime.now(UTC) + timedelta(seconds=1.5))
            database = node_a.state.services.database
            assert await count_events(database, f"contest:{cid}", "contest:ended") == 1
            assert await count_events(database, f"contest:{cid}", "contest:status") == 2


async def test_nodes_racing_for_due_contests_change_each_once():
    async with fresh_postgres_database("accolade_contests") as url:
        settings = Settings(database_url=url, jwt_secret=TEST_SECRET, _env_file=None)  # type: ignore[call-arg]
        databases = [Database(settings.database) for _ in range(3)]
        try:
            await migrate.upgrade(databases[0])
            nodes = [ContestService(database, Broadcaster()) for database in databases]
            past = datetime.now(UTC) - timedelta(seconds=1)
            ids = []
            for n in range(5):
                view = await nodes[0].create(name=f"C{n}", metric="deals", start_at=past)
                ids.append(view.id)
            started = await asyncio.gather(*(node.run_due() for node in nodes))
            assert sum(changed for changed, _ in started) == 5
            for contest_id in ids:
                await _set_end(databases[0], contest_id, past + timedelta(milliseconds=500))
            ended = await asyncio.gather(*(node.run_due() for node in nodes))
            assert sum(changed for changed, _ in ended) == 5
            for contest_id in ids:
                room = f"contest:{contest_id}"
                assert await count_events(databases[0], room, "contest:ended") == 1
        finally:
            for database in databases:
                await database.dispose()


def _token() -> str:
    return issue_token(TEST_SECRET, "host-app", Role.SERVICE, 3600)
