"""Which moments are celebrated, and the words on the screen (seed 000's broadcaster rules).

Every function here is pure: it takes the before and after of an update and returns the
`Celebration`s to publish (none, one or several). The service layer stamps, stores and sends them.

Decisions the seed leaves open:
- Rank changes celebrate improvements only: a drop, even inside the top 10, is not celebrated.
  A first entry on a leaderboard (no previous rank) is celebrated when it lands in the top 10.
- Revenue and signup updates celebrate only the highest threshold crossed, once, even when one
  update jumps several thresholds; XP milestones celebrate every multiple of 1,000 crossed.
- A level jump of several levels in one award is one celebration, for the level reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from accolade.domain.levels import xp_milestones_crossed

REVENUE_THRESHOLDS: tuple[int, ...] = (
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
)
SIGNUP_THRESHOLDS: tuple[int, ...] = (10, 25, 50, 100, 250, 500, 1000)
XP_MILESTONE_STEP = 1000
STREAK_MILESTONE_DAYS = 7
RANK_TOP_N = 10
RANK_JUMP_PLACES = 5
CONTEST_PODIUM = 3

ICON_BADGE = "🏅"
ICON_LEVEL = "🎖"
ICON_XP = "⭐"
ICON_STREAK = "🔥"
ICON_REVENUE = "💰"
ICON_SIGNUPS = "📈"
ICON_RANK = "🚀"
ICON_CONTEST = "🏆"
_PLACEMENT_ICONS = {1: "🥇", 2: "🥈", 3: "🥉"}

UserId = int | str


class CelebrationType(StrEnum):
    """The `achievementType` of an `AchievementEvent`."""

    RANK = "rank"
    MILESTONE = "milestone"
    STREAK = "streak"
    CONTEST = "contest"


@dataclass(frozen=True, slots=True)
class Celebration:
    """One celebrated moment; `extra` holds the seed's per-kind fields (camelCase, JSON-ready)."""

    user_id: UserId
    user_name: str
    achievement_type: CelebrationType
    title: str
    description: str
    icon: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # A badge's: the share of active users holding it (0-100, one decimal), and whether this is
    # its first unlock ever. Other celebrations carry None and False.
    rarity_percent: float | None = None
    first: bool = False

    def as_payload(self) -> dict[str, object]:
        """The `AchievementEvent` body without its timestamp; `extra` never overrides a core key."""
        core: dict[str, object] = {
            "userId": self.user_id,
            "userName": self.user_name,
            "achievementType": self.achievement_type.value,
            "title": self.title,
            "description": self.description,
            "icon": self.icon,
            "rarityPercent": self.rarity_percent,
            "first": self.first,
        }
        return {**self.extra, **core}


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    teens = 10 <= n % 100 <= 20
    suffix = "th" if teens else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def badge_title(badge_name: str) -> str:
    """The title of a badge's celebration, also listed in the event's answer."""
    return f"{ICON_BADGE} {badge_name} Badge Earned!"


def badge_earned(
    user_id: UserId,
    user_name: str,
    badge_name: str,
    badge_description: str,
    icon: str | None = None,
    rarity: str | None = None,
    *,
    rarity_percent: float | None = None,
    first: bool = False,
) -> Celebration:
    """`🏅 {badgeName} Badge Earned!`, described by the badge's own description; `rarity` is the
    badge's own label, `rarity_percent` how many active users hold it (this unlock included)."""
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.MILESTONE,
        title=badge_title(badge_name),
        description=badge_description,
        icon=icon or ICON_BADGE,
        extra={"milestoneType": "badge", "badgeName": badge_name, "rarity": rarity},
        rarity_percent=rarity_percent,
        first=first,
    )


def level_up(
    user_id: UserId, user_name: str, old_level: int, new_level: int, total_xp: int
) -> Celebration | None:
    """`🎖 Level {n} Achieved!` when `new_level` is above `old_level`, else None."""
    if new_level <= old_level:
        return None
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.MILESTONE,
        title=f"{ICON_LEVEL} Level {new_level} Achieved!",
        description=f"Reached level {new_level} with {total_xp:,} total XP",
        icon=ICON_LEVEL,
        extra={
            "milestoneType": "level_up",
            "value": new_level,
            "previousLevel": old_level,
            "totalXp": total_xp,
        },
    )


def xp_milestones(
    user_id: UserId, user_name: str, old_xp: int, new_xp: int, step: int = XP_MILESTONE_STEP
) -> list[Celebration]:
    """`⭐ {n} XP Milestone!` for each multiple of `step` in `(old_xp, new_xp]`, ascending."""
    return [
        Celebration(
            user_id=user_id,
            user_name=user_name,
            achievement_type=CelebrationType.MILESTONE,
            title=f"{ICON_XP} {milestone:,} XP Milestone!",
            description=f"Earned {milestone:,} total experience points",
            icon=ICON_XP,
            extra={"milestoneType": "xp", "value": milestone},
        )
        for milestone in xp_milestones_crossed(old_xp, new_xp, step)
    ]


def streak_milestone(user_id: UserId, user_name: str, streak_days: int) -> Celebration | None:
    """`🔥 {n}-Day Streak!` when the streak is a positive multiple of 7 days, else None."""
    if streak_days <= 0 or streak_days % STREAK_MILESTONE_DAYS != 0:
        return None
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.STREAK,
        title=f"{ICON_STREAK} {streak_days}-Day Streak!",
        description=f"Maintained a {streak_days}-day learning streak",
        icon=ICON_STREAK,
        extra={"milestoneType": "streak", "value": streak_days},
    )


