"""Reward distributions and wallets: a user's rewards and the currencies they were paid in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.rewards import RewardStatus
from accolade.storage.models import RewardDistribution, Wallet
from accolade.storage.upsert import insert_for


async def get(
    session: AsyncSession, distribution_id: int, *, for_update: bool = False
) -> RewardDistribution | None:
    """The distribution as committed now (`for_update`: row-locked on PostgreSQL)."""
    query = (
        select(RewardDistribution)
        .where(RewardDistribution.id == distribution_id)
        .execution_options(populate_existing=True)
    )
    if for_update and session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def expire_overdue(session: AsyncSession, user_id: int, now: datetime) -> int:
    """Record as EXPIRED the user's PENDING distributions whose `expires_at` has come; how many."""
    result = await session.execute(
        update(RewardDistribution)
        .where(
            RewardDistribution.user_id == user_id,
            RewardDistribution.status == RewardStatus.PENDING.value,
            RewardDistribution.expires_at.is_not(None),
            RewardDistribution.expires_at <= now,
        )
        .values(status=RewardStatus.EXPIRED.value)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def pending(session: AsyncSession, user_id: int) -> Sequence[RewardDistribution]:
    """The user's PENDING distributions, expiring soonest first (those that never expire last)."""
    query = (
        select(RewardDistribution)
        .where(
            RewardDistribution.user_id == user_id,
            RewardDistribution.status == RewardStatus.PENDING.value,
        )
        .order_by(
            RewardDistribution.expires_at.is_(None),
            RewardDistribution.expires_at,
            RewardDistribution.id,
        )
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).all()


async def history(
    session: AsyncSession, user_id: int, *, status: str | None = None, limit: int = 100
) -> Sequence[RewardDistribution]:
    """The user's distributions, newest first; only those in `status` when given."""
    query = (
        select(RewardDistribution)
        .where(RewardDistribution.user_id == user_id)
        .order_by(RewardDistribution.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if status is not None:
        query = query.where(RewardDistribution.status == status)
    return (await session.scalars(query)).all()


async def count_pending(session: AsyncSession, user_id: int) -> int:
    value = await session.scalar(
        select(func.count(RewardDistribution.id)).where(
            RewardDistribution.user_id == user_id,
            RewardDistribution.status == RewardStatus.PENDING.value,
        )
    )
    return int(value or 0)


async def credit(session: AsyncSession, user_id: int, currency: str, amount: float) -> float:
    """Add `amount` to the user's wallet in `currency` (opened on first credit); the new balance."""
    statement = insert_for(session, Wallet).values(
        user_id=user_id, currency=currency, balance=amount
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "currency"],
            set_={"balance": Wallet.balance + statement.excluded.balance},
        )
    )
    balance = await session.scalar(
        select(Wallet.balance).where(Wallet.user_id == user_id, Wallet.currency == currency)
    )
    return float(balance or 0.0)


async def balances(session: AsyncSession, user_id: int) -> dict[str, float]:
    """Every wallet of the user, by currency name."""
    rows = await session.execute(
        select(Wallet.currency, Wallet.balance)
        .where(Wallet.user_id == user_id)
        .order_by(Wallet.currency)
    )
    return {currency: float(balance) for currency, balance in rows.all()}


async def distribute(
    session: AsyncSession,
    user_id: int,
    rewards: Sequence[dict[str, Any]],
    source: str,
    source_id: str,
    now: datetime,
) -> list[int]:
    """One PENDING distribution per reward (expiring at its `expiresAt`); their ids."""
    ids: list[int] = []
    for reward in rewards:
        expires = reward.get("expiresAt")
        distribution = RewardDistribution(
            user_id=user_id,
            source=source,
            source_id=source_id,
            reward=reward,
            status="PENDING",
            expires_at=(
                datetime.fromisoformat(expires.replace("Z", "+00:00"))
                if isinstance(expires, str)
                else None
            ),
            created_at=now,
        )
        session.add(distribution)
        await session.flush()
        ids.append(distribution.id)
    return ids
