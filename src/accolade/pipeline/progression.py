"""Progression: XP, level and tier, and the daily streak, with the room events that tell the
user's screens. Called inside the event's transaction, under the user's stats lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import levels, notices, rooms, streaks
from accolade.storage.models import User, UserStats, utcnow
from accolade.storage.outbox import add_room_event


def gain_xp(
    session: AsyncSession,
    curve: levels.LevelCurve,
    user: User,
    stats: UserStats,
    amount: int,
    source: str,
) -> dict[str, Any]:
    """Add `amount` XP (never below 0 in total); level and tier follow. Returns the answer's
    `xp` part."""
    old_level = stats.level
    old_tier = levels.tier_for_level(old_level)
    stats.xp = max(0, stats.xp + amount)
    stats.level = curve.level_for_xp(stats.xp)
    stats.updated_at = utcnow()
    tier = levels.tier_for_level(stats.level)
    name = user.user_name or str(user.external_id)
    room = rooms.user(user.external_id)
    now = utcnow()
    add_room_event(
        session,
        room,
        notices.XP_GAINED,
        notices.XP_GAINED(
            user_id=user.external_id,
            user_name=name,
            amount=amount,
            source=source,
            new_total=stats.xp,
            level=stats.level,
            timestamp=now,
        ),
    )
    if stats.level > old_level:
        level_up = notices.LEVEL_UP(
            user_id=user.external_id,
            user_name=name,
            previous_level=old_level,
            new_level=stats.level,
            total_xp=stats.xp,
            timestamp=now,
        )
        add_room_event(session, room, notices.LEVEL_UP, level_up)
        add_room_event(session, room, notices.PLAYER_LEVEL_UP, level_up)
    if tier > old_tier:
        add_room_event(
            session,
            room,
            notices.PLAYER_TIER_UPGRADE,
            notices.PLAYER_TIER_UPGRADE(
                user_id=user.external_id,
                user_name=name,
                previous_tier=old_tier.label,
                new_tier=tier.label,
                level=stats.level,
                timestamp=now,
            ),
        )
    return {
        "gained": amount,
        "total": stats.xp,
        "level": stats.level,
        "previousLevel": old_level,
        "tier": tier.label,
    }


def record_day(
    session: AsyncSession, user: User, stats: UserStats, at: datetime
) -> tuple[dict[str, Any], int | None]:
    """Count the day of `at` (in the user's time zone) in the streak. Returns the answer's
    `streak` part and the streak length when it reached a milestone (a multiple of 7 days)."""
    state = streaks.StreakState(
        stats.current_streak,
        stats.best_streak,
        datetime.fromisoformat(stats.last_active_day).date() if stats.last_active_day else None,
    )
    update = streaks.record_activity(state, at, user.time_zone or "UTC")
    stats.current_streak = update.state.current
    stats.best_streak = update.state.best
    stats.last_active_day = update.state.last_day.isoformat() if update.state.last_day else None
    summary = {
        "current": stats.current_streak,
        "best": stats.best_streak,
        "lastActiveDay": stats.last_active_day,
        "reset": update.reset,
    }
    if update.changed:
        streak_moved(session, user, stats, reset=update.reset, at=utcnow())
    return summary, update.milestone


def streak_moved(
    session: AsyncSession, user: User, stats: UserStats, *, reset: bool, at: datetime
) -> None:
    """Tell the user's screen its streak as `stats` now holds it (`streak:update`)."""
    add_room_event(
        session,
        rooms.user(user.external_id),
        notices.STREAK_UPDATE,
        notices.STREAK_UPDATE(
            user_id=user.external_id,
            user_name=user.user_name or str(user.external_id),
            current_streak=stats.current_streak,
            best_streak=stats.best_streak,
            reset=reset,
            timestamp=at,
        ),
    )
