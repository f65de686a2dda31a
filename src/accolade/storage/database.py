"""The engine and its sessions: one transaction per service call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from accolade.storage import commit, outbox
from accolade.support.urls import DatabaseUrl


class Database:
    """Owns the engine. `transaction()` is the only way services reach rows."""

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        pool_size: int = 10,
        pool_overflow: int = 10,
        sqlite_busy_timeout_ms: int = 5000,
    ) -> None:
        self.url = url
        self.engine = _create_engine(url, pool_size, pool_overflow, sqlite_busy_timeout_ms)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Called after a commit that wrote room events (the outbox), with them: the relay.
        self.after_outbox_commit: Callable[[list[outbox.Written]], None] | None = None
        # SQLite has one writer at a time. Queueing transactions here, in FIFO order, instead of
        # letting pooled connections race for the file lock means no request ever fails with
        # "database is locked" under load, however many arrive at once.
        self._sqlite_writer = asyncio.Lock() if url.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.url.dialect

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed when the block ends, rolled back on error.
        Work registered with `storage.commit` runs just before and just after the commit."""
        async with contextlib.AsyncExitStack() as stack:
            if self._sqlite_writer is not None:
                await stack.enter_async_context(self._sqlite_writer)
            session = await stack.enter_async_context(self._sessions())
            async with session.begin():
                yield session
                await commit.run_before_commit(session)
                written = await outbox.write(session)
                if written and self.after_outbox_commit is not None:
                    commit.after_commit(session, partial(self.after_outbox_commit, written))
            commit.run_after_commit(session)
            # Room events queued by after-commit work would never be written.
            assert not session.info.get(outbox.OUTBOX), "room events queued after the commit"

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _create_engine(
    url: DatabaseUrl, pool_size: int, pool_overflow: int, busy_timeout_ms: int
) -> AsyncEngine:
    if url.dialect == "postgresql":
        return create_async_engine(
            url.async_url,
            pool_size=pool_size,
            max_overflow=pool_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
        )

    if url.sqlite_path is not None:
        url.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url.async_url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _tune_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let us issue BEGIN ourselves (below) instead of pysqlite's lazy, deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails with SQLITE_BUSY at once when
        # another writer got there first (the busy timeout does not apply to the upgrade).
        # Taking the write lock up front makes writers queue on the busy timeout instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
