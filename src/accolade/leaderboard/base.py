"""What every leaderboard store offers: standings of one board, best first.

A board is one metric over one calendar period (`leaderboard.periods`). The rows in the database
(`leaderboard_entries`) are the truth; a store answers reads from them (`sql`) or from a copy
kept after each commit (`redis`), which it can rebuild from the rows at any time.

The order, the same in every store: higher value first; on equal values whoever reached the
value first (`reached_at`, earlier first), then the lower internal user id. Equal values share a
value, never a place: ranks are 1, 2, 3, ... without gaps or repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from accolade.leaderboard.periods import Period


@dataclass(frozen=True, slots=True)
class Board:
    metric: str
    period: Period
    period_key: str


@dataclass(frozen=True, slots=True)
class Standing:
    """A place on a board: `user_id` is the internal id (`users.id`)."""

    rank: int
    user_id: int
    value: float


@dataclass(frozen=True, slots=True)
class EntryChange:
    """A committed row: the user's new value on `board`, reached at `reached_at`."""

    board: Board
    user_id: int
    value: float
    reached_at: datetime


def window(above: int, below: int, limit: int) -> tuple[int, int]:
    """How many places to show (above, below) a user's, of the `above` and `below` there are,
    so the answer holds at most `limit` places with the user's in the middle (one more below
    when `limit` is even); near the top or the bottom the window shifts, so it still holds
    `limit` places when the board has them."""
    room = max(limit - 1, 0)
    up = min(above, room // 2)
    down = min(below, room - up)
    up = min(above, room - down)  # the bottom was near: give its share to the places above
    return up, down


class LeaderboardStore(Protocol):
    """Reads of one board; `team` (internal team id) ranks only that team's members."""

    # True: committed rows must be handed to `apply` (a copy outside the database).
    keeps_copy: bool

    async def top(self, board: Board, limit: int, *, team: int | None = None) -> list[Standing]:
        """The first `limit` places."""
        ...

    async def around(
        self, board: Board, user_id: int, limit: int, *, team: int | None = None
    ) -> list[Standing]:
        """At most `limit` consecutive places holding the user's, centred on it (`window`);
        [] when the user has no value on the board."""
        ...

    async def standing(
        self, board: Board, user_id: int, *, team: int | None = None
    ) -> Standing | None:
        """The user's place, or None when the user has no value on the board."""
        ...

    async def places(
        self,
        board: Board,
        user_id: int,
        old: tuple[float, datetime] | None,
        new: tuple[float, datetime],
    ) -> tuple[int | None, int] | None:
        """A user's (previous, new) place for a move from `old` (None: not on the board yet)
        to `new` (value, reached_at) among the other users, or None when this store cannot
        tell cheaply (the caller counts in the database)."""
        ...

    async def apply(self, changes: Sequence[EntryChange]) -> None:
        """Take rows committed to the database (a no-op when reads go to the database)."""
        ...

    async def rebuild(self, board: Board | None = None) -> int:
        """Copy the database's rows again (one board, or all); returns how many rows."""
        ...

    async def close(self) -> None: ...
