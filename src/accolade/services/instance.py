"""Values an instance makes for itself once and shares between nodes: the JWT secret."""

from __future__ import annotations

from sqlalchemy import select

from accolade.auth import generate_secret
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting, utcnow
from accolade.storage.upsert import insert_for

JWT_SECRET_KEY = "jwt_secret"


async def jwt_secret(database: Database, configured: str | None) -> str:
    """The configured secret, or the one generated on first start and kept in the database.

    Kept in the database (not a file) so that every node of a cluster signs and checks alike,
    and so tokens survive a restart. Concurrent first starts agree: the first insert wins.
    """
    if configured:
        return configured
    async with database.transaction() as session:
        await session.execute(
            insert_for(session, InstanceSetting)
            .values(key=JWT_SECRET_KEY, value=generate_secret(), created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        stored = await session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.key == JWT_SECRET_KEY)
        )
    assert stored is not None
    return stored
