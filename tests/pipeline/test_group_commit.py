"""Events taken together: single events that arrive at once share a transaction, batches read
their users once, and every event still gets its own answer."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from accolade.pipeline.commands import EventCommand
from accolade.storage.models import Event
from tests.pipeline.conftest import rule


async def test_concurrent_events_each_get_their_own_answer(engine):
    await engine.achievement("Five", rule("deal", "gte", 5))
    answers = await asyncio.gather(*(engine.event(3, "deal", value=1) for _ in range(30)))
    event_ids = [a["eventId"] for a in answers]
    assert len(set(event_ids)) == 30 and all(isinstance(i, int) for i in event_ids)
    # Exactly one of the thirty crossed the threshold, and it is the fifth one applied.
    unlocking = [a for a in answers if a["unlocked"]]
    assert len(unlocking) == 1
    assert sorted(event_ids).index(unlocking[0]["eventId"]) == 4


async def test_concurrent_xp_events_add_up_with_one_level_up_each(engine):
    answers = await asyncio.gather(*(engine.event(4, "xp", value=100) for _ in range(12)))
    totals = sorted(a["xp"]["total"] for a in answers)
    assert totals == [100 * n for n in range(1, 13)]


async def test_a_batch_answers_a_repeated_key_inside_it_with_the_first_result(engine):
    response = await engine.client.post(
        "/api/events/batch",
        json={
            "events": [
                {"userId": 5, "type": "deal", "idempotencyKey": "k-1"},
                {"userId": 5, "type": "deal", "idempotencyKey": "k-1"},
                {"userId": 5, "type": "deal"},
            ]
        },
        headers=engine.headers,
    )
    assert response.status_code == 201, response.text
    first, repeat, third = response.json()["results"]
    assert repeat["eventId"] == first["eventId"] != third["eventId"]
    assert response.json()["replayed"] == 1
    again = await engine.event(5, "deal", idempotencyKey="k-1")
    assert again["eventId"] == first["eventId"]
    async with engine.app.state.services.database.transaction() as session:
        stored = await session.scalar(select(func.count()).select_from(Event))
    assert stored == 2


async def test_a_batch_sees_its_own_earlier_events_in_timeframes(engine):
    await engine.achievement("Three today", rule("deal", "gte", 3, duration=1, unit="days"))
    response = await engine.client.post(
        "/api/events/batch",
        json={"events": [{"userId": 6, "type": "deal"} for _ in range(4)]},
        headers=engine.headers,
    )
    results = response.json()["results"]
    assert [len(r["unlocked"]) for r in results] == [0, 0, 1, 0]


async def test_an_event_the_database_refuses_does_not_fail_those_sent_with_it(app, backend):
    if backend != "postgresql":
        pytest.skip("SQLite stores NUL characters; only PostgreSQL refuses this row")
    engine = app.state.services.engine
    good = [EventCommand(user_id=9, type="deal") for _ in range(5)]
    bad = EventCommand(user_id=9, type="deal", data={"note": "nul \u0000 inside"})
    outcomes = await asyncio.gather(
        *(engine.ingest(c) for c in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )
    assert isinstance(outcomes[2], Exception)
    assert all(not isinstance(o, Exception) for i, o in enumerate(outcomes) if i != 2)
    async with app.state.services.database.transaction() as session:
        stored = await session.scalar(select(func.count()).select_from(Event))
    assert stored == 5


async def test_groups_in_flight_together_keep_each_users_events_in_arrival_order(engine):
    """While one group is in the database the next is prepared beside it; a user's events never
    go to two groups at once, so each user's XP answers rise in the order the events came."""
    services = engine.app.state.services
    sent = [(user, n) for n in range(1, 16) for user in (11, 12, 13, 14)]
    tasks = [
        asyncio.create_task(services.engine.ingest(EventCommand(user, "xp", value=n)))
        for user, n in sent
    ]
    results = await asyncio.gather(*tasks)
    for user in (11, 12, 13, 14):
        totals = [
            r.body["xp"]["total"] for (u, _), r in zip(sent, results, strict=True) if u == user
        ]
        assert totals == [n * (n + 1) // 2 for n in range(1, 16)], (user, totals)
        ids = [r.body["eventId"] for (u, _), r in zip(sent, results, strict=True) if u == user]
        assert ids == sorted(ids)
