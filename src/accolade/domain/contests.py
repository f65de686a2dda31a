"""Contests: a status that only moves forward, a live window, and who places where. Pure; no I/O.

A contest is `DRAFT` until it goes `LIVE` (by hand, or at `startAt`), and `LIVE` until it is
`ENDED` (by hand, or at `endAt`). It never goes back, and never skips `LIVE`: a contest that was
never live has no standings to end with.

While LIVE, an entrant's moves of the contest's metric count when they occurred inside the live
window: from the moment it went live until its `endAt` (when it has one). Standings order, the
same rule as every leaderboard: higher value first; on equal values whoever reached the value
first; on the same instant, the user known to Accolade first. Equal values share a value, never
a place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ContestStatus(StrEnum):
    DRAFT = "DRAFT"
    LIVE = "LIVE"
    ENDED = "ENDED"


NEXT_STATUS: dict[ContestStatus, ContestStatus] = {
    ContestStatus.DRAFT: ContestStatus.LIVE,
    ContestStatus.LIVE: ContestStatus.ENDED,
}
PODIUM = 3


def transition_refusal(current: ContestStatus, wanted: ContestStatus) -> str | None:
    """Why `current` may not become `wanted` (None: it may)."""
    if NEXT_STATUS.get(current) is wanted:
        return None
    if current is wanted:
        return f"the contest is {current.value} already"  # (the service lets this pass)
    if current is ContestStatus.ENDED:
        return "the contest has ended; its status no longer changes"
    if current is ContestStatus.DRAFT:
        return "a contest goes LIVE before it ends (DRAFT -> LIVE -> ENDED)"
    return f"a contest never goes back: {current.value} -> {wanted.value} is not allowed"


def in_window(started_at: datetime | None, end_at: datetime | None, at: datetime) -> bool:
    """Does a move that occurred `at` count for a contest live since `started_at`?"""
    if started_at is None or at < started_at:
        return False
    return end_at is None or at < end_at


@dataclass(frozen=True, slots=True)
class Finisher:
    """A place on the final standings, with the prize it wins (when there is one)."""

    placement: int
    user_id: int  # the internal id
    value: float
    prize: str | None


def podium(
    standings: list[tuple[int, float]], prizes: list[str], size: int = PODIUM
) -> list[Finisher]:
    """The first `size` places of `(user_id, value)` standings (best first) that scored at all:
    an entrant who never moved the metric does not place. Place n wins `prizes[n - 1]`."""
    scored = [(user_id, value) for user_id, value in standings if value > 0][:size]
    return [
        Finisher(place, user_id, value, prizes[place - 1] if place <= len(prizes) else None)
        for place, (user_id, value) in enumerate(scored, start=1)
    ]
