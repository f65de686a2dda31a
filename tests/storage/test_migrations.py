"""Migrations: one schema on SQLite and PostgreSQL, matching the models, safe to run again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from accolade.storage import migrate
from accolade.storage.database import Database
from accolade.storage.models import Base


async def test_migrated_schema_matches_the_models(app):
    database: Database = app.state.services.database

    def diff(sync_connection):
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_upgrade_again_changes_nothing(app):
    database: Database = app.state.services.database
    before, after = await migrate.upgrade(database)
    assert before == after == migrate.head_revision()


async def test_metadata_is_jsonb_on_postgresql(app, backend):
    database: Database = app.state.services.database

    def column_types(sync_connection):
        return {
            c["name"]: str(c["type"])
            for c in inspect(sync_connection).get_columns("user_achievements")
        }

    async with database.engine.connect() as conn:
        types = await conn.run_sync(column_types)
    assert types["metadata"] == ("JSONB" if backend == "postgresql" else "JSON")
