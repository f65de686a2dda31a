"""/api/quests: ordered steps, runs per user, expiry, rewards and celebration on completion."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from accolade.storage.models import Quest, RewardDistribution, RoomEvent, User

API = "/api/quests"


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def step(title: str, *requirements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"title": title, "requirements": list(requirements), **fields}


def rule(metric: str, operator: str, threshold: float) -> dict[str, Any]:
    return {"metric": metric, "operator": operator, "threshold": threshold}


TUTORIAL = {
    "title": "Tutorial",
    "description": "Learn the ropes",
    "type": "ONBOARDING",
    "difficulty": "EASY",
    "steps": [
        {"id": "intro", "title": "Read the intro"},
        {"id": "first-call", "title": "Make a call"},
        {"id": "bonus", "title": "Invite a friend", "isOptional": True},
    ],
    "rewards": [{"type": "XP", "value": 100}],
    "metadata": {"season": 1},
}


@pytest.fixture
def quests(client, service):
    class Quests:
        async def create(self, **fields: Any) -> dict[str, Any]:
            response = await client.post(API, json={**TUTORIAL, **fields}, headers=service)
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            return body

        async def start(self, quest_id: int, user_id: Any = 1) -> Any:
            return await client.post(
                f"{API}/{quest_id}/start", json={"userId": user_id}, headers=service
            )

        async def complete(self, quest_id: int, step_id: str, user_id: Any = 1) -> Any:
            return await client.post(
                f"{API}/{quest_id}/steps/{step_id}/complete",
                json={"userId": user_id},
                headers=service,
            )

        async def abandon(self, quest_id: int, user_id: Any = 1) -> Any:
            return await client.post(
                f"{API}/{quest_id}/abandon", json={"userId": user_id}, headers=service
            )

        async def progress(self, quest_id: int, user_id: Any = 1) -> dict[str, Any]:
            response = await client.get(
                f"{API}/{quest_id}/progress", params={"userId": user_id}, headers=service
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def event(self, user_id: Any, type: str, **fields: Any) -> dict[str, Any]:
            response = await client.post(
                "/api/events", json={"userId": user_id, "type": type, **fields}, headers=service
            )
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            return body

    return Quests()


async def distributions(app, user_id: Any) -> list[tuple[str, str]]:
    """(source, sourceId) of every reward given to the user, in any status, in order."""
    async with app.state.services.database.transaction() as session:
        rows = await session.execute(
            select(RewardDistribution.source, RewardDistribution.source_id)
            .join(User, User.id == RewardDistribution.user_id)
            .where(User.user_key == str(user_id))
            .order_by(RewardDistribution.id)
        )
        return [(source, source_id) for source, source_id in rows.all()]


async def move_quest_dates(app, quest_id: int, **dates: datetime) -> None:
    async with app.state.services.database.transaction() as session:
        await session.execute(update(Quest).where(Quest.id == quest_id).values(**dates))


# --- definitions ---------------------------------------------------------------------------------


async def test_create_answers_the_quest_with_every_field(quests):
    quest = await quests.create(timeLimit=3600, endDate="2031-01-01T00:00:00Z")
    assert quest["id"] >= 1
    for field in ("title", "description", "type", "difficulty", "metadata"):
        assert quest[field] == TUTORIAL[field]
    assert quest["rewards"][0]["type"] == "XP"
    assert quest["requirements"] == []
    assert quest["timeLimit"] == 3600
    assert quest["startDate"] is None
    assert quest["endDate"] == "2031-01-01T00:00:00Z"
    assert quest["isActive"] is True
    assert [s["id"] for s in quest["steps"]] == ["intro", "first-call", "bonus"]
    assert [s["isOptional"] for s in quest["steps"]] == [False, False, True]


async def test_step_ids_and_orders_are_filled_in(quests):
    quest = await quests.create(steps=[step("One"), step("Two", id="step-1"), step("Three")])
    assert [(s["id"], s["order"]) for s in quest["steps"]] == [
        ("step-4", 1),
        ("step-1", 2),
        ("step-3", 3),
    ]


async def test_steps_run_by_order(quests):
    quest = await quests.create(steps=[step("Last", order=20), step("First", order=10)])
    assert [s["title"] for s in quest["steps"]] == ["First", "Last"]


async def test_get_answers_the_quest(client, quests, auth):
    quest = await quests.create()
    response = await client.get(f"{API}/{quest['id']}", headers=auth("7", "user"))
    assert response.status_code == 200
    assert response.json() == quest


async def test_unknown_quest_is_404(client, service):
    response = await client.get(f"{API}/999", headers=service)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "fields",
    [
        {"steps": []},
        {"steps": [step("A", id="x"), step("B", id="x")]},
        {"steps": [step("A", order=1), step("B", order=1)]},
        {"steps": [step("A", isOptional=True)]},
        {"steps": [step("A", id="no spaces")]},
        {"steps": [step("A", rule("deal", "between", 1))]},
        {"steps": [step("A", rewards=[{"type": "CURRENCY", "value": 5}])]},
        {"steps": [step("A", isOptinal=True)]},
        {"startDate": "2030-01-02T00:00:00Z", "endDate": "2030-01-01T00:00:00Z"},
        {"timeLimit": 0},
        {"title": ""},
    ],
)
async def test_invalid_quest_is_422(client, service, fields):
    response = await client.post(API, json={**TUTORIAL, **fields}, headers=service)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_user_may_not_create_quests(client, auth):
    response = await client.post(API, json=TUTORIAL, headers=auth("1", "user"))
    assert response.status_code == 403


# --- the active list -----------------------------------------------------------------------------


async def test_active_lists_only_quests_open_now(client, quests, service):
    open_now = await quests.create(title="Open", startDate=at(days=-1), endDate=at(days=1))
    await quests.create(title="Later", startDate=at(days=1))
    await quests.create(title="Over", endDate=at(seconds=-1))
    await quests.create(title="Off", isActive=False)
    undated = await quests.create(title="Always")
    response = await client.get(f"{API}/active", headers=service)
    assert response.status_code == 200
    assert [q["id"] for q in response.json()] == [open_now["id"], undated["id"]]
    assert response.json()[0]["status"] is None


async def test_active_shows_the_users_status(client, quests, service):
    started = await quests.create(title="Started")
    fresh = await quests.create(title="Fresh")
    assert (await quests.start(started["id"], "u-1")).status_code == 200
    response = await client.get(f"{API}/active", params={"userId": "u-1"}, headers=service)
    listed = {q["id"]: q for q in response.json()}
    assert listed[started["id"]]["status"] == "IN_PROGRESS"
    assert listed[started["id"]]["progress"]["userId"] == "u-1"
    assert listed[fresh["id"]]["status"] == "NOT_STARTED"


async def test_user_token_lists_its_own_runs(client, quests, auth):
    quest = await quests.create()
    await quests.start(quest["id"], 5)
    response = await client.get(f"{API}/active", headers=auth("5", "user"))
    assert response.status_code == 200
    assert response.json()[0]["progress"]["userId"] == 5
    assert response.json()[0]["status"] == "IN_PROGRESS"


async def test_user_listing_another_users_runs_is_403(client, auth):
    response = await client.get(f"{API}/active", params={"userId": "6"}, headers=auth("5", "user"))
    assert response.status_code == 403


# --- starting ------------------------------------------------------------------------------------


async def test_progress_before_a_start_is_not_started(quests):
    quest = await quests.create()
    progress = await quests.progress(quest["id"], "never-seen")
    assert progress == {
        "questId": quest["id"],
        "userId": "never-seen",
        "status": "NOT_STARTED",
        "currentStep": 0,
        "currentStepId": "intro",
        "completedSteps": [],
        "stepProgress": {},
        "progress": 0.0,
        "startedAt": None,
        "completedAt": None,
        "expiresAt": None,
    }


async def test_start_answers_the_run(quests):
    quest = await quests.create(timeLimit=600)
    response = await quests.start(quest["id"], 42)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["userId"] == 42
    assert run["status"] == "IN_PROGRESS"
    assert run["currentStep"] == 0
    assert run["stepProgress"] == {"intro": 0.0, "first-call": 0.0, "bonus": 0.0}
    started = datetime.fromisoformat(run["startedAt"])
    assert datetime.fromisoformat(run["expiresAt"]) - started == timedelta(seconds=600)
    assert await quests.progress(quest["id"], 42) == run


async def test_starting_while_in_progress_is_409(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    response = await quests.start(quest["id"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


async def test_starting_before_the_start_date_is_409(quests):
    quest = await quests.create(startDate=at(hours=1))
    assert (await quests.start(quest["id"])).status_code == 409


async def test_starting_after_the_end_date_is_409(quests):
    quest = await quests.create(endDate=at(seconds=-1))
    assert (await quests.start(quest["id"])).status_code == 409


async def test_starting_an_inactive_quest_is_409(quests):
    quest = await quests.create(isActive=False)
    assert (await quests.start(quest["id"])).status_code == 409


async def test_starting_an_unknown_quest_is_404(quests):
    assert (await quests.start(999)).status_code == 404


async def test_quest_requirements_must_hold_to_start(quests):
    quest = await quests.create(requirements=[rule("level", "gte", 2)])
    refused = await quests.start(quest["id"])
    assert refused.status_code == 409
    assert refused.json()["error"]["details"][0]["metric"] == "level"
    await quests.event(1, "xp", value=500)
    assert (await quests.start(quest["id"])).status_code == 200


async def test_user_token_starts_for_itself_without_a_body(client, quests, auth):
    quest = await quests.create()
    response = await client.post(f"{API}/{quest['id']}/start", headers=auth("42", "user"))
    assert response.status_code == 200, response.text
    assert response.json()["userId"] == 42


async def test_user_token_starting_for_another_user_is_403(client, quests, auth):
    quest = await quests.create()
    response = await client.post(
        f"{API}/{quest['id']}/start", json={"userId": 7}, headers=auth("42", "user")
    )
    assert response.status_code == 403


async def test_service_token_must_name_the_user(client, quests, service):
    quest = await quests.create()
    response = await client.post(f"{API}/{quest['id']}/start", headers=service)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "userId"


# --- steps ---------------------------------------------------------------------------------------


async def test_steps_complete_in_order_and_complete_the_quest(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    first = (await quests.complete(quest["id"], "intro")).json()
    assert first["status"] == "IN_PROGRESS"
    assert first["completedSteps"] == ["intro"]
    assert first["currentStep"] == 1
    assert first["stepProgress"]["intro"] == 1.0
    second = await quests.complete(quest["id"], "first-call")
    assert second.status_code == 200, second.text
    done = second.json()
    assert done["status"] == "COMPLETED"
    assert done["completedAt"] is not None
    assert done["progress"] == 1.0
    assert done["currentStep"] == 3


async def test_completing_a_required_step_out_of_order_is_409(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    response = await quests.complete(quest["id"], "first-call")
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"blockedBy": "intro"}
    assert (await quests.progress(quest["id"]))["completedSteps"] == []


async def test_completing_a_step_twice_is_409(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    await quests.complete(quest["id"], "intro")
    assert (await quests.complete(quest["id"], "intro")).status_code == 409


async def test_optional_step_may_be_completed_first(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    response = await quests.complete(quest["id"], "bonus")
    assert response.status_code == 200, response.text
    assert response.json()["completedSteps"] == ["bonus"]
    assert response.json()["status"] == "IN_PROGRESS"


async def test_optional_steps_do_not_hold_the_quest_up(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    await quests.complete(quest["id"], "intro")
    done = (await quests.complete(quest["id"], "first-call")).json()
    assert done["status"] == "COMPLETED"
    assert "bonus" not in done["completedSteps"]


async def test_completing_a_step_before_starting_is_409(quests):
    quest = await quests.create()
    assert (await quests.complete(quest["id"], "intro")).status_code == 409


async def test_completing_an_unknown_step_is_404(quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    assert (await quests.complete(quest["id"], "nope")).status_code == 404


async def test_completed_quest_cannot_start_or_move_again(quests):
    quest = await quests.create(steps=[step("Only")])
    await quests.start(quest["id"])
    await quests.complete(quest["id"], "step-1")
    assert (await quests.start(quest["id"])).status_code == 409
    assert (await quests.complete(quest["id"], "step-1")).status_code == 409


async def test_user_token_completes_its_own_step_once_requirements_hold(client, quests, auth):
    quest = await quests.create(steps=[step("Calls", rule("call", "gte", 2), id="calls")])
    user = auth("9", "user")
    url = f"{API}/{quest['id']}/steps/calls/complete"
    await client.post(f"{API}/{quest['id']}/start", headers=user)
    refused = await client.post(url, headers=user)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"][0]["current"] == 0


async def test_service_token_completes_a_step_whatever_its_requirements(quests):
    quest = await quests.create(steps=[step("Calls", rule("call", "gte", 2), id="calls")])
    await quests.start(quest["id"])
    assert (await quests.complete(quest["id"], "calls")).json()["status"] == "COMPLETED"


# --- rewards and celebration ---------------------------------------------------------------------


async def test_completion_distributes_the_quest_and_step_rewards(client, quests, service):
    quest = await quests.create(
        steps=[
            step("One", id="one", rewards=[{"type": "POINTS", "value": 5}]),
            step("Two", id="two", rewards=[{"type": "CURRENCY", "value": 3, "currency": "gems"}]),
        ],
        rewards=[{"type": "XP", "value": 100}, {"type": "BADGE", "value": 1}],
    )
    qid = quest["id"]

    async def pending() -> list[tuple[str, str, str]]:
        response = await client.get(
            "/api/rewards/pending", params={"userId": "u-1"}, headers=service
        )
        assert response.status_code == 200, response.text
        rows = sorted(response.json(), key=lambda row: row["id"])
        return [(row["source"], row["sourceId"], row["type"]) for row in rows]

    await quests.start(qid, "u-1")
    await quests.complete(qid, "one", "u-1")
    assert await pending() == [("QUEST_STEP", f"{qid}:one", "POINTS")]
    await quests.complete(qid, "two", "u-1")
    assert await pending() == [
        ("QUEST_STEP", f"{qid}:one", "POINTS"),
        ("QUEST_STEP", f"{qid}:two", "CURRENCY"),
        ("QUEST", str(qid), "XP"),
        ("QUEST", str(qid), "BADGE"),
    ]


async def test_completion_celebration_reaches_the_users_notifications(app, quests):
    quest = await quests.create(steps=[step("Only", id="only")])
    await quests.start(quest["id"], "u-2")
    await quests.complete(quest["id"], "only", "u-2")
    notifications = await app.state.services.notifications.list_for("u-2")
    assert [n.title for n in notifications] == ["🗺️ Tutorial Quest Complete!"]
    assert notifications[0].data["questId"] == quest["id"]
    assert notifications[0].data["achievementType"] == "milestone"


# --- expiry --------------------------------------------------------------------------------------


async def test_run_expires_after_its_time_limit(quests):
    quest = await quests.create(timeLimit=1)
    await quests.start(quest["id"])
    await asyncio.sleep(1.2)
    assert (await quests.progress(quest["id"]))["status"] == "EXPIRED"
    assert (await quests.complete(quest["id"], "intro")).status_code == 409


async def test_run_expires_when_the_quest_ends(app, quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    await move_quest_dates(app, quest["id"], end_date=datetime.now(UTC) - timedelta(seconds=1))
    assert (await quests.progress(quest["id"]))["status"] == "EXPIRED"


async def test_expired_run_starts_afresh_without_paying_steps_twice(app, quests):
    quest = await quests.create(
        timeLimit=1,
        steps=[step("One", id="one", rewards=[{"type": "POINTS", "value": 5}]), step("Two")],
    )
    await quests.start(quest["id"])
    await quests.complete(quest["id"], "one")
    await asyncio.sleep(1.2)
    again = await quests.start(quest["id"])
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "IN_PROGRESS"
    assert again.json()["completedSteps"] == []
    await quests.complete(quest["id"], "one")
    assert len(await distributions(app, 1)) == 1


async def test_abandoned_run_is_failed_and_starts_afresh(app, quests):
    quest = await quests.create()
    await quests.start(quest["id"])
    await quests.complete(quest["id"], "intro")
    response = await quests.abandon(quest["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "FAILED"
    assert (await quests.progress(quest["id"]))["status"] == "FAILED"
    assert (await quests.abandon(quest["id"])).status_code == 409
    assert (await quests.complete(quest["id"], "intro")).status_code == 409
    again = await quests.start(quest["id"])
    assert again.json()["status"] == "IN_PROGRESS" and again.json()["completedSteps"] == []


async def test_abandoning_tells_the_users_screens(app, quests):
    quest = await quests.create()
    await quests.start(quest["id"], user_id=2)
    await quests.abandon(quest["id"], user_id=2)
    async with app.state.services.database.transaction() as session:
        told = (
            await session.scalars(
                select(RoomEvent.payload)
                .where(RoomEvent.room == "user:2", RoomEvent.event == "quest:progress")
                .order_by(RoomEvent.id)
            )
        ).all()
    assert told[-1]["status"] == "FAILED"


async def test_a_run_never_started_cannot_be_abandoned(quests):
    quest = await quests.create()
    assert (await quests.abandon(quest["id"], user_id=77)).status_code == 409


# --- steps completed by events -------------------------------------------------------------------


async def test_event_meeting_a_step_requirement_completes_the_step(quests):
    quest = await quests.create(
        steps=[step("Calls", rule("call", "gte", 3), id="calls"), step("Wrap up", id="wrap")]
    )
    await quests.start(quest["id"])
    answer = await quests.event(1, "call", value=2)
    assert answer["quests"][0]["stepsCompleted"] == []
    assert answer["quests"][0]["stepProgress"]["calls"] == pytest.approx(2 / 3, abs=1e-3)
    answer = await quests.event(1, "call")
    assert answer["quests"] == [
        {
            "questId": quest["id"],
            "title": "Tutorial",
            "status": "IN_PROGRESS",
            "stepsCompleted": ["calls"],
            "stepProgress": {"calls": 1.0, "wrap": 0.0},
        }
    ]
    assert (await quests.progress(quest["id"]))["completedSteps"] == ["calls"]


async def test_events_complete_the_last_step_and_the_quest(app, quests):
    quest = await quests.create(steps=[step("Deal", rule("deal", "gte", 1))])
    await quests.start(quest["id"], "u-3")
    answer = await quests.event("u-3", "deal")
    assert answer["quests"][0]["status"] == "COMPLETED"
    assert await distributions(app, "u-3") == [("QUEST", str(quest["id"]))]
    notifications = await app.state.services.notifications.list_for("u-3")
    assert "🗺️ Tutorial Quest Complete!" in [n.title for n in notifications]


async def test_events_wait_for_earlier_required_steps(quests):
    quest = await quests.create(
        steps=[step("Read", id="read"), step("Deal", rule("deal", "gte", 1), id="deal")]
    )
    await quests.start(quest["id"])
    await quests.event(1, "deal")
    assert (await quests.progress(quest["id"]))["completedSteps"] == []
    # Completing the step ahead of it lets the met requirement complete it at once.
    done = (await quests.complete(quest["id"], "read")).json()
    assert done["completedSteps"] == ["read", "deal"]
    assert done["status"] == "COMPLETED"


async def test_step_requirements_count_from_the_start(quests):
    quest = await quests.create(steps=[step("Deals", rule("deal", "gte", 2), id="deals")])
    await quests.event(1, "deal", value=5)  # before the start: does not count
    await quests.start(quest["id"])
    assert (await quests.event(1, "deal"))["quests"][0]["stepsCompleted"] == []
    assert (await quests.event(1, "deal"))["quests"][0]["stepsCompleted"] == ["deals"]


async def test_gauge_requirement_already_met_completes_at_start(quests):
    quest = await quests.create(steps=[step("Level up", rule("level", "gte", 2))])
    await quests.event(1, "xp", value=500)
    assert (await quests.start(quest["id"])).json()["status"] == "COMPLETED"


async def test_events_leave_other_users_runs_alone(quests):
    quest = await quests.create(steps=[step("Deal", rule("deal", "gte", 1))])
    await quests.start(quest["id"], 1)
    assert (await quests.event(2, "deal"))["quests"] == []
    assert (await quests.progress(quest["id"], 1))["status"] == "IN_PROGRESS"


async def test_runs_tell_the_users_screens(app, quests):
    quest = await quests.create(steps=[step("Deal", rule("deal", "gte", 1))])
    await quests.start(quest["id"], 8)
    await quests.event(8, "deal")
    async with app.state.services.database.transaction() as session:
        rows = await session.scalars(
            select(RoomEvent.payload)
            .where(RoomEvent.room == "user:8", RoomEvent.event == "quest:progress")
            .order_by(RoomEvent.id)
        )
        sent = list(rows.all())
    assert [p["status"] for p in sent] == ["IN_PROGRESS", "COMPLETED"]
    assert sent[1]["questId"] == quest["id"]
