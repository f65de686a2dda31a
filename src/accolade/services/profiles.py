"""What a user's page and the activity feed show: read-only views over the engine's rows.

The profile gathers XP, level and tier, the streak as of now, unlocked achievements, wallets, the
number of claimable rewards and the user's places on the headline boards (all-time XP, this
month's revenue) where the user has one. The feed is the celebrations history, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from accolade.domain import levels, streaks
from accolade.domain.boards import Standing
from accolade.domain.errors import NotFound
from accolade.domain.identity import UserId
from accolade.domain.periods import Period
from accolade.domain.wire import iso
from accolade.storage import profiles as repo
from accolade.storage import rewards as rewards_repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import UserStats, utcnow


@dataclass(frozen=True, slots=True)
class UnlockedAchievement:
    achievement_id: int
    key: str | None
    name: str
    description: str | None
    type: str
    category: str | None
    icon: str | None
    rarity: str
    points: int
    secret: bool
    unlocked_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: UserId
    user_name: str | None
    xp: int
    level: int
    level_progress: levels.LevelProgress
    tier: str
    streak: streaks.StreakState
    achievements: list[UnlockedAchievement]
    wallet: dict[str, float]
    pending_rewards: int
    ranks: dict[str, Any]


class Standings(Protocol):
    """The leaderboards' `standing`: a user's place on the current board of a metric."""

    async def __call__(self, user_id: UserId, metric: str, period: Period) -> Standing | None: ...


# The boards a profile shows a place on: (metric, period).
PROFILE_BOARDS: tuple[tuple[str, Period], ...] = (("xp", "all"), ("revenue", "month"))


class ProfileService:
    def __init__(
        self,
        database: Database,
        curve: levels.LevelCurve = levels.DEFAULT_CURVE,
        standings: Standings | None = None,
    ) -> None:
        self.database = database
        self.standings = standings
        self.curve = curve  # the engine's, so the progress bar matches the levels it gives

    async def profile(self, user_id: UserId) -> Profile:
        """The user's profile; 404 for a user never seen. Achievements are the unlocked ones only,
        so a secret achievement shows once it is unlocked and not before."""
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            if user is None:
                raise NotFound(f"no user {user_id!r}")
            stats = await session.get(UserStats, user.id) or UserStats(
                user_id=user.id, xp=0, level=1, current_streak=0, best_streak=0
            )
            now = utcnow()
            # Recorded first, so the count below leaves out rewards whose time has run out.
            await rewards_repo.expire_overdue(session, user.id, now)
            pending = await rewards_repo.count_pending(session, user.id)
            wallet = await rewards_repo.balances(session, user.id)
            unlocked = await repo.unlocked_achievements(session, user.id)
        last_day = (
            datetime.fromisoformat(stats.last_active_day).date() if stats.last_active_day else None
        )
        # A streak whose last day is before yesterday is already lost, though the stored row only
        # learns so at the next activity.
        streak = streaks.check_streak(
            streaks.StreakState(stats.current_streak, stats.best_streak, last_day),
            now,
            user.time_zone or streaks.DEFAULT_TZ,
        )
        return Profile(
            user_id=user.external_id,
            user_name=user.user_name,
            xp=stats.xp,
            level=stats.level,
            level_progress=self.curve.progress(stats.xp),
            tier=levels.tier_for_level(stats.level).label,
            streak=streak,
            achievements=[
                UnlockedAchievement(
                    achievement_id=achievement.id,
                    key=achievement.key,
                    name=achievement.name,
                    description=achievement.description,
                    type=achievement.type,
                    category=achievement.category,
                    icon=achievement.icon,
                    rarity=achievement.rarity,
                    points=achievement.points,
                    secret=achievement.secret,
                    unlocked_at=row.unlocked_at,
                )
                for achievement, row in unlocked
                if row.unlocked_at is not None
            ],
            wallet=wallet,
            pending_rewards=pending,
            ranks=await self._ranks(user.external_id),
        )

    async def _ranks(self, user_id: UserId) -> dict[str, Any]:
        if self.standings is None:
            return {}
        ranks: dict[str, Any] = {}
        for metric, period in PROFILE_BOARDS:
            standing = await self.standings(user_id, metric, period)
            if standing is not None:
                ranks[metric] = {"period": period, "rank": standing.rank, "value": standing.value}
        return ranks

    async def activity(self, user_id: UserId | None, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest `limit` celebrations, newest first: one user's, or everyone's when
        `user_id` is None. Each is the `AchievementEvent` as it was sent, with its feed `id`."""
        async with self.database.transaction() as session:
            if user_id is None:
                rows = await repo.celebrations(session, None, limit)
            else:
                user = await users_repo.get(session, user_id)
                rows = [] if user is None else await repo.celebrations(session, user.id, limit)
            return [
                {
                    **(record.payload if isinstance(record.payload, dict) else {}),
                    "id": record.id,
                    "userId": owner.external_id,
                    "userName": owner.user_name or str(owner.external_id),
                    "achievementType": record.achievement_type,
                    "title": record.title,
                    "description": record.description,
                    "icon": record.icon,
                    "timestamp": iso(record.created_at),
                }
                for record, owner in rows
            ]
