"""Users repository."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.identity import UserId, user_key
from accolade.storage.models import User, utcnow
from accolade.storage.upsert import insert_for


async def get(session: AsyncSession, user_id: UserId) -> User | None:
    result = await session.execute(select(User).where(User.user_key == user_key(user_id)))
    return result.scalar_one_or_none()


async def ensure(
    session: AsyncSession,
    user_id: UserId,
    user_name: str | None = None,
    time_zone: str | None = None,
) -> tuple[User, bool]:
    """The user, created on first sight (race-free: concurrent first sights make one row).

    Returns (user, created). A given name or time zone updates an existing user.
    """
    user = await get(session, user_id)  # the common case, one query
    if user is not None:
        await _update(session, user, user_name, time_zone)
        return user, False
    now = utcnow()
    insert = (
        insert_for(session, User)
        .values(
            user_key=user_key(user_id),
            key_is_int=isinstance(user_id, int),
            user_name=user_name,
            time_zone=time_zone,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_key"])
        .returning(User.id)
    )
    created = (await session.execute(insert)).scalar_one_or_none() is not None
    user = await get(session, user_id)
    assert user is not None  # inserted above or already there; rows are never deleted mid-call
    if not created:
        await _update(session, user, user_name, time_zone)
    return user, created


async def _update(
    session: AsyncSession, user: User, user_name: str | None, time_zone: str | None
) -> None:
    changed = False
    if user_name is not None and user.user_name != user_name:
        user.user_name = user_name
        changed = True
    if time_zone is not None and user.time_zone != time_zone:
        user.time_zone = time_zone
        changed = True
    if changed:
        await session.flush()


async def delete(session: AsyncSession, user: User) -> None:
    await session.delete(user)
    await session.flush()


async def ensure_many(
    session: AsyncSession, wanted: dict[str, tuple[UserId, str | None]]
) -> dict[str, User]:
    """The users keyed by `user_key`, created on first sight in one statement; `wanted` maps
    each key to (id as first given, name or None). A given name updates an existing user."""
    if not wanted:
        return {}
    keys = sorted(wanted)  # one order for every node: concurrent first sights cannot deadlock
    found = {
        u.user_key: u for u in (await session.scalars(select(User).where(User.user_key.in_(keys))))
    }
    missing = [k for k in keys if k not in found]
    if missing:
        now = utcnow()
        connection = await session.connection()
        await connection.execute(
            insert_for(session, User.__table__).on_conflict_do_nothing(index_elements=["user_key"]),
            [
                {
                    "user_key": k,
                    "key_is_int": isinstance(wanted[k][0], int),
                    "user_name": wanted[k][1],
                    "time_zone": None,
                    "created_at": now,
                    "updated_at": now,
                }
                for k in missing
            ],
        )
        found.update(
            (u.user_key, u)
            for u in await session.scalars(select(User).where(User.user_key.in_(missing)))
        )
    for key, (_, name) in wanted.items():
        user = found[key]
        if name is not None and user.user_name != name:
            user.user_name = name
            user.updated_at = utcnow()
    return found
