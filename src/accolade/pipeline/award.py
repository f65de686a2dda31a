"""Unlocking an achievement for a user, once: the row, its rewards, its holder count and its
celebration.

Every unlock goes through `award` (rules in the engine, quiz mastery, the unlock endpoint,
backfills), so every unlock is counted here. The count is made at the end of the transaction
(`storage.rarity`: counters take their locks last); the celebration's `rarityPercent` (this
unlock included) and `first` (the achievement's first unlock ever) are filled in then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.pipeline import rules
from accolade.pipeline.broadcaster import Broadcaster
from accolade.storage import achievements as repo
from accolade.storage import rarity
from accolade.storage import rewards as rewards_repo
from accolade.storage.models import User, UserAchievement, utcnow

UNSET = repo.UNSET


@dataclass(frozen=True, slots=True)
class Awarded:
    achievement_id: int
    name: str
    distribution_ids: list[int]


async def award(
    session: AsyncSession,
    broadcaster: Broadcaster,
    user: User,
    rule: rules.Rule,
    *,
    quiet: bool = False,
    metadata: Any = UNSET,
) -> tuple[UserAchievement, Awarded | None]:
    """Unlock `rule`'s achievement for `user` exactly once: the row, and what this call awarded
    (None when it was unlocked already). Rewards are distributed PENDING; the badge is celebrated
    (`quiet`: not on the TV display, for backfills)."""
    now = utcnow()
    row = await repo.upsert_progress(
        session, user, rule.achievement_id, metadata=metadata, unlocked_at=now
    )
    if row.unlocked_at != now:
        return row, None  # unlocked before: the upsert kept the first time
    distribution_ids = await rewards_repo.distribute(
        session, user.id, rule.rewards, "ACHIEVEMENT", str(rule.achievement_id), now
    )
    celebrated = await broadcaster.badge(
        session, user, rule.name, rule.description, icon=rule.icon, rarity=rule.rarity, quiet=quiet
    )
    amend = celebrated.amend

    def counted(counts: rarity.Rarity) -> None:
        if amend is not None:
            amend({"rarityPercent": counts.percent, "first": counts.first})

    rarity.count_unlock(session, rule.achievement_id, now, counted)
    return row, Awarded(rule.achievement_id, rule.name, distribution_ids)