def highest_threshold_crossed(
    old_value: float, new_value: float, thresholds: Iterable[int]
) -> int | None:
    """The largest threshold `t` with `old_value < t <= new_value`, or None."""
    crossed = [t for t in thresholds if old_value < t <= new_value]
    return max(crossed) if crossed else None


def revenue_milestone(
    user_id: UserId,
    user_name: str,
    old_revenue: float,
    new_revenue: float,
    thresholds: Iterable[int] = REVENUE_THRESHOLDS,
) -> Celebration | None:
    """`💰 ${t:,} Revenue Milestone!` for the highest threshold the update crosses, else None."""
    threshold = highest_threshold_crossed(old_revenue, new_revenue, thresholds)
    if threshold is None:
        return None
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.MILESTONE,
        title=f"{ICON_REVENUE} ${threshold:,} Revenue Milestone!",
        description=f"Reached ${threshold:,} in monthly revenue",
        icon=ICON_REVENUE,
        extra={"milestoneType": "revenue", "value": new_revenue, "threshold": threshold},
    )


def signup_milestone(
    user_id: UserId,
    user_name: str,
    old_signups: float,
    new_signups: float,
    thresholds: Iterable[int] = SIGNUP_THRESHOLDS,
) -> Celebration | None:
    """`📈 {t} Signups Milestone!` (no separator, as seed 000 lists 1000) for the highest threshold
    the update crosses, else None."""
    threshold = highest_threshold_crossed(old_signups, new_signups, thresholds)
    if threshold is None:
        return None
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.MILESTONE,
        title=f"{ICON_SIGNUPS} {threshold} Signups Milestone!",
        description=f"Reached {threshold} signups",
        icon=ICON_SIGNUPS,
        extra={"milestoneType": "signups", "value": new_signups, "threshold": threshold},
    )


def should_celebrate_rank_change(old_rank: int | None, new_rank: int) -> bool:
    """True for an improvement that lands in the top 10 or climbs at least 5 places.

    `old_rank` None is a first entry on the leaderboard: celebrated when it enters the top 10.
    Ranks start at 1; an unchanged or worse rank is never celebrated.
    """
    if new_rank < 1 or (old_rank is not None and old_rank < 1):
        raise ValueError(f"ranks start at 1, got {old_rank} -> {new_rank}")
    if old_rank is None:
        return new_rank <= RANK_TOP_N
    if new_rank >= old_rank:
        return False
    return new_rank <= RANK_TOP_N or old_rank - new_rank >= RANK_JUMP_PLACES


def rank_change(
    user_id: UserId,
    user_name: str,
    old_rank: int | None,
    new_rank: int,
    metric: str = "monthly revenue",
) -> Celebration | None:
    """A `rank` celebration when `should_celebrate_rank_change` says so, else None."""
    if not should_celebrate_rank_change(old_rank, new_rank):
        return None
    if old_rank is None:
        description = f"Entered the {metric} leaderboard at #{new_rank}"
    else:
        description = f"Moved up from #{old_rank} to #{new_rank} in {metric}"
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.RANK,
        title=f"{ICON_RANK} Climbed to #{new_rank} in {metric}!",
        description=description,
        icon=ICON_RANK,
        extra={"previousRank": old_rank, "newRank": new_rank, "metric": metric},
    )


@dataclass(frozen=True, slots=True)
class ContestPlacement:
    """A finisher of a contest: `placement` 1 is the winner; `prize` as written, e.g. "$5000"."""

    user_id: UserId
    user_name: str
    placement: int
    prize: str | None = None


def contest_placement(contest_name: str, finisher: ContestPlacement) -> Celebration | None:
    """`🏆 {contestName} - 1st Place` (2nd, 3rd) for a podium finish, else None."""
    if not 1 <= finisher.placement <= CONTEST_PODIUM:
        return None
    place = ordinal(finisher.placement)
    if finisher.prize:
        description = f"Finished {place} in {contest_name} and won {finisher.prize}"
    else:
        description = f"Finished {place} in {contest_name}"
    return Celebration(
        user_id=finisher.user_id,
        user_name=finisher.user_name,
        achievement_type=CelebrationType.CONTEST,
        title=f"{ICON_CONTEST} {contest_name} - {place} Place",
        description=description,
        icon=_PLACEMENT_ICONS[finisher.placement],
        extra={
            "contestName": contest_name,
            "placement": finisher.placement,
            "prize": finisher.prize,
        },
    )


def contest_payout(contest_name: str, finishers: Sequence[ContestPlacement]) -> list[Celebration]:
    """One celebration per top-3 finisher, best placement first (ties keep their input order)."""
    podium = sorted(
        (f for f in finishers if 1 <= f.placement <= CONTEST_PODIUM), key=lambda f: f.placement
    )
    return [c for f in podium if (c := contest_placement(contest_name, f)) is not None]


ICON_QUEST = "🗺️"


def quest_complete(
    user_id: UserId,
    user_name: str,
    quest_id: int,
    quest_title: str,
    quest_description: str,
    *,
    quest_type: str | None = None,
    difficulty: str | None = None,
) -> Celebration:
    """`🗺️ {title} Quest Complete!`, described by the quest's own description."""
    return Celebration(
        user_id=user_id,
        user_name=user_name,
        achievement_type=CelebrationType.MILESTONE,
        title=f"{ICON_QUEST} {quest_title} Quest Complete!",
        description=quest_description or f"Completed the {quest_title} quest",
        icon=ICON_QUEST,
        extra={
            "milestoneType": "quest",
            "questId": quest_id,
            "questType": quest_type,
            "difficulty": difficulty,
        },
    )
