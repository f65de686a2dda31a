"""Rarity: holders and active users counted as unlocks, revokes and deletions happen; the
achievements show them; a badge's celebration carries `rarityPercent` and `first`."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text

from accolade.config import parse_database_url
from accolade.storage import metrics, migrate, rarity
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import AchievementStats, Notification, Tally, User
from tests.conftest import fresh_postgres_database
from tests.pipeline.conftest import Engine, rule

TV = "tv-display"


async def shown(engine: Engine, achievement_id: int) -> dict[str, Any]:
    response = await engine.client.get(
        f"/api/achievements/{achievement_id}", headers=engine.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def rarity_of(engine: Engine, achievement_id: int) -> tuple[int, float]:
    body = await shown(engine, achievement_id)
    return body["unlockedCount"], body["rarityPercent"]


async def celebrations(engine: Engine) -> list[dict[str, Any]]:
    return [row.payload for row in await engine.room_events(TV, "achievement:celebration")]


async def active_users(engine: Engine) -> int:
    async with engine.app.state.services.database.transaction() as session:
        return await rarity.active_users(session)


# --- counts --------------------------------------------------------------------------------


async def test_an_unlock_counts_a_holder_among_the_users_with_an_event(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 2))
    for user in (1, 2, 3):
        await engine.event(user, "deal")
    assert await rarity_of(engine, closer["id"]) == (0, 0.0)
    await engine.event(1, "deal")
    assert await rarity_of(engine, closer["id"]) == (1, 33.3)
    await engine.event(2, "deal")
    assert await rarity_of(engine, closer["id"]) == (2, 66.7)
    await engine.event(2, "deal")  # held already: counted once
    assert await rarity_of(engine, closer["id"]) == (2, 66.7)


async def test_the_list_shows_every_achievements_rarity(engine):
    first = await engine.achievement("First deal", rule("deal", "gte", 1))
    tenth = await engine.achievement("Tenth deal", rule("deal", "gte", 10))
    for user in range(1, 9):
        await engine.event(user, "deal")
    response = await engine.client.get("/api/achievements", headers=engine.headers)
    assert response.status_code == 200, response.text
    found = {a["id"]: (a["unlockedCount"], a["rarityPercent"]) for a in response.json()}
    assert found == {first["id"]: (8, 100.0), tenth["id"]: (0, 0.0)}


async def test_a_user_counts_as_active_once_from_its_first_event(engine):
    await engine.event(1, "deal")
    await engine.event(1, "deal", idempotencyKey="k-1")
    await engine.event(1, "deal", idempotencyKey="k-1")  # a repeat: changes nothing
    batch = await engine.client.post(
        "/api/events/batch",
        json={"events": [{"userId": u, "type": "deal"} for u in (1, 2, 2, 3)]},
        headers=engine.headers,
    )
    assert batch.status_code in (200, 201), batch.text
    assert await active_users(engine) == 3
    async with engine.app.state.services.database.transaction() as session:
        marked = (await session.scalars(select(User.first_event_at))).all()
    assert len(marked) == 3 and all(at is not None for at in marked)


async def test_a_user_made_without_an_event_is_not_active(engine):
    created = await engine.client.post("/api/users", json={"userId": 7}, headers=engine.headers)
    assert created.status_code == 201, created.text
    assert await active_users(engine) == 0
    await engine.event(7, "deal")
    assert await active_users(engine) == 1


async def test_a_unlock_by_hand_is_counted(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 50))
    await engine.event(1, "deal")
    response = await engine.client.put(
        "/api/users/achievements/progress/unlock",
        json={"userId": 1, "achievementId": closer["id"]},
        headers=engine.headers,
    )
    assert response.status_code == 200, response.text
    assert await rarity_of(engine, closer["id"]) == (1, 100.0)


async def test_a_perfect_quiz_counts_quiz_mastery(engine):
    await engine.event(1, "quiz.completed", data={"quizId": "q", "score": 10, "maxScore": 10})
    await engine.event(2, "deal")
    listed = await engine.client.get("/api/achievements", headers=engine.headers)
    mastery = next(a for a in listed.json() if a["key"] == "quiz-mastery")
    assert (mastery["unlockedCount"], mastery["rarityPercent"]) == (1, 50.0)


async def test_deleting_a_user_takes_its_unlocks_and_itself_off_the_counts(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    for user in (1, 2, 3, 4):
        await engine.event(user, "deal" if user < 3 else "visit")
    assert await rarity_of(engine, closer["id"]) == (2, 50.0)
    deleted = await engine.client.delete("/api/users/1", headers=engine.headers)
    assert deleted.status_code == 200, deleted.text
    assert await active_users(engine) == 3
    assert await rarity_of(engine, closer["id"]) == (1, 33.3)


async def test_deleting_an_unlocked_progress_row_is_one_holder_fewer(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event(1, "deal")
    await engine.event(2, "deal")
    response = await engine.client.delete(
        "/api/users/achievements/progress",
        params={"userId": 1, "achievementId": closer["id"]},
        headers=engine.headers,
    )
    assert response.status_code == 200, response.text
    assert await rarity_of(engine, closer["id"]) == (1, 50.0)


async def test_a_failed_transaction_counts_nothing(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    database = engine.app.state.services.database
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            rarity.count_unlock(session, closer["id"], datetime.now(UTC))
            await rarity.became_active(session)
            raise RuntimeError("rolled back")
    assert await rarity_of(engine, closer["id"]) == (0, 0.0)
    assert await active_users(engine) == 0


def test_the_percent_has_one_decimal_and_stays_within_0_and_100():
    assert rarity.percent(1, 3) == 33.3
    assert rarity.percent(2, 3) == 66.7
    assert rarity.percent(1, 7) == 14.3
    assert rarity.percent(1, 2000) == 0.1
    assert rarity.percent(0, 0) == 0.0
    assert rarity.percent(5, 4) == 100.0  # unlocked by hand for users without an event


# --- celebrations ------------------------------------------------------------------------


async def test_the_first_unlock_ever_is_first_and_later_ones_are_not(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    for user in (1, 2, 3, 4):
        await engine.event(user, "visit")
    await engine.event(1, "deal")
    await engine.event(2, "deal")
    sent = await celebrations(engine)
    assert [(p["userId"], p["first"], p["rarityPercent"]) for p in sent] == [
        (1, True, 25.0),
        (2, False, 50.0),
    ]
    for event in ("achievement:earned", "achievement:unlocked"):
        mine = [row.payload for row in await engine.room_events("user:1", event)]
        assert [(p["first"], p["rarityPercent"]) for p in mine] == [(True, 25.0)]
    assert closer["id"]


async def test_first_stays_with_the_first_holder_after_a_revoke(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event(1, "deal")
    deleted = await engine.client.delete(
        "/api/users/achievements/progress",
        params={"userId": 1, "achievementId": closer["id"]},
        headers=engine.headers,
    )
    assert deleted.status_code == 200, deleted.text
    await engine.event(2, "deal")
    assert [p["first"] for p in await celebrations(engine)] == [True, False]


async def test_the_stored_celebration_and_notification_carry_the_rarity(engine):
    await engine.achievement("Closer", rule("deal", "gte", 1))
    await engine.event(1, "deal")
    feed = await engine.client.get("/api/activity", params={"userId": 1}, headers=engine.headers)
    assert feed.status_code == 200, feed.text
    badges = [item for item in feed.json() if "Badge Earned" in item["title"]]
    assert [(b["rarityPercent"], b["first"]) for b in badges] == [(100.0, True)]
    async with engine.app.state.services.database.transaction() as session:
        notes = (await session.scalars(select(Notification))).all()
    badge_notes = [n.data for n in notes if n.type == "celebration.milestone"]
    assert [(d["rarityPercent"], d["first"]) for d in badge_notes] == [(100.0, True)]
    told = [row.payload for row in await engine.room_events("user:1", "notification")]
    assert [(p["rarityPercent"], p["first"]) for p in told if p["badgeName"] == "Closer"] == [
        (100.0, True)
    ]


async def test_other_celebrations_carry_no_rarity(engine):
    await engine.event(1, "xp", value=1000)
    sent = await celebrations(engine)
    assert sent and all(p["rarityPercent"] is None and p["first"] is False for p in sent)


async def test_two_unlocks_in_one_batch_get_their_own_percent(engine):
    await engine.achievement("Closer", rule("deal", "gte", 1))
    batch = await engine.client.post(
        "/api/events/batch",
        json={"events": [{"userId": u, "type": "deal"} for u in (1, 2, 3, 4)]},
        headers=engine.headers,
    )
    assert batch.status_code in (200, 201), batch.text
    sent = await celebrations(engine)
    assert [(p["first"], p["rarityPercent"]) for p in sent] == [
        (True, 25.0),
        (False, 50.0),
        (False, 75.0),
        (False, 100.0),
    ]


# --- concurrency --------------------------------------------------------------------------


async def test_concurrent_batches_count_exactly_and_first_once(engine):
    """Batches in flight together unlock the same achievements: every holder counted once,
    every user active once, one first unlock per achievement."""
    a = await engine.achievement("A", rule("alpha", "gte", 1))
    b = await engine.achievement("B", rule("beta", "gte", 1))
    users = list(range(1, 41))

    async def send(group: list[int]) -> None:
        # Metrics in one order in every batch: the boards' refresh rows are locked as events
        # come (not rarity's to fix; see test_counts_are_taken_last_in_one_order...).
        events = [{"userId": u, "type": t} for t in ("alpha", "beta") for u in group]
        response = await engine.client.post(
            "/api/events/batch", json={"events": events}, headers=engine.headers
        )
        assert response.status_code in (200, 201), response.text

    await asyncio.gather(*(send(users[i : i + 4]) for i in range(0, len(users), 4)))
    # Single events too: the engine's group commit keeps two groups in flight.
    await asyncio.gather(*(engine.event(u, "gamma") for u in range(41, 61)))
    assert await rarity_of(engine, a["id"]) == (40, 66.7)
    assert await rarity_of(engine, b["id"]) == (40, 66.7)
    assert await active_users(engine) == 60
    firsts = [p for p in await celebrations(engine) if p["first"]]
    assert sorted(p["badgeName"] for p in firsts) == ["A", "B"]


async def test_counts_are_taken_last_in_one_order_so_opposite_transactions_both_commit(engine):
    """Two transactions, each holding its own user's stats lock, count unlocks of the same two
    achievements in opposite orders and wait for each other before committing. Counted as
    they are asked for, they would lock the two rows crosswise (a deadlock PostgreSQL breaks by
    failing one); held back to the commit and taken in ascending id, both commit."""
    a = await engine.achievement("A", rule("alpha", "gte", 1))
    b = await engine.achievement("B", rule("beta", "gte", 1))
    for user in (1, 2):
        await engine.event(user, "visit")
    database = engine.app.state.services.database
    both_counted = asyncio.Barrier(2)

    async def count(user_id: int, order: list[int]) -> None:
        async with database.transaction() as session:
            user = await users_repo.get(session, user_id)
            assert user is not None
            await metrics.lock_stats(session, user)
            for achievement_id in order:
                rarity.count_unlock(session, achievement_id, datetime.now(UTC))
                await session.execute(text("SELECT 1"))
            if database.dialect == "postgresql":
                await both_counted.wait()

    await asyncio.wait_for(
        asyncio.gather(count(1, [a["id"], b["id"]]), count(2, [b["id"], a["id"]])), 30
    )
    assert await rarity_of(engine, a["id"]) == (2, 100.0)
    assert await rarity_of(engine, b["id"]) == (2, 100.0)


async def test_concurrent_deletions_and_unlocks_keep_the_counts(engine):
    closer = await engine.achievement("Closer", rule("deal", "gte", 1))
    for user in range(1, 11):
        await engine.event(user, "deal")

    async def delete(user: int) -> None:
        response = await engine.client.delete(f"/api/users/{user}", headers=engine.headers)
        assert response.status_code == 200, response.text

    await asyncio.gather(
        *(delete(u) for u in range(1, 6)), *(engine.event(u, "deal") for u in range(11, 16))
    )
    assert await rarity_of(engine, closer["id"]) == (10, 100.0)
    assert await active_users(engine) == 10


# --- the migration: existing data gets its counts -------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_the_migration_counts_what_is_already_there(tmp_path, dialect):
    async with contextlib.AsyncExitStack() as stack:
        if dialect == "postgresql":
            url = await stack.enter_async_context(fresh_postgres_database("accolade_rarity"))
        else:
            url = f"sqlite:///{tmp_path / 'old.db'}"
        await _migrate_old_unlocks(url)


async def _migrate_old_unlocks(url: str) -> None:
    database = Database(parse_database_url(url))
    at = datetime(2026, 11, 1, tzinfo=UTC)
    later = datetime(2026, 11, 5, tzinfo=UTC)
    try:
        async with database.engine.connect() as conn:
            await conn.run_sync(lambda sync: command.upgrade(migrate._config(sync), "0009"))
            await conn.commit()
        async with database.transaction() as session:
            for n in (1, 2, 3):
                await session.execute(
                    text(
                        "INSERT INTO users (id, user_key, key_is_int, created_at, updated_at) "
                        "VALUES (:n, :key, false, :at, :at)"
                    ),
                    {"n": n, "key": f"u{n}", "at": at},
                )
            for n, name in ((1, "Held"), (2, "Never")):
                await session.execute(
                    text(
                        "INSERT INTO achievements (id, name, type, points, rarity, secret, "
                        "requirements, rewards, is_enabled, metadata, created_at, updated_at) "
                        "VALUES (:n, :name, 'MILESTONE', 0, 'common', false, '[]', '[]', true, "
                        "'{}', :at, :at)"
                    ),
                    {"n": n, "name": name, "at": at},
                )
            for user, unlocked_at in ((1, later), (2, at)):  # user 3 only made progress
                await session.execute(
                    text(
                        "INSERT INTO user_achievements (user_id, achievement_id, unlocked_at, "
                        "metadata, created_at, updated_at) VALUES (:u, 1, :t, '{}', :at, :at)"
                    ),
                    {"u": user, "t": unlocked_at, "at": at},
                )
            await session.execute(
                text(
                    "INSERT INTO user_achievements (user_id, achievement_id, unlocked_at, "
                    "metadata, created_at, updated_at) VALUES (3, 1, NULL, '{}', :at, :at)"
                ),
                {"at": at},
            )
            for user, received in ((1, at), (1, later), (2, later)):  # user 3: no event
                await session.execute(
                    text(
                        "INSERT INTO events (user_id, type, value, occurred_at, received_at, "
                        "data, result) VALUES (:u, 'deal', 1, :t, :t, '{}', '{}')"
                    ),
                    {"u": user, "t": received},
                )
        await migrate.upgrade(database)
        async with database.transaction() as session:
            stats = {
                s.achievement_id: (s.unlocked_count, s.first_unlocked_at)
                for s in (await session.scalars(select(AchievementStats))).all()
            }
            assert stats == {1: (2, at), 2: (0, None)}
            firsts = dict((await session.execute(select(User.id, User.first_event_at))).all())
            assert firsts == {1: at, 2: later, 3: None}
            tally = await session.scalar(select(Tally.value).where(Tally.name == "active_users"))
            assert tally == 2
            assert (await rarity.rarities(session, [1, 2]))[1].percent == 100.0
    finally:
        await database.dispose()
