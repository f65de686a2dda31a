"""The leaderboard read from the database itself: the embedded default, and the truth.

Top N walks the board's index in order (`ix_leaderboard_entries_board_order`) with a window
function for the places; a user's place is summed from the board's bucket counts and the rows of
the user's bucket (`storage.leaderboards.bucket_ahead`: the same cost at any depth); neighbours
are the rows just before and after the user's, in order. Nothing sorts or counts the whole
board. Within a team (small by nature) the members ahead are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.boards import Board, EntryChange, Standing, window
from accolade.storage import leaderboards as rows
from accolade.storage.database import Database
from accolade.storage.models import LeaderboardEntry, TeamMember

E = LeaderboardEntry


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _in_team(query: Q, team: int | None) -> Q:
    if team is None:
        return query
    return query.join(TeamMember, and_(TeamMember.user_id == E.user_id, TeamMember.team_id == team))


class SqlLeaderboard:
    keeps_copy = False

    def __init__(self, database: Database) -> None:
        self.database = database

    async def top(self, board: Board, limit: int, *, team: int | None = None) -> list[Standing]:
        place = func.row_number().over(order_by=rows.BOARD_ORDER).label("place")
        query = _in_team(select(place, E.user_id, E.value).where(rows.on_board(board)), team)
        query = query.order_by(*rows.BOARD_ORDER).limit(limit)
        async with self.database.transaction() as session:
            result = await session.execute(query)
            return [Standing(rank, user_id, value) for rank, user_id, value in result.all()]

    async def standing(
        self, board: Board, user_id: int, *, team: int | None = None
    ) -> Standing | None:
        async with self.database.transaction() as session:
            found = await _standing(session, board, user_id, team)
        return found[0] if found else None

    async def around(
        self, board: Board, user_id: int, limit: int, *, team: int | None = None
    ) -> list[Standing]:
        async with self.database.transaction() as session:
            found = await _standing(session, board, user_id, team)
            if found is None:
                return []
            me, reached_at = found
            # Up to `limit - 1` either side (two short index ranges), then the window of them.
            reach = max(limit - 1, 0)
            base = _in_team(select(E.user_id, E.value).where(rows.on_board(board)), team)
            above = (
                await session.execute(
                    base.where(rows.ahead_of(me.value, reached_at, user_id))
                    .order_by(E.value.asc(), E.reached_at.desc(), E.user_id.desc())
                    .limit(reach)
                )
            ).all()
            below = (
                await session.execute(
                    base.where(rows.behind(me.value, reached_at, user_id))
                    .order_by(*rows.BOARD_ORDER)
                    .limit(reach)
                )
            ).all()
        up, down = window(len(above), len(below), limit)
        upper = [Standing(me.rank - i, uid, value) for i, (uid, value) in enumerate(above, 1)]
        lower = [Standing(me.rank + i, uid, value) for i, (uid, value) in enumerate(below, 1)]
        return [*reversed(upper[:up]), me, *lower[:down]]

    async def places(
        self,
        board: Board,
        user_id: int,
        old: tuple[float, datetime] | None,
        new: tuple[float, datetime],
    ) -> tuple[int | None, int] | None:
        """None: counted in the event's own transaction instead (it sees the uncommitted rows)."""
        return None

    async def apply(self, changes: Sequence[EntryChange]) -> None:
        """The rows are already committed: nothing to copy."""

    async def forget(self, user_id: int, boards: Sequence[Board]) -> None:
        """The user's rows went with it: nothing to remove."""

    async def rebuild(self, board: Board | None = None) -> int:
        return 0

    async def close(self) -> None:
        return None


async def _standing(
    session: AsyncSession, board: Board, user_id: int, team: int | None
) -> tuple[Standing, datetime] | None:
    query = _in_team(
        select(E.value, E.reached_at).where(rows.on_board(board), E.user_id == user_id), team
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    value, reached_at = row
    if team is not None:
        ahead = await session.scalar(rows.count_ahead(board, value, reached_at, user_id, team))
    else:
        # The user's own row lies in its own bucket, which `bucket_ahead` leaves it out of.
        ahead = await session.scalar(
            select(
                rows.bucket_ahead(board, value, reached_at, user_id, **rows.bucket_bounds(value))
            )
        )
    return Standing(int(ahead or 0) + 1, user_id, value), reached_at
