"""Values an instance makes for itself once and shares between nodes: the JWT secret and the
cluster id (which scopes its Redis channel)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from accolade.auth import generate_secret
from accolade.storage.database import Database
from accolade.storage.models import InstanceSetting, utcnow
from accolade.storage.upsert import insert_for

JWT_SECRET_KEY = "jwt_secret"
CLUSTER_ID_KEY = "cluster_id"


async def jwt_secret(database: Database, configured: str | None) -> str:
    """The configured secret, or the one generated on first start and kept in the database.

    Kept in the database (not a file) so that every node of a cluster signs and checks alike,
    and so tokens survive a restart. Concurrent first starts agree: the first insert wins.
    """
    if configured:
        return configured
    return await _made_once(database, JWT_SECRET_KEY, generate_secret())


async def cluster_id(database: Database) -> str:
    """This installation's id, made on first start: every node on the same database shares it."""
    return await _made_once(database, CLUSTER_ID_KEY, uuid.uuid4().hex[:16])


async def _made_once(database: Database, key: str, candidate: str) -> str:
    """The value stored under `key`, storing `candidate` if there is none (first insert wins)."""
    async with database.transaction() as session:
        await session.execute(
            insert_for(session, InstanceSetting)
            .values(key=key, value=candidate, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        stored = await session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.key == key)
        )
    assert stored is not None
    return stored
