"""Bring a database to the newest schema. Safe to run from several nodes at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from accolade.storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Arbitrary constant: the PostgreSQL advisory lock nodes take while migrating.
_MIGRATION_LOCK_ID = 0x616363_6F6C6164


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def upgrade(database: Database) -> tuple[str | None, str | None]:
    """Upgrade to head; returns (revision before, revision after)."""

    def _run(sync: Connection) -> tuple[str | None, str | None]:
        if sync.dialect.name == "postgresql":
            # Several nodes starting together: one migrates, the others wait and find it done.
            sync.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            sync.commit()
        try:
            before = MigrationContext.configure(sync).get_current_revision()
            command.upgrade(_config(sync), "head")
            sync.commit()
            after = MigrationContext.configure(sync).get_current_revision()
            return before, after
        finally:
            if sync.dialect.name == "postgresql":
                sync.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                sync.commit()

    async with database.engine.connect() as conn:
        return await conn.run_sync(_run)
