"""Rewards: what users were given (by achievements and quests), and claiming or revoking it.

Distributions are made PENDING where they are earned (`achievements.award`, quests); here they
are listed, claimed once by their owner, or revoked by an admin. A claim pays the reward out in
the same transaction that marks it CLAIMED: XP through the engine (levels, celebrations and the
rules that read XP follow), POINTS into the `points` metric, CURRENCY into the user's wallet;
BADGE and ITEM rewards are recorded as claimed and listed in the answer for the host to honour.

Expiry is lazy: a PENDING distribution past its `expiresAt` is recorded as EXPIRED by the next
call that reads or writes it, and is treated as EXPIRED by every call before that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import wire
from accolade.domain.achievements import RewardType
from accolade.domain.errors import Conflict, NotFound
from accolade.domain.identity import Principal, UserId
from accolade.domain.rewards import RewardStatus, claim_refusal, revoke_refusal, status_as_of
from accolade.pipeline.intake import Engine
from accolade.storage import audit, metrics
from accolade.storage import rewards as repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import RewardDistribution, User, UserStats, utcnow

POINTS_METRIC = "points"
MAX_HISTORY = 500


def _shown(view: RewardView) -> dict[str, Any]:
    """The reward as `/api/rewards` shows it (the audit log's before and after)."""
    shown: dict[str, Any] = wire.encode(view)
    del shown["effects"]
    return shown


@dataclass(frozen=True, slots=True)
class RewardView:
    """A distribution as the API shows it, with the owner's id as the host application gave it.
    `effects` is set on a claim's answer: what the claim paid out."""

    id: int
    user_id: UserId
    reward_id: str | None
    source: str
    source_id: str
    type: str
    value: float
    currency: str | None
    items: list[dict[str, Any]] | None
    metadata: dict[str, Any]
    status: str
    expires_at: datetime | None
    claimed_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    effects: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: RewardDistribution, user_id: UserId) -> RewardView:
        reward: dict[str, Any] = row.reward if isinstance(row.reward, dict) else {}
        reward_id = reward.get("id")
        return cls(
            id=row.id,
            user_id=user_id,
            reward_id=None if reward_id is None else str(reward_id),
            source=row.source,
            source_id=row.source_id,
            type=str(reward.get("type", "")),
            value=float(reward.get("value") or 0),
            currency=reward.get("currency"),
            items=reward.get("items"),
            metadata=reward.get("metadata") or {},
            status=row.status,
            expires_at=row.expires_at,
            claimed_at=row.claimed_at,
            revoked_at=row.revoked_at,
            created_at=row.created_at,
        )


