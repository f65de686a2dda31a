"""Fixing a rule: every user re-evaluated against an achievement's rule from stored history.

A user *qualifies* when the rule held at some point of their stored, unreversed history (the
replay's `first_held`: what the engine would have unlocked had the rule always been this one).
Users who qualify and do not hold it unlock quietly (their own screen and notification, not the
TV display); holders who do not qualify are revoked when the achievement is `revocable`, and kept
otherwise. "At some point", not "now": a "5 deals in an hour" badge earned last week still
qualifies although the hour has passed.

Memory stays bounded: the replay keeps no user state (`keep_users=False`), only who qualified.
Writes go in chunks of users, each its own transaction, under the users' stats locks taken in
ascending id order (`metrics.lock_stats_many`, as a batch of events takes them). Under those
locks the chunk's candidates are replayed again, so an event or a reversal that committed since
the first pass is counted before anything is unlocked or revoked.

Not replayed (they never were events): XP paid out by claimed rewards and achievements awarded
by hand. An achievement without requirements (awarded by hand only) is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.errors import Conflict, NotFound
from accolade.pipeline import rules as rules_module
from accolade.pipeline.award import award
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.replay import event_types_for, replay
from accolade.pipeline.revoke import revoke_many
from accolade.storage import audit, metrics
from accolade.storage.database import Database
from accolade.storage.models import Achievement, User, UserAchievement

log = logging.getLogger(__name__)

# Users per write transaction: short enough that an event for one of them waits little.
USERS_PER_CHUNK = 200
REASON = "the achievement's rule was changed and no longer holds for you"


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What a recompute changed: `unlocked` and `revoked` users; `kept` holders who no longer
    qualify but were kept (the achievement is not revocable)."""

    achievement_id: int
    unlocked: int = 0
    revoked: int = 0
    kept: int = 0


class RecomputeService:
    def __init__(self, database: Database, broadcaster: Broadcaster) -> None:
        self.database = database
        self.broadcaster = broadcaster

    async def recompute(self, achievement_id: int, *, chunk: int = USERS_PER_CHUNK) -> Recomputed:
        """Re-evaluate every user against the achievement's current rule (see the module).
        NotFound for no such achievement, Conflict for a disabled one."""
        async with self.database.transaction() as session:
            achievement = await session.get(Achievement, achievement_id)
            if achievement is None:
                raise NotFound(f"no achievement {achievement_id}")
            if not achievement.is_enabled:
                # A disabled achievement unlocks for nobody; enabling it backfills it.
                raise Conflict(f"achievement {achievement_id} is disabled: enable it first")
            rule = rules_module.rule_of(achievement)
            revocable = achievement.revocable
            holders = set(
                (
                    await session.scalars(
                        select(UserAchievement.user_id).where(
                            UserAchievement.achievement_id == achievement_id,
                            UserAchievement.unlocked_at.is_not(None),
                        )
                    )
                ).all()
            )
        if not rule.requirements:
            return Recomputed(achievement_id)  # awarded by hand only: nothing to re-evaluate
        # Only the events that can move the rule, where that is exact (see `event_types_for`).
        types = event_types_for([rule])
        result = await replay(self.database, [rule], keep_users=False, event_types=types)
        qualifying = {user_id for user_id, _ in result.first_held.get(achievement_id, [])}
        candidates = sorted((qualifying - holders) | (holders - qualifying))
        unlocked = revoked = kept = 0
        for start in range(0, len(candidates), chunk):
            async with self.database.transaction() as session:
                done = await self._write_chunk(
                    session, rule, revocable, candidates[start : start + chunk], types
                )
                if done[0] or done[1]:  # the audit log's entry, in the chunk's transaction
                    await audit.record(
                        session,
                        "achievement.recompute",
                        f"achievement:{achievement_id}",
                        unlocked=done[0],
                        revoked=done[1],
                        kept=done[2],
                    )
            unlocked, revoked, kept = unlocked + done[0], revoked + done[1], kept + done[2]
        if unlocked or revoked:
            log.info(
                "recompute of achievement %s: %d unlocked, %d revoked, %d kept",
                achievement_id,
                unlocked,
                revoked,
                kept,
            )
        return Recomputed(achievement_id, unlocked, revoked, kept)

    async def _write_chunk(
        self,
        session: AsyncSession,
        rule: rules_module.Rule,
        revocable: bool,
        user_ids: Sequence[int],
        event_types: list[str] | None,
    ) -> tuple[int, int, int]:
        """Unlock and revoke for these users, decided again under their locks: (unlocked,
        revoked, kept)."""
        achievement_id = rule.achievement_id
        await metrics.lock_stats_many(session, user_ids)
        users = {
            user.id: user
            for user in (await session.scalars(select(User).where(User.id.in_(user_ids)))).all()
        }
        holding = set(
            (
                await session.scalars(
                    select(UserAchievement.user_id).where(
                        UserAchievement.achievement_id == achievement_id,
                        UserAchievement.user_id.in_(user_ids),
                        UserAchievement.unlocked_at.is_not(None),
                    )
                )
            ).all()
        )
        again = await replay(
            session, [rule], users=list(users), keep_users=False, event_types=event_types
        )
        qualifying = {user_id for user_id, _ in again.first_held.get(achievement_id, [])}
        unlocked = 0
        for user_id in sorted(qualifying - holding):
            _, awarded = await award(session, self.broadcaster, users[user_id], rule, quiet=True)
            unlocked += awarded is not None
        lapsed = [users[user_id] for user_id in sorted(holding - qualifying) if user_id in users]
        if not revocable:
            return unlocked, 0, len(lapsed)
        taken = await revoke_many(session, self.broadcaster, lapsed, achievement_id, reason=REASON)
        return unlocked, len(taken), len(lapsed) - len(taken)
