"""`/api/users/{id}/profile`: a user's page: XP and level, tier, streak, achievements, wallet."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path

from accolade.api.deps import Reader, ServicesDep
from accolade.api.routing import SegmentRoute
from accolade.api.schemas import Schema
from accolade.services.profiles import Profile

router = APIRouter(prefix="/api/users", tags=["users"], route_class=SegmentRoute)

UserPath = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$", description="The user's id.")
]


class LevelProgressOut(Schema):
    current_level_xp: int
    next_level_xp: int
    xp_into_level: int
    xp_to_next_level: int
    fraction: float


class StreakOut(Schema):
    current: int
    best: int
    last_active_day: str | None


class UnlockedAchievementOut(Schema):
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


class ProfileOut(Schema):
    user_id: int | str
    user_name: str | None
    xp: int
    level: int
    level_progress: LevelProgressOut
    tier: str
    streak: StreakOut
    achievements: list[UnlockedAchievementOut]
    wallet: dict[str, float]
    pending_rewards: int
    ranks: dict[str, Any]


def _out(profile: Profile) -> ProfileOut:
    bar = profile.level_progress
    streak = profile.streak
    return ProfileOut(
        user_id=profile.user_id,
        user_name=profile.user_name,
        xp=profile.xp,
        level=profile.level,
        level_progress=LevelProgressOut(
            current_level_xp=bar.current_level_xp,
            next_level_xp=bar.next_level_xp,
            xp_into_level=bar.xp_into_level,
            xp_to_next_level=bar.xp_to_next_level,
            fraction=bar.fraction,
        ),
        tier=profile.tier,
        streak=StreakOut(
            current=streak.current,
            best=streak.best,
            last_active_day=streak.last_day.isoformat() if streak.last_day else None,
        ),
        achievements=[UnlockedAchievementOut.model_validate(a) for a in profile.achievements],
        wallet=profile.wallet,
        pending_rewards=profile.pending_rewards,
        ranks=profile.ranks,
    )


@router.get(
    "/{user_id}/profile",
    response_model=ProfileOut,
    summary="A user's profile: XP, level and tier, streak, unlocked achievements, wallet, "
    "pending rewards, and places (`ranks.xp`: all time, `ranks.revenue`: this month)",
)
async def user_profile(user_id: UserPath, services: ServicesDep, principal: Reader) -> ProfileOut:
    principal.require_user(user_id)
    return _out(await services.profiles.profile(user_id))
