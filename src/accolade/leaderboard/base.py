"""What every leaderboard store offers: standings of one board, best first.

A board (`domain.boards`) is one metric over one calendar period (`domain.periods`). The rows
in the database (`leaderboard_entries`) are the truth; a store answers reads from them (`sql`)
or from a copy kept after each commit (`redis`), which it can rebuild from the rows at any time.
Every store orders a board the same way (`domain.boards`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from accolade.domain.boards import Board, EntryChange, Standing


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

    async def forget(self, user_id: int, boards: Sequence[Board]) -> None:
        """A deleted user (internal id) leaves the copies of these boards (a no-op when reads
        go to the database, whose rows went with the user)."""
        ...

    async def rebuild(self, board: Board | None = None) -> int:
        """Copy the database's rows again (one board, or all); returns how many rows."""
        ...

    async def close(self) -> None: ...
