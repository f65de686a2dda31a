"""Leaderboard rows: one per (metric, period, period key, user), the truth every store reads.

The listener writes them inside the event's transaction (one multi-row upsert per event); the
queries here are shared by the SQL store and the rank-change check of that same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.leaderboard.base import Board, EntryChange
from accolade.leaderboard.periods import Period
from accolade.storage.models import LeaderboardEntry, LeaderboardRefresh, TeamMember
from accolade.storage.upsert import insert_for

E = LeaderboardEntry
# Best first: higher value, then who reached it first, then the lower internal id.
BOARD_ORDER = (E.value.desc(), E.reached_at.asc(), E.user_id.asc())


def on_board(board: Board) -> ColumnElement[bool]:
    return and_(
        E.metric == board.metric, E.period == board.period, E.period_key == board.period_key
    )


def ahead_of(value: float, reached_at: datetime, user_id: int) -> ColumnElement[bool]:
    """Rows placed before a row holding (value, reached_at, user_id). The redundant bound on
    `value` lets the index scan start at that value instead of filtering the whole board."""
    return and_(
        E.value >= value,
        or_(
            E.value > value,
            and_(E.value == value, E.reached_at < reached_at),
            and_(E.value == value, E.reached_at == reached_at, E.user_id < user_id),
        ),
    )


def behind(value: float, reached_at: datetime, user_id: int) -> ColumnElement[bool]:
    return and_(
        E.value <= value,
        or_(
            E.value < value,
            and_(E.value == value, E.reached_at > reached_at),
            and_(E.value == value, E.reached_at == reached_at, E.user_id > user_id),
        ),
    )


def count_ahead(
    board: Board,
    value: float,
    reached_at: datetime,
    user_id: int,
    team: int | None = None,
    *,
    others_only: bool = False,
) -> Select[int]:
    """How many rows of `board` come before (value, reached_at, user_id): its rank minus one.
    `others_only` leaves the user's own row out (to place an earlier value of that user).

    Three counts, each one range of the board's index, instead of one scan filtered by an OR."""
    parts = [
        E.value > value,
        and_(E.value == value, E.reached_at < reached_at),
        and_(E.value == value, E.reached_at == reached_at, E.user_id < user_id),
    ]
    counts = []
    for part in parts:
        query = select(func.count()).select_from(E).where(on_board(board), part)
        if others_only:
            query = query.where(E.user_id != user_id)
        if team is not None:
            query = query.join(
                TeamMember, and_(TeamMember.user_id == E.user_id, TeamMember.team_id == team)
            )
        counts.append(query.scalar_subquery())
    return select(counts[0] + counts[1] + counts[2])


def count_between(
    board: Board,
    upper: tuple[float, datetime],
    lower: tuple[float, datetime],
    user_id: int,
) -> Select[int]:
    """How many other users' rows lie between the user's positions `upper` (better) and `lower`
    on `board`: the places the user moved. A range of the index as long as the move."""
    return (
        select(func.count())
        .select_from(E)
        .where(
            on_board(board),
            E.user_id != user_id,
            behind(upper[0], upper[1], user_id),
            ahead_of(lower[0], lower[1], user_id),
        )
    )


async def current_rows_many(
    session: AsyncSession, wanted: Sequence[tuple[Board, int]]
) -> dict[tuple[Board, int], tuple[float, datetime]]:
    """(value, reached_at) of each (board, user) of `wanted` that has a row, in one statement."""
    if not wanted:
        return {}
    # The users' rows of these metrics (a few per period each), through the user_id index; the
    # wanted boards are picked out here.
    rows = await session.execute(
        select(E.metric, E.period, E.period_key, E.user_id, E.value, E.reached_at).where(
            E.user_id.in_({user_id for _, user_id in wanted}),
            E.metric.in_({b.metric for b, _ in wanted}),
            E.period_key.in_({b.period_key for b, _ in wanted}),
        )
    )
    asked = set(wanted)
    found = {
        (Board(metric, cast(Period, period), key), user_id): (value, reached_at)
        for metric, period, key, user_id, value, reached_at in rows.all()
    }
    return {pair: position for pair, position in found.items() if pair in asked}


# Rows per statement when the moves of a transaction are written (bound parameters stay far
# below both databases' limits).
UPSERT_CHUNK_ROWS = 2000


