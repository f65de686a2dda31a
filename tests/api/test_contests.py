"""Contests over REST, on SQLite and PostgreSQL: the status that only moves forward, entries,
scoring inside the live window, standings and the one payout, and what each sends to the rooms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from accolade.app import create_app
from accolade.storage.models import RoomEvent
from tests.api.test_auth import assert_error
from tests.conftest import empty_database, running

CONTESTS = "/api/contests"


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def http(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://accolade.test")


async def room_events(app: Any, room: str, event: str | None = None) -> list[RoomEvent]:
    async with app.state.services.database.transaction() as session:
        query = select(RoomEvent).where(RoomEvent.room == room).order_by(RoomEvent.id)
        if event is not None:
            query = query.where(RoomEvent.event == event)
        return list((await session.scalars(query)).all())


@pytest.fixture
def contests(client, service):
    class Contests:
        async def create(self, **fields: Any) -> dict[str, Any]:
            body = {"name": "Q4 Sales Challenge", "metric": "deals", **fields}
            response = await client.post(CONTESTS, json=body, headers=service)
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            return created

        async def patch(self, contest_id: int, **fields: Any) -> Any:
            return await client.patch(f"{CONTESTS}/{contest_id}", json=fields, headers=service)

        async def status(self, contest_id: int, status: str) -> dict[str, Any]:
            response = await self.patch(contest_id, status=status)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def enter(self, contest_id: int, *user_ids: Any) -> None:
            for user_id in user_ids:
                response = await client.post(
                    f"{CONTESTS}/{contest_id}/enter",
                    json={"userId": user_id, "userName": f"Rep {user_id}"},
                    headers=service,
                )
                assert response.status_code == 201, response.text

        async def event(self, user_id: Any, type: str = "deals", **fields: Any) -> dict[str, Any]:
            response = await client.post(
                "/api/events", json={"userId": user_id, "type": type, **fields}, headers=service
            )
            assert response.status_code in (200, 201), response.text
            body: dict[str, Any] = response.json()
            return body

        async def board(self, contest_id: int) -> list[dict[str, Any]]:
            response = await client.get(f"{CONTESTS}/{contest_id}/leaderboard")  # anonymous
            assert response.status_code == 200, response.text
            entries: list[dict[str, Any]] = response.json()  # a bare array, best first
            return entries

    return Contests()


async def test_a_new_contest_is_draft_and_listed_newest_first(client, contests):
    first = await contests.create(prizes=["$5000", "$2500"], startAt="2030-01-01T09:00:00Z")
    second = await contests.create(name="Sprint", metric="xp")
    assert first["status"] == "DRAFT" and first["prizes"] == ["$5000", "$2500"]
    assert first["startAt"] == "2030-01-01T09:00:00Z" and first["entrants"] == 0
    await contests.status(second["id"], "LIVE")
    listed = (await client.get(CONTESTS)).json()  # anonymous: the TV display reads it
    assert [c["id"] for c in listed] == [second["id"], first["id"]]
    drafts = (await client.get(CONTESTS, params={"status": "DRAFT"})).json()
    assert [c["id"] for c in drafts] == [first["id"]]
    assert (await client.get(f"{CONTESTS}/{first['id']}")).json()["name"] == "Q4 Sales Challenge"
    assert_error(await client.get(f"{CONTESTS}/999"), 404, "not_found")


async def test_status_moves_only_forward_one_step_at_a_time(app, contests):
    contest = await contests.create()
    cid = contest["id"]
    assert_error(await contests.patch(cid, status="ENDED"), 409, "conflict")
    live = await contests.status(cid, "LIVE")
    assert live["status"] == "LIVE" and live["startedAt"] is not None
    error = assert_error(await contests.patch(cid, status="DRAFT"), 409, "conflict")
    assert error["details"] == {"status": "LIVE", "requested": "DRAFT"}
    again = await contests.status(cid, "LIVE")  # a retried PATCH changes nothing
    assert again["startedAt"] == live["startedAt"]
    ended = await contests.status(cid, "ENDED")
    assert ended["status"] == "ENDED" and ended["endedAt"] is not None
    assert_error(await contests.patch(cid, status="LIVE"), 409, "conflict")
    room = f"contest:{cid}"
    statuses = [e.payload["status"] for e in await room_events(app, room, "contest:status")]
    assert statuses == ["LIVE", "ENDED"]
    changed = await room_events(app, room, "contest:status-changed")
    assert [(e.payload["oldStatus"], e.payload["newStatus"]) for e in changed] == [
        ("DRAFT", "LIVE"),
        ("LIVE", "ENDED"),
    ]
    assert len(await room_events(app, room, "contest:ended")) == 1


async def test_the_board_is_a_bare_array_with_the_contest_in_headers(client, contests):
    cid = (await contests.create(name="Q4 Défi", metric="deals"))["id"]
    for wanted in ("DRAFT", "LIVE", "ENDED"):
        if wanted != "DRAFT":
            await contests.status(cid, wanted)
        response = await client.get(f"{CONTESTS}/{cid}/leaderboard")
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert response.headers["Contest-Status"] == wanted
    assert response.headers["Contest-Metric"] == "deals"
    assert response.headers["Contest-Name"] == "Q4 D%C3%A9fi"
    assert_error(await client.get(f"{CONTESTS}/999/leaderboard"), 404, "not_found")


async def test_fields_change_only_while_draft(contests):
    contest = await contests.create(startAt="2030-01-01T09:00:00Z")
    cid = contest["id"]
    renamed = await contests.patch(cid, name="Q4", endAt="2030-01-02T09:00:00Z")
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Q4" and renamed.json()["endAt"] == "2030-01-02T09:00:00Z"
    backwards = await contests.patch(cid, endAt="2029-12-31T09:00:00Z")
    assert_error(backwards, 422, "validation_error")
    await contests.status(cid, "LIVE")
    assert_error(await contests.patch(cid, name="Renamed"), 409, "conflict")


async def test_entries_user_enters_itself_service_enters_anyone(app, client, auth, contests):
    cid = (await contests.create())["id"]
    me = auth("42", "user")
    first = await client.post(f"{CONTESTS}/{cid}/enter", headers=me)
    assert first.status_code == 201, first.text
    assert first.json()["userId"] == 42 and first.json()["alreadyEntered"] is False
    again = await client.post(f"{CONTESTS}/{cid}/enter", headers=me)
    assert again.status_code == 200 and again.json()["alreadyEntered"] is True
    other = await client.post(f"{CONTESTS}/{cid}/enter", json={"userId": 7}, headers=me)
    assert_error(other, 403, "forbidden")
    await contests.enter(cid, "u-7")
    entries = await room_events(app, f"contest:{cid}", "contest:entry")
    assert [(e.payload["userId"], e.payload["entrants"]) for e in entries] == [(42, 1), ("u-7", 2)]
    assert (await client.get(f"{CONTESTS}/{cid}")).json()["entrants"] == 2
    assert_error(await client.post(f"{CONTESTS}/999/enter", headers=me), 404, "not_found")
    await contests.status(cid, "LIVE")
    await contests.status(cid, "ENDED")
    late = await client.post(f"{CONTESTS}/{cid}/enter", headers=auth("43", "user"))
    assert_error(late, 409, "conflict")


async def test_only_entrants_moves_of_the_metric_inside_the_window_count(app, contests):
    cid = (await contests.create())["id"]
    await contests.enter(cid, 1, 2)
    await contests.event(1, value=4)  # DRAFT without a start: nothing counts yet
    live = await contests.status(cid, "LIVE")
    started = datetime.fromisoformat(live["startedAt"].replace("Z", "+00:00"))
    answer = await contests.event(1, value=5)
    (standing,) = [r for r in answer["ranks"] if r.get("contestId") == cid]
    assert (standing["previousRank"], standing["newRank"], standing["value"]) == (1, 1, 5.0)
    await contests.event(2, value=3)
    await contests.event(3, value=50)  # not an entrant
    await contests.event(1, type="calls", value=100)  # another metric
    await contests.event(2, value=20, occurredAt=iso(started - timedelta(minutes=5)))  # before
    await contests.status(cid, "ENDED")
    await contests.event(2, value=20)  # after the end
    board = await contests.board(cid)
    assert [(e["rank"], e["userId"], e["userName"], e["value"]) for e in board] == [
        (1, 1, "Rep 1", 5.0),
        (2, 2, "Rep 2", 3.0),
    ]
    updates = await room_events(app, f"contest:{cid}", "contest:update")
    # Rep 2's move came within a second of rep 1's (throttled), and the contest ended before
    # its slot: `contest:ended` carries the final standings instead.
    assert [(u.payload["userId"], u.payload["value"]) for u in updates] == [(1, 5.0)]
    assert updates[-1].payload["leaderboard"][0]["userId"] == 1
    seed003 = await room_events(app, f"contest:{cid}", "leaderboard:update")
    assert [u.payload for u in seed003] == [u.payload for u in updates]
    (ended,) = await room_events(app, f"contest:{cid}", "contest:ended")
    assert [e["value"] for e in ended.payload["leaderboard"]] == [5.0, 3.0]


async def test_a_scheduled_window_counts_by_when_a_move_occurred(contests):
    now = datetime.now(UTC)
    contest = await contests.create(
        startAt=iso(now - timedelta(hours=1)), endAt=iso(now + timedelta(hours=1))
    )
    cid = contest["id"]
    await contests.enter(cid, 1)
    await contests.event(1, value=2, occurredAt=iso(now - timedelta(minutes=30)))
    await contests.event(1, value=7, occurredAt=iso(now - timedelta(hours=2)))  # before startAt
    await contests.event(1, value=9, occurredAt=iso(now + timedelta(hours=2)))  # after endAt
    assert [e["value"] for e in await contests.board(cid)] == [2.0]


async def test_equal_values_share_a_value_but_not_a_place(contests):
    cid = (await contests.create())["id"]
    await contests.enter(cid, "late", "early", "ahead")
    await contests.status(cid, "LIVE")
    await contests.event("early", value=5)
    await contests.event("ahead", value=6)
    await contests.event("late", value=2)
    await contests.event("late", value=3)  # reaches 5 after "early" did
    board = await contests.board(cid)
    assert [(e["rank"], e["userId"], e["value"]) for e in board] == [
        (1, "ahead", 6.0),
        (2, "early", 5.0),
        (3, "late", 5.0),
    ]


async def test_payout_celebrates_the_top_three_once(app, client, service, contests):
    cid = (await contests.create(prizes=["$5000", "$2500"]))["id"]
    await contests.enter(cid, 1, 2, 3, 4, 5)
    await contests.status(cid, "LIVE")
    for user_id, value in ((1, 10), (2, 30), (3, 20), (4, 5)):  # 5 never scores
        await contests.event(user_id, value=value)
    url = f"/api/leaderboard/contests/{cid}/payout"
    paid = await client.post(url, json={}, headers=service)  # a LIVE contest is ended first
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "ENDED"
    assert [(w["placement"], w["userId"], w["prize"], w["title"]) for w in body["winners"]] == [
        (1, 2, "$5000", "🏆 Q4 Sales Challenge - 1st Place"),
        (2, 3, "$2500", "🏆 Q4 Sales Challenge - 2nd Place"),
        (3, 1, None, "🏆 Q4 Sales Challenge - 3rd Place"),
    ]
    assert_error(await client.post(url, headers=service), 409, "conflict")
    tv = await room_events(app, "tv-display", "achievement:celebration")
    assert [
        (c.payload["userId"], c.payload["title"], c.payload["achievementType"]) for c in tv
    ] == [
        (2, "🏆 Q4 Sales Challenge - 1st Place", "contest"),
        (3, "🏆 Q4 Sales Challenge - 2nd Place", "contest"),
        (1, "🏆 Q4 Sales Challenge - 3rd Place", "contest"),
    ]
    assert len(await room_events(app, f"contest:{cid}", "contest:ended")) == 1
    contest = (await client.get(f"{CONTESTS}/{cid}")).json()
    assert contest["paidOutAt"] is not None and len(contest["payout"]) == 3
    draft = (await contests.create(name="Later"))["id"]
    refused = await client.post(f"/api/leaderboard/contests/{draft}/payout", headers=service)
    assert_error(refused, 409, "conflict")


async def test_a_solved_problem_reaches_its_problem_room_and_moves_the_contest(app, contests):
    cid = (await contests.create(metric="problem.solved"))["id"]
    await contests.enter(cid, 42)
    await contests.status(cid, "LIVE")
    await contests.event(42, type="problem.solved", data={"problemId": "two-sum", "contestId": cid})
    (solved,) = await room_events(app, "problem:two-sum", "problem:solved")
    assert solved.payload["userId"] == 42 and solved.payload["contestId"] == cid
    (update,) = await room_events(app, f"contest:{cid}", "leaderboard:update")
    assert update.payload["leaderboard"] == [
        {"rank": 1, "userId": 42, "userName": "Rep 42", "value": 1.0}
    ]


async def test_a_batch_of_events_counts_every_entrant_move(client, service, contests):
    cid = (await contests.create())["id"]
    await contests.enter(cid, 1, 2)
    await contests.status(cid, "LIVE")
    events = [{"userId": u, "type": "deals", "value": v} for u, v in ((1, 2), (2, 5), (1, 4))]
    response = await client.post("/api/events/batch", json={"events": events}, headers=service)
    assert response.status_code in (200, 201), response.text
    board = await contests.board(cid)
    assert [(e["userId"], e["value"]) for e in board] == [(1, 6.0), (2, 5.0)]


async def test_reads_need_a_token_when_public_display_is_off(settings, auth):
    private = settings.model_copy(update={"public_display": False})
    await empty_database(private)
    async with running(create_app(private)) as app, http(app) as client:
        assert_error(await client.get(CONTESTS), 401, "unauthorized")
        shown = await client.get(CONTESTS, headers=auth("tv-lobby", "display"))
        assert shown.status_code == 200 and shown.json() == []
