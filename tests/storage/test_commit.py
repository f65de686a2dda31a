"""Work tied to a transaction's commit (`storage.commit`), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.config import Settings
from accolade.storage import commit, migrate
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting
from tests.conftest import empty_database


@pytest.fixture
async def database(settings: Settings):
    await empty_database(settings)
    database = Database(settings.database)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


async def stored(database: Database, key: str) -> str | None:
    async with database.transaction() as session:
        return await session.scalar(select(InstanceSetting.value).where(InstanceSetting.key == key))


async def test_after_commit_work_runs_once_the_rows_are_committed_in_the_order_registered(database):
    seen: list[str] = []
    async with database.transaction() as session:
        session.add(InstanceSetting(key="k", value="v"))
        commit.after_commit(session, lambda: seen.append("first"))
        commit.after_commit(session, lambda: seen.append("second"))
        assert seen == []
    assert seen == ["first", "second"]
    assert await stored(database, "k") == "v"


async def test_after_commit_work_never_runs_when_the_transaction_rolls_back(database):
    ran: list[str] = []
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            session.add(InstanceSetting(key="k", value="v"))
            commit.after_commit(session, lambda: ran.append("after"))
            raise RuntimeError("the command failed")
    assert ran == []
    assert await stored(database, "k") is None


async def test_a_failing_after_commit_callback_leaves_the_commit_and_the_others_standing(database):
    ran: list[str] = []

    def fail() -> None:
        raise ValueError("a copy could not be scheduled")

    async with database.transaction() as session:
        session.add(InstanceSetting(key="k", value="v"))
        commit.after_commit(session, fail)
        commit.after_commit(session, lambda: ran.append("next"))
    assert ran == ["next"]
    assert await stored(database, "k") == "v"


async def test_before_commit_work_writes_in_the_transaction_once_per_key(database):
    calls: list[str] = []

    async def write(session: AsyncSession) -> None:
        calls.append("write")
        session.add(InstanceSetting(key="late", value="written at the end"))

    async with database.transaction() as session:
        commit.before_commit(session, "rows", write)
        commit.before_commit(session, "rows", write)
    assert calls == ["write"]
    assert await stored(database, "late") == "written at the end"


async def test_before_commit_work_that_fails_rolls_the_whole_transaction_back(database):
    async def write(session: AsyncSession) -> None:
        raise RuntimeError("the upsert failed")

    ran: list[str] = []
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            session.add(InstanceSetting(key="k", value="v"))
            commit.before_commit(session, "rows", write)
            commit.after_commit(session, lambda: ran.append("after"))
    assert ran == []
    assert await stored(database, "k") is None
