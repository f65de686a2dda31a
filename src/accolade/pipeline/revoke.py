"""Taking an unlock back: the row, its pending rewards, the holder count, and the user is told.

What a reversal or a rule fix calls when a holder of a `revocable` achievement no longer meets its
requirements; whether to revoke is the caller's decision (revocable or not), this module revokes
what it is told. It runs in the caller's transaction, under the users' stats locks
(`metrics.lock_stats` / `lock_stats_many`: the lock an event for the same user takes first), so an
event cannot unlock again between the check and the revoke.

- `user_achievements.unlocked_at` goes back to NULL; the row (its progress) is kept, so a later
  event that meets the rule again unlocks it again, as a first unlock would.
- The achievement's PENDING reward distributions become REVOKED (`revoked_at` set). Claimed ones
  stay claimed: what was paid out is not taken back. Expired ones stay as they are.
- `storage.rarity.revoked` counts one fewer holder per revoked unlock.
- The user gets a notification and `achievement:revoked` in their own room (`user:{id}` on
  `/leaderboard`); the TV display hears nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.identity import UserId
from accolade.domain.rewards import RewardStatus
from accolade.pipeline.broadcaster import Broadcaster
from accolade.storage import rarity
from accolade.storage.models import (
    Achievement,
    RewardDistribution,
    User,
    UserAchievement,
    utcnow,
)

# `reward_distributions.source` of an achievement's rewards (pipeline/award.py gives them so).
ACHIEVEMENT_SOURCE = "ACHIEVEMENT"


@dataclass(frozen=True, slots=True)
class Revoked:
    """One unlock taken back: whose (`user_id` as the host application knows it), when, and the
    reward distributions that went from PENDING to REVOKED."""

    achievement_id: int
    user_id: UserId
    revoked_at: datetime
    distribution_ids: list[int]


async def revoke(
    session: AsyncSession,
    broadcaster: Broadcaster,
    user: User,
    achievement_id: int,
    *,
    reason: str,
) -> Revoked | None:
    """Take `user`'s unlock of `achievement_id` back (see the module's docstring); None when
    the user did not hold it. The caller holds the user's stats lock."""
    found = await revoke_many(session, broadcaster, [user], achievement_id, reason=reason)
    return found[0] if found else None


async def revoke_many(
    session: AsyncSession,
    broadcaster: Broadcaster,
    users: Sequence[User],
    achievement_id: int,
    *,
    reason: str,
) -> list[Revoked]:
    """`revoke` for many users at once, set-wise (one statement per table): what was revoked,
    in the order of `users`; users who did not hold it are left out. The caller holds their
    stats locks."""
    by_id = {user.id: user for user in users}
    if not by_id:
        return []
    now = utcnow()
    held = await session.execute(
        update(UserAchievement)
        .where(
            UserAchievement.achievement_id == achievement_id,
            UserAchievement.user_id.in_(by_id),
            UserAchievement.unlocked_at.is_not(None),
        )
        .values(unlocked_at=None, updated_at=now)
        .returning(UserAchievement.user_id)
        .execution_options(synchronize_session="fetch")
    )
    revoked_ids = set(held.scalars().all())
    if not revoked_ids:
        return []
    taken = await session.execute(
        update(RewardDistribution)
        .where(
            RewardDistribution.user_id.in_(revoked_ids),
            RewardDistribution.source == ACHIEVEMENT_SOURCE,
            RewardDistribution.source_id == str(achievement_id),
            RewardDistribution.status == RewardStatus.PENDING.value,
            # One past its expiry is EXPIRED already (domain.rewards.status_as_of).
            or_(RewardDistribution.expires_at.is_(None), RewardDistribution.expires_at > now),
        )
        .values(status=RewardStatus.REVOKED.value, revoked_at=now)
        .returning(RewardDistribution.id, RewardDistribution.user_id)
        .execution_options(synchronize_session="fetch")
    )
    distributions: dict[int, list[int]] = {}
    for distribution_id, user_id in taken.all():
        distributions.setdefault(user_id, []).append(distribution_id)
    await rarity.revoked(session, [achievement_id], len(revoked_ids))
    achievement = await session.get(Achievement, achievement_id)
    title = achievement.name if achievement is not None else f"achievement {achievement_id}"
    achievement_type = achievement.type if achievement is not None else "MILESTONE"
    done: list[Revoked] = []
    for user in users:
        if user.id not in revoked_ids:
            continue
        revoked_ids.discard(user.id)  # a user listed twice is revoked once
        await broadcaster.revocation(
            session,
            user,
            achievement_id=achievement_id,
            achievement_type=achievement_type,
            title=title,
            reason=reason,
        )
        done.append(
            Revoked(achievement_id, user.external_id, now, sorted(distributions.get(user.id, [])))
        )
    return done