def upserts(session: Any, moves: Sequence[tuple[Board, int, float, datetime]]) -> list[Any]:
    """Statements adding each (board, user id, delta, reached_at) to its row (created at the
    delta), RETURNING the rows as they then are. Keys must be unique across `moves`: a
    statement may touch a row once. `session`: an AsyncSession or the Session beneath it."""
    statements = []
    for start in range(0, len(moves), UPSERT_CHUNK_ROWS):
        values: list[dict[str, Any]] = [
            {
                "metric": board.metric,
                "period": board.period,
                "period_key": board.period_key,
                "user_id": user_id,
                "value": delta,
                "reached_at": reached_at,
            }
            for board, user_id, delta, reached_at in moves[start : start + UPSERT_CHUNK_ROWS]
        ]
        statement = insert_for(session, E).values(values)
        statements.append(
            statement.on_conflict_do_update(
                index_elements=[E.metric, E.period, E.period_key, E.user_id],
                set_={
                    "value": E.value + statement.excluded.value,
                    # Never backwards (another node's clock may lag a little): the Redis copy
                    # takes a row's writes in reached_at order, whatever order they arrive in.
                    "reached_at": case(
                        (
                            statement.excluded.reached_at > E.reached_at,
                            statement.excluded.reached_at,
                        ),
                        else_=E.reached_at,
                    ),
                },
            ).returning(E.metric, E.period, E.period_key, E.user_id, E.value, E.reached_at)
        )
    return statements


def changes_of(rows: Any) -> list[EntryChange]:
    """The rows an upsert returned."""
    return [
        EntryChange(Board(metric, cast(Period, period), key), user_id, value, at)
        for metric, period, key, user_id, value, at in rows
    ]


async def board_rows(session: AsyncSession, board: Board) -> list[tuple[int, float, datetime]]:
    """Every (user_id, value, reached_at) of `board` (to rebuild a copy)."""
    rows = await session.execute(select(E.user_id, E.value, E.reached_at).where(on_board(board)))
    return [(user_id, value, at) for user_id, value, at in rows.all()]


async def boards(session: AsyncSession) -> list[Board]:
    rows = await session.execute(select(E.metric, E.period, E.period_key).distinct())
    return [Board(metric, cast(Period, period), key) for metric, period, key in rows.all()]


# --- refresh throttle ---------------------------------------------------------------------------


async def ensure_refresh_rows(session: AsyncSession, boards: Sequence[str], now: datetime) -> None:
    """Create the throttle rows of boards seen for the first time (nothing if they exist)."""
    await session.execute(
        insert_for(session, LeaderboardRefresh)
        .values([{"board": b, "next_refresh_at": now, "pending": False} for b in boards])
        .on_conflict_do_nothing(index_elements=[LeaderboardRefresh.board])
    )


async def claim_refreshes(
    session: AsyncSession, boards: Sequence[str], now: datetime, interval_s: float
) -> set[str]:
    """The boards whose refresh is due, now pushed `interval_s` on: this transaction sends
    their refresh. A conditional UPDATE, so of several nodes or events only one wins a slot, and
    rows not due are not locked (events of other users do not queue behind each other)."""
    rows = await session.execute(
        update(LeaderboardRefresh)
        .where(LeaderboardRefresh.board.in_(boards), LeaderboardRefresh.next_refresh_at <= now)
        .values(next_refresh_at=now + timedelta(seconds=interval_s), pending=False)
        .returning(LeaderboardRefresh.board)
    )
    return set(rows.scalars().all())


async def mark_pending(session: AsyncSession, boards: Sequence[str]) -> None:
    """A change arrived while throttled: one trailing refresh is owed (only the first marks)."""
    await session.execute(
        update(LeaderboardRefresh)
        .where(LeaderboardRefresh.board.in_(boards), LeaderboardRefresh.pending.is_(False))
        .values(pending=True)
    )


async def claim_pending(session: AsyncSession, now: datetime, interval_s: float) -> list[str]:
    """The boards owed a trailing refresh whose slot has come, now pushed `interval_s` on."""
    rows = await session.execute(
        update(LeaderboardRefresh)
        .where(LeaderboardRefresh.pending.is_(True), LeaderboardRefresh.next_refresh_at <= now)
        .values(next_refresh_at=now + timedelta(seconds=interval_s), pending=False)
        .returning(LeaderboardRefresh.board)
    )
    return sorted(rows.scalars().all())
