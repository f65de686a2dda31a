"""Leaderboard rows: one per (metric, period, period key, user), the truth every store reads.

The listener writes them inside the event's transaction (one multi-row upsert per event); the
queries here are shared by the SQL store and the rank-change check of that same transaction.

Beside the rows, `leaderboard_buckets` counts each board's rows per value bucket
(`domain.buckets`), in the same transaction as the rows: a place is the sum of the counts
above the user's bucket plus the rows ahead inside it (`bucket_ahead`), whatever the board's size.
Whatever writes or deletes rows keeps the counts right: the listener (`bucket_changes` at its
commit), a user's deletion (`_forget_users_buckets`, before the rows cascade away), and
`rebuild_buckets` recounts a board from its rows (a repair, and the benchmark's bulk load).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    delete,
    event,
    func,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

from accolade.domain import buckets
from accolade.domain.boards import Board, EntryChange
from accolade.domain.periods import Period
from accolade.storage.models import (
    LeaderboardBucket,
    LeaderboardEntry,
    LeaderboardRefresh,
    TeamMember,
    User,
    UTCDateTime,
)
from accolade.storage.upsert import insert_for

E = LeaderboardEntry
B = LeaderboardBucket
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


# --- the bucket index ---------------------------------------------------------------------------


def _on_buckets(board: Board) -> ColumnElement[bool]:
    return and_(
        B.metric == board.metric, B.period == board.period, B.period_key == board.period_key
    )


def bucket_ahead(
    board: Board,
    value: Any,
    reached_at: Any,
    user_id: Any,
    *,
    coarse: Any,
    fine: Any,
    fine_stop: Any,
    upper: Any,
    lower: Any = None,
    below: Any = None,
    own_in_fine: Any = None,
) -> ColumnElement[int]:
    """How many rows of `board` come before (value, reached_at, user_id), other than the
    user's own row when it lies in `value`'s fine bucket: the bucket counts above that bucket
    (a coarse sum, then the fine ones up to `fine_stop`, the end of its coarse bucket) plus the
    other rows ahead inside it, whose values lie in [value, upper). Arguments may be values or
    bound parameters; `coarse`, `fine`, `fine_stop` and `upper` are `value`'s (see
    `bucket_bounds`). A user's own row in a higher bucket is counted: the caller takes it off.

    Each part is one range of an index (the buckets' primary key, the board order index)."""
    coarse_sum = (
        select(func.coalesce(func.sum(B.n), 0))
        .where(_on_buckets(board), B.level == buckets.COARSE, B.bucket > coarse)
        .scalar_subquery()
    )
    fine_sum = (
        select(func.coalesce(func.sum(B.n), 0))
        .where(_on_buckets(board), B.level == buckets.FINE, B.bucket > fine, B.bucket < fine_stop)
        .scalar_subquery()
    )
    parts = [
        and_(E.value > value, E.value < upper),
        and_(E.value == value, E.reached_at < reached_at),
        and_(E.value == value, E.reached_at == reached_at, E.user_id < user_id),
    ]
    inside = [
        select(func.count())
        .select_from(E)
        .where(on_board(board), part, E.user_id != user_id)
        .scalar_subquery()
        for part in parts
    ]
    ahead_inside: Any = inside[0] + inside[1] + inside[2]
    if below is not None:
        # Or from below: the bucket's count less the other rows behind inside it (and the
        # user's own row when it lies there, `own_in_fine` 1). A position reached now is the
        # last of its tie, so counted from below it scans nothing of a crowded value.
        in_bucket = (
            select(func.coalesce(func.sum(B.n), 0))
            .where(_on_buckets(board), B.level == buckets.FINE, B.bucket == fine)
            .scalar_subquery()
        )
        behind_parts = [
            and_(E.value >= lower, E.value < value),
            and_(E.value == value, E.reached_at > reached_at),
            and_(E.value == value, E.reached_at == reached_at, E.user_id > user_id),
        ]
        behind_inside = [
            select(func.count())
            .select_from(E)
            .where(on_board(board), part, E.user_id != user_id)
            .scalar_subquery()
            for part in behind_parts
        ]
        from_below = (
            in_bucket - own_in_fine - behind_inside[0] - behind_inside[1] - behind_inside[2]
        )
        ahead_inside = case((below == 1, from_below), else_=ahead_inside)
    return cast(ColumnElement[int], coarse_sum + fine_sum + ahead_inside)


# The columns of one position counted by `ahead_many` (name, type), bound as `{name}{index}`.
_POSITION = (
    ("i", Integer),
    ("m", String),
    ("p", String),
    ("k", String),
    ("u", Integer),
    ("v", Float),
    ("a", UTCDateTime),
    ("coarse", BigInteger),
    ("fine", BigInteger),
    ("fine_stop", BigInteger),
    ("upper", Float),
    ("lower", Float),
    ("below", Integer),
    ("own_in_fine", Integer),
)


@dataclass(frozen=True, slots=True)
class _BoardColumns:
    """A board named by columns of a statement instead of values."""

    metric: Any
    period: Any
    period_key: Any


def _ahead_of_positions(p: Any) -> Select[Any]:
    """(index, rows ahead) of each row of `p`, a selectable with the `_POSITION` columns."""
    board = cast(Board, _BoardColumns(p.c.m, p.c.p, p.c.k))
    ahead = bucket_ahead(
        board,
        p.c.v,
        p.c.a,
        p.c.u,
        coarse=p.c.coarse,
        fine=p.c.fine,
        fine_stop=p.c.fine_stop,
        upper=p.c.upper,
        lower=p.c.lower,
        below=p.c.below,
        own_in_fine=p.c.own_in_fine,
    )
    return select(p.c.i, ahead).order_by(p.c.i)


@functools.cache
def ahead_many(positions: int) -> Select[Any]:
    """One statement counting `bucket_ahead` for `positions` positions at once: (index, rows
    ahead) per position, in index order. The positions are a UNION ALL of bound rows and the
    counts correlated subqueries over them, so the database plans the counting once, however
    many positions (a scalar subquery per position made planning cost more than counting).
    Built once per size; `ahead_params` gives the parameters of each position."""
    rows_ = [
        select(*(bindparam(f"{name}{i}", type_=kind()).label(name) for name, kind in _POSITION))
        for i in range(positions)
    ]
    p = (union_all(*rows_) if positions > 1 else rows_[0]).subquery("positions")
    return _ahead_of_positions(p)


# PostgreSQL's types of the `_POSITION` columns, for `ahead_arrays`.
_PG_ARRAY: dict[Any, Any] = {
    Integer: postgresql.ARRAY(Integer),
    String: postgresql.ARRAY(String),
    Float: postgresql.ARRAY(postgresql.DOUBLE_PRECISION),
    BigInteger: postgresql.ARRAY(BigInteger),
    UTCDateTime: postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True)),
}


