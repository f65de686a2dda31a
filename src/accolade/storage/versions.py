"""Version rows: a node caches what rarely changes (the rules, the contests that count) and
checks one row per transaction; a change writes a new random version in its own transaction,
so every node's next transaction sees it and reloads."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.storage.models import InstanceSetting, utcnow
from accolade.storage.upsert import insert_for


async def bump(session: AsyncSession, key: str) -> None:
    """Give `key` a new version; call in the transaction that makes the change."""
    version = uuid.uuid4().hex
    statement = insert_for(session, InstanceSetting).values(
        key=key, value=version, created_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": version})
    )
