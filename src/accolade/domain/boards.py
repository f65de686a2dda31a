"""The board vocabulary every layer speaks: a board (one metric over one calendar period,
`domain.periods`), a place on it, a committed change of a row, and the window shown around a user.

The order, the same in every store: higher value first; on equal values whoever reached the
value first (`reached_at`, earlier first), then the lower internal user id. Equal values share a
value, never a place: ranks are 1, 2, 3, ... without gaps or repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accolade.domain.periods import Period


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
