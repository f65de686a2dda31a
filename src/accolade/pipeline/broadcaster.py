"""Seed 000's broadcaster: five entry points that decide, record and queue celebrations.

Domain services call these inside their own transaction. Each celebration is written to the
history (the feed and TV replays) and to the user's notifications, and queued as room events:
`achievement:celebration` for `tv-display` and `achievement:earned` for `user:{id}`. Publishing
happens after the commit (the relay); nothing here touches a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from accolade.domain import celebrations as rules
from accolade.domain import notices, rooms
from accolade.domain.celebrations import Celebration, ContestPlacement
from accolade.domain.wire import iso
from accolade.storage.models import CelebrationRecord, Notification, User, utcnow
from accolade.storage.outbox import add_room_event


@dataclass(frozen=True, slots=True)
class Celebrated:
    """What a call celebrated (for the API's answer): the payloads as sent. `amend` (a badge's)
    adds fields known only at the end of the transaction (its rarity) to every copy."""

    payloads: list[dict[str, Any]]
    amend: Callable[[dict[str, Any]], None] | None = None


@dataclass(frozen=True, slots=True)
class _Recorded:
    """One celebration as this transaction holds it: the payload (the room events and both rows
    share it), the notification's own copy, and the rows."""

    payload: dict[str, Any]
    notification_payload: dict[str, Any]
    record: CelebrationRecord
    notification: Notification

    def amend(self, fields: dict[str, Any]) -> None:
        """Add `fields` before the commit: the queued room events are written then, and the rows
        (flushed already) are written again."""
        self.payload.update(fields)
        self.notification_payload.update(fields)
        flag_modified(self.record, "payload")
        flag_modified(self.notification, "data")


async def _notification(
    session: AsyncSession,
    user: User,
    kind: str,
    title: str,
    body: str,
    payload: dict[str, Any],
    at: datetime,
) -> Notification:
    """The user's notification of `payload`, written now: its id goes out with it
    (`notification:read {id}` needs it)."""
    notification = Notification(
        user_id=user.id, type=kind, title=title, body=body, data=payload, created_at=at
    )
    session.add(notification)
    await session.flush()
    return notification


def _notify(
    session: AsyncSession, user: User, notification: Notification, payload: dict[str, Any]
) -> dict[str, Any]:
    """Queue `notification` for the user's room: `payload` with the notification's own fields.
    Returns what is sent."""
    sent = {
        **payload,
        "id": notification.id,
        "type": notification.type,
        "title": notification.title,
        "body": notification.body,
    }
    add_room_event(session, rooms.user(user.external_id), notices.NOTIFICATION, sent)
    return sent


def _display_name(user: User) -> str:
    return user.user_name or str(user.external_id)