class RewardService:
    def __init__(self, database: Database, engine: Engine) -> None:
        self.database = database
        self.engine = engine

    async def pending(self, user_id: UserId) -> list[RewardView]:
        """The user's claimable rewards, expiring soonest first (those that never expire last).
        Ones whose time has run out are recorded as EXPIRED here and left out."""
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                return []
            await repo.expire_overdue(session, user.id, utcnow())
            rows = await repo.pending(session, user.id)
            return [RewardView.of(row, user.external_id) for row in rows]

    async def history(
        self, user_id: UserId, *, status: RewardStatus | None = None, limit: int = 100
    ) -> list[RewardView]:
        """The user's rewards in every status (or only `status`), newest first."""
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                return []
            await repo.expire_overdue(session, user.id, utcnow())
            rows = await repo.history(
                session,
                user.id,
                status=None if status is None else status.value,
                limit=min(limit, MAX_HISTORY),
            )
            return [RewardView.of(row, user.external_id) for row in rows]

    async def claim(self, distribution_id: int, principal: Principal) -> RewardView:
        """Pay the reward out and mark it CLAIMED, once. Another user's reward is 404 (its
        existence is not theirs to learn); a claimed, expired or revoked one is 409."""
        refusal: str | None = None
        async with self.database.transaction() as session:
            owner = await self._owner(session, distribution_id, principal)
            # The owner's stats lock orders this claim after any other for the same user (and
            # after their events): the second of two concurrent claims reads CLAIMED below.
            stats = await metrics.lock_stats(session, owner)
            row = await repo.get(session, distribution_id, for_update=True)
            if row is None:
                raise NotFound(f"no reward distribution {distribution_id}")
            now = utcnow()
            status = status_as_of(row.status, row.expires_at, now)
            refusal = claim_refusal(status)
            if refusal is None:
                effects = await self._pay_out(session, owner, stats, row)
                row.status = RewardStatus.CLAIMED.value
                row.claimed_at = now
                await session.flush()
                view = replace(RewardView.of(row, owner.external_id), effects=effects)
            else:
                # Recorded even though the claim is refused: the refusal commits the expiry.
                row.status = status.value
                view = RewardView.of(row, owner.external_id)
        if refusal is not None:
            raise Conflict(
                refusal,
                details={"distributionId": distribution_id, "status": view.status},
            )
        return view

    async def revoke(self, distribution_id: int) -> RewardView:
        """Take back a PENDING reward (REVOKED); one already claimed, expired or revoked is 409."""
        refusal: str | None = None
        async with self.database.transaction() as session:
            row = await repo.get(session, distribution_id)
            owner = None if row is None else await session.get(User, row.user_id)
            if row is None or owner is None:
                raise NotFound(f"no reward distribution {distribution_id}")
            # Same lock as a claim: a revoke and a claim of one reward never both succeed.
            await metrics.lock_stats(session, owner)
            row = await repo.get(session, distribution_id, for_update=True)
            if row is None:
                raise NotFound(f"no reward distribution {distribution_id}")
            now = utcnow()
            status = status_as_of(row.status, row.expires_at, now)
            refusal = revoke_refusal(status)
            before = RewardView.of(row, owner.external_id)
            if refusal is None:
                row.status = RewardStatus.REVOKED.value
                row.revoked_at = now
            else:
                row.status = status.value
            await session.flush()
            view = RewardView.of(row, owner.external_id)
            if refusal is None:
                await audit.record(
                    session,
                    "reward.revoke",
                    f"reward:{distribution_id}",
                    before=_shown(before),
                    after=_shown(view),
                )
        if refusal is not None:
            raise Conflict(
                refusal,
                details={"distributionId": distribution_id, "status": view.status},
            )
        return view

    # --- inside a claim ------------------------------------------------------------------------

    async def _owner(
        self, session: AsyncSession, distribution_id: int, principal: Principal
    ) -> User:
        row = await repo.get(session, distribution_id)
        owner = None if row is None else await session.get(User, row.user_id)
        if row is None or owner is None or not principal.may_act_for(owner.external_id):
            raise NotFound(f"no reward distribution {distribution_id}")
        return owner

    async def _pay_out(
        self, session: AsyncSession, user: User, stats: UserStats, row: RewardDistribution
    ) -> dict[str, Any]:
        """Apply the reward to the user; what changed, for the claim's answer."""
        reward: dict[str, Any] = row.reward if isinstance(row.reward, dict) else {}
        value = float(reward.get("value") or 0)
        kind = reward.get("type")
        source = f"reward:{row.source.lower()}:{row.source_id}"
        if kind == RewardType.XP:
            amount = _whole(value)
            return await self.engine.grant_xp(session, user, stats, amount, source)
        if kind == RewardType.POINTS:
            effects = await self.engine.add_to_metrics(session, user, stats, {POINTS_METRIC: value})
            total = (await metrics.totals(session, user.id, [POINTS_METRIC])).get(POINTS_METRIC)
            return {"points": {"gained": value, "total": total}, **effects}
        if kind == RewardType.CURRENCY:
            currency = str(reward.get("currency") or "")
            balance = await repo.credit(session, user.id, currency, value)
            return {"wallet": {"currency": currency, "amount": value, "balance": balance}}
        # BADGE and ITEM: recorded as claimed; the host honours them from the answer.
        return {"items": _items(reward.get("items"))}


def _whole(value: float) -> int:
    """XP are whole: half up, as the level curve rounds."""
    return math.floor(value + 0.5)


def _items(items: Sequence[Any] | None) -> list[dict[str, Any]]:
    return [item for item in items or [] if isinstance(item, dict)]