@functools.cache
def ahead_arrays() -> Select[Any]:
    """`ahead_many` for PostgreSQL, for any number of positions: they come as one array per
    column (`unnest`), so one statement is compiled and planned once, and the driver encodes
    the arrays instead of SQLAlchemy handling a parameter per column and position."""
    arrays: list[Any] = [bindparam(name, type_=_PG_ARRAY[kind]) for name, kind in _POSITION]
    p = (
        func.unnest(*arrays)
        .table_valued(*(column(name, kind()) for name, kind in _POSITION))
        .render_derived(name="positions", with_types=False)
    )
    return _ahead_of_positions(p)


def array_params(params: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The positions' parameters (`ahead_params`, in order) as `ahead_arrays` takes them."""
    return {
        name: [one[f"{name}{index}"] for index, one in enumerate(params)] for name, _ in _POSITION
    }


def ahead_params(
    index: int,
    board: Board,
    value: float,
    reached_at: datetime,
    user_id: int,
    *,
    own: float | None = None,
    below: bool = False,
) -> dict[str, Any]:
    """The bound parameters of position `index` of `ahead_many`: `own` is the value of the
    user's committed row (None: none), `below` counts inside the bucket from its bottom."""
    bounds = bucket_bounds(value)
    named = {
        "i": index,
        "m": board.metric,
        "p": board.period,
        "k": board.period_key,
        "u": user_id,
        "v": value,
        "a": reached_at,
        **bounds,
        "lower": buckets.fine_lower(bounds["fine"]),
        "below": int(below),
        "own_in_fine": int(own is not None and buckets.fine(own) == bounds["fine"]),
    }
    return {f"{name}{index}": named[name] for name, _ in _POSITION}


def bucket_bounds(value: float) -> dict[str, Any]:
    """`value`'s coarse and fine buckets, the end of its coarse one in fine buckets, and the
    least value above its fine bucket: the bounds `bucket_ahead` takes."""
    fine = buckets.fine(value)
    coarse = buckets.coarse_of_fine(fine)
    return {
        "coarse": coarse,
        "fine": fine,
        "fine_stop": buckets.fine_end(coarse),
        "upper": buckets.fine_upper(fine),
    }


def counted_above(own: float | None, value: float) -> bool:
    """Whether `bucket_ahead` for `value` counts the user's own row holding `own`: it does when
    that row lies in a higher fine bucket (in its own bucket it is left out by user id)."""
    return own is not None and buckets.fine(own) > buckets.fine(value)


def bucket_changes(
    moves: Iterable[tuple[Board, float | None, float | None]],
) -> Counter[tuple[str, str, str, int, int]]:
    """The count changes of rows moving from one value to another ((board, old, new), None for
    no row): -1 in each bucket left, +1 in each entered; zeros dropped."""
    deltas: Counter[tuple[str, str, str, int, int]] = Counter()
    for board, old, new in moves:
        left = buckets.buckets_of(old) if old is not None else ()
        entered = buckets.buckets_of(new) if new is not None else ()
        for level, bucket in left:
            deltas[(board.metric, board.period, board.period_key, level, bucket)] -= 1
        for level, bucket in entered:
            deltas[(board.metric, board.period, board.period_key, level, bucket)] += 1
    return Counter({key: n for key, n in deltas.items() if n})


def _bucket_upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(B)
    return statement.on_conflict_do_update(
        index_elements=[B.metric, B.period, B.period_key, B.level, B.bucket],
        set_={"n": B.n + statement.excluded.n},
    )


def write_bucket_changes(
    connection: Connection, deltas: Counter[tuple[str, str, str, int, int]]
) -> None:
    """Add `deltas` to the counts, in one executemany, in key order: every node locks the
    count rows in one order, so two transactions sharing rows cannot deadlock."""
    if not deltas:
        return
    connection.execute(
        _bucket_upsert(connection.dialect.name),
        [
            {"metric": m, "period": p, "period_key": k, "level": level, "bucket": b, "n": n}
            for (m, p, k, level, b), n in sorted(deltas.items())
        ],
    )


async def rebuild_buckets(session: AsyncSession, board: Board) -> int:
    """Count `board`'s rows per bucket again from the rows (a repair; bulk loads); returns how
    many rows were counted. Rows are not written meanwhile: on PostgreSQL a SHARE lock makes
    writers wait for this transaction (SQLite has one writer at a time by itself)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE leaderboard_entries IN SHARE MODE"))
    values = (await session.scalars(select(E.value).where(on_board(board)))).all()
    counts = buckets.count(values)
    await session.execute(delete(B).where(_on_buckets(board)))
    records = [
        {
            "metric": board.metric,
            "period": board.period,
            "period_key": board.period_key,
            "level": level,
            "bucket": bucket,
            "n": n,
        }
        for (level, bucket), n in sorted(counts.items())
    ]
    for start in range(0, len(records), UPSERT_CHUNK_ROWS):
        await session.execute(insert_for(session, B), records[start : start + UPSERT_CHUNK_ROWS])
    return len(values)


@event.listens_for(User, "before_delete")
def _forget_users_buckets(_: Mapper[User], connection: Connection, user: User) -> None:
    """A deleted user's rows go by the foreign key's cascade: take them off the counts first.
    The user's row is locked first (PostgreSQL), so no event of theirs adds a row meanwhile."""
    connection.execute(select(User.id).where(User.id == user.id).with_for_update())
    found = connection.execute(
        select(E.metric, E.period, E.period_key, E.value).where(E.user_id == user.id)
    )
    write_bucket_changes(
        connection,
        bucket_changes(
            (Board(metric, cast(Period, period), key), value, None)
            for metric, period, key, value in found
        ),
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


@functools.cache
def _row_upsert(dialect: str) -> Any:
    """Add `value` to a row (created at it), never moving `reached_at` backwards (another
    node's clock may lag a little: the Redis copy takes a row's writes in reached_at order,
    whatever order they arrive in); RETURNING the row as it then is. Built once per dialect, so
    SQLAlchemy compiles it once and sends the rows as an executemany."""
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(E)
    return statement.on_conflict_do_update(
        index_elements=[E.metric, E.period, E.period_key, E.user_id],
        set_={
            "value": E.value + statement.excluded.value,
            "reached_at": case(
                (statement.excluded.reached_at > E.reached_at, statement.excluded.reached_at),
                else_=E.reached_at,
            ),
        },
    ).returning(E.metric, E.period, E.period_key, E.user_id, E.value, E.reached_at)


def upsert_rows(
    connection: Connection, moves: Sequence[tuple[Board, int, float, datetime]]
) -> list[EntryChange]:
    """Add each (board, user id, delta, reached_at) to its row; returns the rows as written.
    Keys must be unique across `moves` (a statement may touch a row once)."""
    if not moves:
        return []
    statement = _row_upsert(connection.dialect.name)
    changes: list[EntryChange] = []
    for start in range(0, len(moves), UPSERT_CHUNK_ROWS):
        result = connection.execute(
            statement,
            [
                {
                    "metric": board.metric,
                    "period": board.period,
                    "period_key": board.period_key,
                    "user_id": user_id,
                    "value": delta,
                    "reached_at": reached_at,
                }
                for board, user_id, delta, reached_at in moves[start : start + UPSERT_CHUNK_ROWS]
            ],
        )
        changes.extend(changes_of(result))
    return changes


def delete_rows(connection: Connection, wanted: Sequence[tuple[Board, int]]) -> None:
    """Delete the (board, user id) rows (a reversal emptied them); the caller moves their
    bucket counts (`bucket_changes` with None for the new value)."""
    for board, user_id in wanted:
        connection.execute(delete(E).where(on_board(board), E.user_id == user_id))


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