class Broadcaster:
    """Stateless: every method takes the caller's session so it joins the caller's transaction."""

    async def celebrate(
        self, session: AsyncSession, user: User, celebration: Celebration, *, quiet: bool = False
    ) -> dict[str, Any]:
        """Record and queue one celebration. `quiet` (backfills) skips the TV display."""
        return (await self._record(session, user, celebration, quiet=quiet)).payload

    async def _record(
        self, session: AsyncSession, user: User, celebration: Celebration, *, quiet: bool
    ) -> _Recorded:
        now = utcnow()
        payload: dict[str, Any] = {
            **celebration.as_payload(),
            "userId": user.external_id,
            "timestamp": iso(now),
        }
        record = CelebrationRecord(
            user_id=user.id,
            achievement_type=celebration.achievement_type.value,
            title=celebration.title,
            description=celebration.description,
            icon=celebration.icon,
            payload=payload,
            created_at=now,
            public=not quiet,
        )
        session.add(record)
        notification = await _notification(
            session,
            user,
            f"celebration.{celebration.achievement_type.value}",
            celebration.title,
            celebration.description,
            payload,
            now,
        )
        if not quiet:
            add_room_event(session, rooms.TV_DISPLAY, notices.ACHIEVEMENT_CELEBRATION, payload)
        add_room_event(session, rooms.user(user.external_id), notices.ACHIEVEMENT_EARNED, payload)
        notification_payload = _notify(session, user, notification, payload)
        return _Recorded(payload, notification_payload, record, notification)

    async def _all(
        self, session: AsyncSession, user: User, items: Sequence[Celebration | None]
    ) -> Celebrated:
        sent = [await self.celebrate(session, user, c) for c in items if c is not None]
        return Celebrated(sent)

    # --- seed 000's five entry points ---------------------------------------------------------

    async def badge(
        self,
        session: AsyncSession,
        user: User,
        badge_name: str,
        badge_description: str,
        *,
        icon: str | None = None,
        rarity: str | None = None,
        quiet: bool = False,
    ) -> Celebrated:
        """`🏅 {badgeName} Badge Earned!`; its `rarityPercent` and `first` are known at the end
        of the transaction (`storage.rarity.count_unlock`): the caller adds them with `amend`."""
        celebration = rules.badge_earned(
            user.external_id, _display_name(user), badge_name, badge_description, icon, rarity
        )
        recorded = await self._record(session, user, celebration, quiet=quiet)
        payload = recorded.payload
        add_room_event(session, rooms.user(user.external_id), notices.ACHIEVEMENT_UNLOCKED, payload)
        return Celebrated([payload], amend=recorded.amend)

    async def revocation(
        self,
        session: AsyncSession,
        user: User,
        *,
        achievement_id: int,
        achievement_type: str,
        title: str,
        reason: str,
    ) -> dict[str, Any]:
        """An unlock taken back: the user's notification and `achievement:revoked` to their own
        room only (never the TV: a revocation is not celebrated). Returns the payload."""
        now = utcnow()
        payload = notices.ACHIEVEMENT_REVOKED(
            user_id=user.external_id,
            user_name=_display_name(user),
            achievement_id=achievement_id,
            achievement_type=achievement_type,
            title=title,
            reason=reason,
            timestamp=now,
        )
        notification = await _notification(
            session, user, "achievement.revoked", f"{title} was taken back", reason, payload, now
        )
        add_room_event(session, rooms.user(user.external_id), notices.ACHIEVEMENT_REVOKED, payload)
        _notify(session, user, notification, payload)
        return payload

    async def training_milestone(
        self,
        session: AsyncSession,
        user: User,
        *,
        old_xp: int,
        new_xp: int,
        old_level: int,
        new_level: int,
        streak_days: int | None = None,
    ) -> Celebrated:
        """Level up (new above old), each 1,000 XP crossed, and streak multiples of 7 days."""
        name = _display_name(user)
        items: list[Celebration | None] = [
            rules.level_up(user.external_id, name, old_level, new_level, new_xp),
            *rules.xp_milestones(user.external_id, name, old_xp, new_xp),
        ]
        if streak_days is not None:
            items.append(rules.streak_milestone(user.external_id, name, streak_days))
        return await self._all(session, user, items)

    async def rank_change(
        self,
        session: AsyncSession,
        user: User,
        *,
        previous_rank: int | None,
        new_rank: int,
        metric: str,
        value: float,
    ) -> Celebrated:
        """Every change goes out as `rankings:update`; big ones (top 10 or 5+ up) are celebrated."""
        if previous_rank == new_rank:
            return Celebrated([])
        update = notices.RANKINGS_UPDATE(
            user_id=user.external_id,
            user_name=_display_name(user),
            previous_rank=previous_rank,
            new_rank=new_rank,
            metric=metric,
            value=value,
        )
        add_room_event(session, rooms.user(user.external_id), notices.RANKINGS_UPDATE, update)
        add_room_event(session, rooms.TV_DISPLAY, notices.RANKINGS_UPDATE, update)
        # Seed 003's clients hear of their own rank in their words, on `/`.
        add_room_event(session, rooms.user(user.external_id), notices.PLAYER_RANK_CHANGE, update)
        celebration = rules.rank_change(
            user.external_id, _display_name(user), previous_rank, new_rank, metric
        )
        return await self._all(session, user, [celebration])

    async def contest_achievement(
        self,
        session: AsyncSession,
        contest_name: str,
        finishers: Sequence[tuple[User, int, str | None]],
    ) -> Celebrated:
        """One celebration per top-3 finisher: (user, placement, prize)."""
        sent: list[dict[str, Any]] = []
        for user, placement, prize in finishers:
            celebration = rules.contest_placement(
                contest_name,
                ContestPlacement(user.external_id, _display_name(user), placement, prize),
            )
            if celebration is not None:
                sent.append(await self.celebrate(session, user, celebration))
        return Celebrated(sent)

    async def sales_milestone(
        self,
        session: AsyncSession,
        user: User,
        *,
        old_revenue: float,
        new_revenue: float,
        old_signups: float,
        new_signups: float,
    ) -> Celebrated:
        """The highest revenue and the highest signup threshold this update crosses."""
        name = _display_name(user)
        return await self._all(
            session,
            user,
            [
                rules.revenue_milestone(user.external_id, name, old_revenue, new_revenue),
                rules.signup_milestone(user.external_id, name, old_signups, new_signups),
            ],
        )
