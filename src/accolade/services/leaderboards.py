"""Leaderboards: every metric by day, ISO week, month, year and all time, for everyone or a team.

The engine tells `metrics_moved` how much each metric of a user moved, inside the event's
transaction and under the user's lock. The moves of all the transaction's events are summed and
written by one upsert as it commits, with the changes of the boards' bucket counts (the
order-statistic index of `storage.leaderboards`). The user's place before and after on each
moved metric's headline board (this month for revenue, all time for other metrics) is summed
from those counts and the rows of one bucket (or read from the Redis copy), never by counting
every row ahead: its cost does not grow with the board. Sales (revenue, signups)
then follow seed 000's `analyzeSalesRepUpdate`: the highest monthly threshold crossed is
celebrated, and the rep's place on this month's revenue board goes out as `rankings:update`.

The TV display is told `leaderboard:refresh` at most once per `refresh_interval_s` per metric,
however fast events arrive: a conditional UPDATE of one row per metric decides which event (of
any node) sends it, and changes that arrive meanwhile are owed one trailing refresh.

A reversal (`pipeline.reverse`) is a move like any other, negated, at the reversed event's
`occurred_at`: the same rows of every period move down, their bucket counts follow, and places
are counted the same way. A row it brings back to 0 where no other event of the user counts
(`MetricMove.vacates`) is deleted, and the copy of its board rebuilt.

After the commit the rows are handed to the store (Redis keeps a copy; the database keeps the
truth, so a lost write only means the copy is rebuilt).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from accolade.domain import notices, rooms
from accolade.domain.boards import Board, EntryChange, Standing
from accolade.domain.errors import NotFound
from accolade.domain.identity import UserId
from accolade.domain.periods import PERIODS, Period, check_key, period_key, period_keys
from accolade.leaderboard.base import LeaderboardStore
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.commands import MetricMove
from accolade.storage import commit
from accolade.storage import leaderboards as rows
from accolade.storage import teams as teams_repo
from accolade.storage import users as users_repo
from accolade.storage.database import Database
from accolade.storage.models import User, utcnow
from accolade.storage.outbox import add_room_event

log = logging.getLogger("accolade.leaderboards")

# Sales metrics rank by the month (the contract: "milestones and ranks follow monthly revenue").
SALES_METRICS = frozenset({"revenue", "signups", "sales"})
RANKED_SALES_METRIC = "revenue"
# A sale's place change is its revenue's; its signups and count have boards, not place changes.
UNRANKED_METRICS = SALES_METRICS - {RANKED_SALES_METRIC}
REFRESH_INTERVAL_S = 1.0
MAX_LIMIT = 100
_PENDING = "accolade.leaderboards.pending"
# Places counted in one statement (two positions each): bounded so a batch of 1,000 events
# does not make one enormous statement.
COUNT_CHUNK = 100


def headline_period(metric: str) -> Period:
    """The board whose place changes an event reports: this month for sales, else all time."""
    return "month" if metric in SALES_METRICS else "all"


def _moved(position: Position | None, delta: float, now: datetime) -> Position:
    """A position after `delta`, reached `now` (never earlier than it was: the upsert's rule)."""
    if position is None:
        return delta, now
    return position[0] + delta, max(position[1], now)


def _row_order(row: tuple[Board, int]) -> tuple[str, str, str, int]:
    board, user_id = row
    return board.metric, board.period, board.period_key, user_id


Position = tuple[float, datetime]  # (value, reached_at) of a user on a board
Key = tuple[float, datetime, int]  # a row's place in board order: (-value, reached_at, user id)


def _key(position: Position, user_id: int) -> Key:
    return -position[0], position[1], user_id


@dataclass
class _Moved:
    """The users a transaction moved on one board: where each began and where each is now, as
    sorted keys, so how many more of them lie ahead of a position than when the transaction
    began is two bisections (the rows and the copy still hold where they began)."""

    initial: list[Key] = field(default_factory=list)
    current: list[Key] = field(default_factory=list)
    now: dict[int, Key] = field(default_factory=dict)  # user -> where it is now

    def move(self, user_id: int, initial: Position | None, position: Position) -> None:
        old = self.now.get(user_id)
        if old is None:
            if initial is not None:
                bisect.insort(self.initial, _key(initial, user_id))
        else:
            del self.current[bisect.bisect_left(self.current, old)]
        key = _key(position, user_id)
        bisect.insort(self.current, key)
        self.now[user_id] = key

    def passed(self, at: Position, user_id: int, initial: Position | None) -> int:
        """How many more of the other users are ahead of `at` now than at the start (negative
        when more fell behind); `initial` is where `user_id` itself began."""
        key = _key(at, user_id)
        count = bisect.bisect_left(self.current, key) - bisect.bisect_left(self.initial, key)
        own = self.now.get(user_id)
        if own is not None:  # the user is not one of the others
            count -= own < key
            if initial is not None:
                count += _key(initial, user_id) < key
        return count


@dataclass
class _Transaction:
    """What one transaction did here: its moves are written at its commit (one upsert for all
    its events), and acted on once it has committed."""

    # (board, user) -> the user's position there as this transaction leaves it (None: no row).
    positions: dict[tuple[Board, int], Position | None] = field(default_factory=dict)
    # board -> {user: position when the transaction began}: rows it has moved, not yet written.
    initial: dict[Board, dict[int, Position | None]] = field(default_factory=dict)
    # board -> the users it moved there, sorted by where they began and where they are.
    moved: dict[Board, _Moved] = field(default_factory=dict)
    # (board, user) -> the value when the transaction began, for every row it moves (watched
    # or not): its bucket counts move from there to the written row's value at the commit.
    first: dict[tuple[Board, int], float | None] = field(default_factory=dict)
    # (board, user) -> (delta summed over the transaction's events, reached_at).
    moves: dict[tuple[Board, int], Position] = field(default_factory=dict)
    changes: list[EntryChange] = field(default_factory=list)
    boards: set[str] = field(default_factory=set)  # throttle rows this transaction created
    refreshed: set[str] = field(default_factory=set)  # boards it sends a refresh for
    claimed: dict[str, datetime] = field(default_factory=dict)  # board -> end of its slot
    marked: set[str] = field(default_factory=set)  # boards it marked as owed a refresh
    throttled: bool = False
    # (board, user) rows a reversal empties: deleted at the commit when back at 0.
    vacate: set[tuple[Board, int]] = field(default_factory=set)
    vacated: list[Board] = field(default_factory=list)  # boards that lost a row so
    # board -> the period keys of the last event that moved it: its refresh is asked for at the
    # commit, every board in one order (asked event by event, two transactions moving the same
    # boards in opposite orders would lock their throttle rows crosswise).
    asks: dict[str, dict[Period, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BoardView:
    board: Board
    team: int | str | None
    entries: list[dict[str, Any]]


@dataclass(eq=False)
class _Plan:
    """One move's way through the listener: what it moves and watches, then its positions and
    places (filled in by `LeaderboardService`)."""

    move: MetricMove
    moved: dict[str, float]
    keys: dict[Period, str]
    headline: dict[str, Board]
    watched: list[Board]
    sales: bool
    before: dict[Board, Position] = field(default_factory=dict)
    after: dict[Board, Position] = field(default_factory=dict)
    passed_new: dict[Board, int] = field(default_factory=dict)
    passed_old: dict[Board, int] = field(default_factory=dict)
    places: dict[Board, tuple[int | None, int]] = field(default_factory=dict)

    @property
    def user(self) -> User:
        return self.move.user

    def moved_boards(self) -> list[Board]:
        """Every board this move writes: each moved metric in every period."""
        return [Board(m, period, self.keys[period]) for m in self.moved for period in PERIODS]

    def rank_changes(self) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        for metric, board in self.headline.items():
            previous_rank, new_rank = self.places[board]
            new_rank += self.passed_new.get(board, 0)
            if previous_rank is not None:
                previous_rank += self.passed_old.get(board, 0)
            if previous_rank == new_rank:
                continue
            changes.append(
                {
                    "metric": metric,
                    "period": board.period,
                    "periodKey": board.period_key,
                    "previousRank": previous_rank,
                    "newRank": new_rank,
                    "value": self.after[board][0],
                }
            )
        return changes


def _plan(move: MetricMove) -> _Plan | None:
    moved = {metric: delta for metric, delta in move.deltas.items() if delta}
    if not moved:
        return None
    keys = period_keys(move.occurred_at)
    headline = {
        m: Board(m, headline_period(m), keys[headline_period(m)])
        for m in moved
        if m not in UNRANKED_METRICS
    }
    watched = list(headline.values())
    sales = "revenue" in moved or "signups" in moved
    if sales:
        month = keys["month"]
        watched += [Board("revenue", "month", month), Board("signups", "month", month)]
    return _Plan(move, moved, keys, headline, list(dict.fromkeys(watched)), sales)


async def _count_places(
    session: AsyncSession, counted: list[tuple[_Plan, Board]], pending: _Transaction
) -> None:
    """Count the places of (plan, board) pairs in one statement, the new and the previous one
    alike, each from the board's bucket counts and the rows of one bucket (`bucket_ahead`):
    the cost is the same at any depth and for any jump. Only the other users' rows count: a
    user's own row still holds where the transaction began (its moves are written at the
    commit), and is taken off where the counts above the position include it."""
    if not counted:
        return
    each: list[dict[str, Any]] = []  # each position's parameters
    asked: list[tuple[int, bool, float]] = []  # (pair, is the new place, value)
    for i, (plan, board) in enumerate(counted):
        positions = [(True, plan.after[board])]
        if board in plan.before:
            positions.append((False, plan.before[board]))
        own = pending.initial.get(board, {}).get(plan.user.id)
        for is_new, (value, at) in positions:
            # The new place was reached now, after every tie: counted from its bucket's bottom.
            each.append(
                rows.ahead_params(
                    len(asked),
                    board,
                    value,
                    at,
                    plan.user.id,
                    own=own[0] if own else None,
                    below=is_new,
                )
            )
            asked.append((i, is_new, value))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        statement, params = rows.ahead_arrays(), rows.array_params(each)
    else:
        statement, params = rows.ahead_many(len(asked)), {k: v for p in each for k, v in p.items()}
    found = (await session.execute(statement, params)).all()
    places: list[list[int | None]] = [[None, 0] for _ in counted]
    for (_, ahead), (i, is_new, value) in zip(found, asked, strict=True):
        plan, board = counted[i]
        own = pending.initial.get(board, {}).get(plan.user.id)
        place = int(ahead) + 1 - rows.counted_above(own[0] if own else None, value)
        places[i][1 if is_new else 0] = place
    for (plan, board), (previous_rank, new_rank) in zip(counted, places, strict=True):
        assert new_rank is not None
        plan.places[board] = (previous_rank, new_rank)


class LeaderboardService:
    def __init__(
        self,
        database: Database,
        store: LeaderboardStore,
        broadcaster: Broadcaster,
        *,
        clock: Callable[[], datetime] = utcnow,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        self.database = database
        self.store = store
        self.broadcaster = broadcaster
        self.clock = clock
        self.refresh_interval_s = refresh_interval_s
        self._throttle_rows: set[str] = set()  # boards whose throttle row is known to exist
        # Slots this node claimed (board -> end), and those it has marked a refresh owed for.
        self._slots: dict[str, datetime] = {}
        self._pending_marked: dict[str, datetime] = {}
        self._copying: set[asyncio.Task[None]] = set()
        self._trailing: asyncio.TimerHandle | None = None

    # --- the engine's listener -------------------------------------------------------------------

    async def metrics_moved(
        self,
        session: AsyncSession,
        user: User,
        deltas: dict[str, float],
        occurred_at: datetime,
    ) -> list[dict[str, Any]]:
        """Move the user's rows; returns the user's place changes on the headline boards."""
        (ranks,) = await self.metrics_moved_many(session, [MetricMove(user, deltas, occurred_at)])
        return ranks

    async def metrics_moved_many(
        self, session: AsyncSession, moves: list[MetricMove]
    ) -> list[list[dict[str, Any]]]:
        """A transaction's moves, in order: each move's place changes on its headline boards.

        Set-wise: the users' rows are read in one statement and every place is counted in one
        statement per `COUNT_CHUNK` moves; the rows are written by one upsert at the commit."""
        pending = self._pending(session)
        now = self.clock()
        plans = [plan for move in moves if (plan := _plan(move)) is not None]
        # The rows watched, and every row moved (its bucket counts move at the commit), as they
        # were before this transaction: read in one statement, under the users' locks.
        unknown = list(
            dict.fromkeys(
                (board, plan.user.id)
                for plan in plans
                for board in [*plan.watched, *plan.moved_boards()]
                if (board, plan.user.id) not in pending.first
            )
        )
        if unknown:
            found = await rows.current_rows_many(session, unknown)
            for board, user_id in unknown:
                position = found.get((board, user_id))
                pending.first[(board, user_id)] = position[0] if position is not None else None
                if (board, user_id) not in pending.positions:
                    pending.positions[(board, user_id)] = position
                    pending.initial.setdefault(board, {})[user_id] = position
        for plan in plans:
            self._apply(plan, pending, now)
        await self._place(session, plans)
        answers: dict[int, list[dict[str, Any]]] = {}
        for plan in plans:
            ranks = plan.rank_changes()
            if plan.sales:
                await self._sales_update(
                    session, plan.user, plan.keys["month"], plan.before, plan.after, ranks
                )
            pending.asks.update(dict.fromkeys(plan.moved, plan.keys))
            answers[id(plan.move)] = ranks
        return [answers.get(id(move), []) for move in moves]

    @staticmethod
    def _apply(plan: _Plan, pending: _Transaction, now: datetime) -> None:
        """Move the plan's positions in memory, and note how the users this transaction moved
        before it now lie around it (the rows and the copy still hold where they began)."""
        uid = plan.user.id
        plan.before = {
            b: position for b in plan.watched if (position := pending.positions[(b, uid)])
        }
        plan.after = dict(plan.before)
        for board in plan.watched:
            if board.metric in plan.moved:
                plan.after[board] = _moved(plan.before.get(board), plan.moved[board.metric], now)
                pending.positions[(board, uid)] = plan.after[board]
                pending.moved.setdefault(board, _Moved()).move(
                    uid, pending.initial[board][uid], plan.after[board]
                )
        for metric, delta in plan.moved.items():
            for period in PERIODS:
                key = (Board(metric, period, plan.keys[period]), uid)
                pending.moves[key] = _moved(pending.moves.get(key), delta, now)
                if (metric, period) in plan.move.vacates:
                    pending.vacate.add(key)
        for board in plan.headline.values():
            moved = pending.moved.get(board)
            if moved is None:
                continue
            began = pending.initial[board][uid]
            plan.passed_new[board] = moved.passed(plan.after[board], uid, began)
            if board in plan.before:
                plan.passed_old[board] = moved.passed(plan.before[board], uid, began)

    async def _place(self, session: AsyncSession, plans: list[_Plan]) -> None:
        """Each plan's places on its headline boards, before and after (among the users as this
        transaction found them): from the copy when it keeps one, else counted from the rows."""
        counted: list[tuple[_Plan, Board]] = []
        for plan in plans:
            for board in plan.headline.values():
                found = None
                if self.store.keeps_copy:
                    # The copy places the user in O(log n) (as of its last write).
                    found = await self.store.places(
                        board, plan.user.id, plan.before.get(board), plan.after[board]
                    )
                if found is not None:
                    plan.places[board] = found
                else:
                    counted.append((plan, board))
        pending = self._pending(session)
        for chunk in range(0, len(counted), COUNT_CHUNK):
            await _count_places(session, counted[chunk : chunk + COUNT_CHUNK], pending)

    async def _sales_update(
        self,
        session: AsyncSession,
        user: User,
        month: str,
        before: dict[Board, Position],
        after: dict[Board, Position],
        ranks: list[dict[str, Any]],
    ) -> None:
        """Seed 000's `analyzeSalesRepUpdate`, on this month's revenue and signups."""

        def values(metric: str) -> tuple[float, float]:
            board = Board(metric, "month", month)
            old = before[board][0] if board in before else 0.0
            return old, (after[board][0] if board in after else old)

        old_revenue, new_revenue = values("revenue")
        old_signups, new_signups = values("signups")
        celebrated = await self.broadcaster.sales_milestone(
            session,
            user,
            old_revenue=old_revenue,
            new_revenue=new_revenue,
            old_signups=old_signups,
            new_signups=new_signups,
        )
        milestones = [p["title"] for p in celebrated.payloads]
        change = next((r for r in ranks if r["metric"] == RANKED_SALES_METRIC), None)
        if change is not None:
            ranked = await self.broadcaster.rank_change(
                session,
                user,
                previous_rank=change["previousRank"],
                new_rank=change["newRank"],
                metric=RANKED_SALES_METRIC,
                value=change["value"],
            )
            change["celebrations"] = [p["title"] for p in ranked.payloads]
            change["milestones"] = milestones
        elif milestones:
            ranks.append({"metric": RANKED_SALES_METRIC, "milestones": milestones})

    # --- refresh throttle ------------------------------------------------------------------------

    async def _refresh(
        self,
        session: AsyncSession,
        boards: list[str],
        keys: dict[str, dict[Period, str]],
        now: datetime,
        pending: _Transaction,
    ) -> None:
        # A refresh this transaction already sends goes out after the commit: it shows these
        # changes too (several events of a batch or group commit share one transaction).
        boards = [b for b in boards if b not in pending.refreshed]
        # Within a slot this node claimed, no claim can succeed: no need to ask the database;
        # and once the trailing refresh is owed, nothing is left to write at all.
        slotted = {b for b in boards if b in self._slots and now < self._slots[b]}
        settled = {b for b in slotted if self._pending_marked.get(b) == self._slots[b]}
        if settled:
            pending.throttled = True
        ask = [b for b in boards if b not in slotted]
        new = [b for b in ask if b not in self._throttle_rows]
        if new:
            await rows.ensure_refresh_rows(session, new, now)
            pending.boards.update(new)
        due = (
            await rows.claim_refreshes(session, ask, now, self.refresh_interval_s) if ask else set()
        )
        pending.refreshed |= due
        for board in sorted(due):
            pending.claimed[board] = now + timedelta(seconds=self.refresh_interval_s)
            add_room_event(
                session,
                rooms.TV_DISPLAY,
                notices.LEADERBOARD_REFRESH,
                notices.LEADERBOARD_REFRESH(
                    metric=board, period_keys=dict(keys[board]), timestamp=now
                ),
            )
        # Marked once per transaction: its later events find the mark already written.
        throttled = [
            b for b in boards if b not in due and b not in settled and b not in pending.marked
        ]
        if throttled:
            await rows.mark_pending(session, throttled)
            pending.marked.update(throttled)
            pending.throttled = True

    async def flush_refreshes(self) -> list[str]:
        """Send the trailing refreshes whose slot has come; returns their boards."""
        now = self.clock()
        async with self.database.transaction() as session:
            due = await rows.claim_pending(session, now, self.refresh_interval_s)
            for board in due:
                add_room_event(
                    session,
                    rooms.TV_DISPLAY,
                    notices.LEADERBOARD_REFRESH,
                    notices.LEADERBOARD_REFRESH(
                        metric=board, period_keys=period_keys(now), timestamp=now
                    ),
                )
        for board in due:  # committed: this node holds their next slot
            self._slots[board] = now + timedelta(seconds=self.refresh_interval_s)
        return due

    def _schedule_trailing(self) -> None:
        if self._trailing is not None:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._trailing = None
            self._spawn(self._flush_quietly())

        self._trailing = loop.call_later(self.refresh_interval_s, fire)

    async def _flush_quietly(self) -> None:
        try:
            await self.flush_refreshes()
        except Exception:
            log.exception("trailing leaderboard refresh failed")

    # --- after the commit ------------------------------------------------------------------------

    def _pending(self, session: AsyncSession) -> _Transaction:
        pending: _Transaction | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = _Transaction()

            def write(sync_session: Session) -> None:
                # At the end of the transaction, on its own connection: one upsert for every
                # move of every event of the transaction.
                # In one order on every node, so two transactions sharing rows cannot deadlock.
                moves = sorted(
                    ((b, uid, d, at) for (b, uid), (d, at) in pending.moves.items()),
                    key=lambda m: (m[0].metric, m[0].period, m[0].period_key, m[1]),
                )
                written = rows.upsert_rows(sync_session.connection(), moves)
                # A row a reversal brought back to 0, where no other event of the user counts,
                # goes: the board is as if the reversed event had never been sent.
                gone = {
                    (c.board, c.user_id)
                    for c in written
                    if c.value == 0 and (c.board, c.user_id) in pending.vacate
                }
                if gone:
                    rows.delete_rows(sync_session.connection(), sorted(gone, key=_row_order))
                    pending.vacated.extend(dict.fromkeys(board for board, _ in gone))
                # The rows' bucket counts, from where each row began to the value written.
                rows.write_bucket_changes(
                    sync_session.connection(),
                    rows.bucket_changes(
                        (
                            c.board,
                            pending.first[(c.board, c.user_id)],
                            None if (c.board, c.user_id) in gone else c.value,
                        )
                        for c in written
                    ),
                )
                pending.changes.extend(c for c in written if (c.board, c.user_id) not in gone)

            async def write_rows(session: AsyncSession) -> None:
                await session.run_sync(write)
                if pending.asks:
                    asks, pending.asks = pending.asks, {}
                    await self._refresh(session, sorted(asks), asks, self.clock(), pending)

            commit.before_commit(session, _PENDING, write_rows)
            commit.after_commit(session, partial(self._committed, pending))
        return pending

    def _committed(self, done: _Transaction) -> None:
        # Runs after the commit (`storage.commit`): it only schedules work.
        try:
            self._throttle_rows |= done.boards
            self._slots.update(done.claimed)
            for board in done.marked:
                if board in self._slots:
                    self._pending_marked[board] = self._slots[board]
            if done.changes and self.store.keeps_copy:
                self._spawn(self.store.apply(list(done.changes)))
            if done.vacated and self.store.keeps_copy:
                # A row gone from the database leaves the copy by a rebuild of its board (rare:
                # reversals only; `forget` is for deleted users, who never come back).
                for emptied in done.vacated:
                    self._spawn(self._rebuild_quietly(emptied))
            if done.throttled:
                self._schedule_trailing()
        except Exception:
            log.exception("scheduling leaderboard work after a commit failed")

    async def _rebuild_quietly(self, board: Board) -> None:
        try:
            await self.store.rebuild(board)
        except Exception:
            log.exception("rebuilding the copy of %s after a reversal failed", board)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._copying.add(task)
        task.add_done_callback(self._copying.discard)

    async def settled(self) -> None:
        """Wait for this node's copies still on their way to the store (read your own writes)."""
        while self._copying:
            await asyncio.gather(*list(self._copying), return_exceptions=True)

    async def close(self) -> None:
        if self._trailing is not None:
            self._trailing.cancel()
            self._trailing = None
        await self.settled()
        await self.store.close()

    # --- reads -----------------------------------------------------------------------------------

    async def board(
        self,
        metric: str,
        period: Period = "all",
        *,
        key: str | None = None,
        at: datetime | None = None,
        team: int | str | None = None,
        limit: int = 10,
        around: UserId | None = None,
    ) -> BoardView:
        """A board's places, best first: the top `limit`, or at most `limit` places holding
        `around`'s, centred on it (shifted near the top or bottom). The period is the current
        one, the one containing `at`, or `key`."""
        if key is not None:
            check_key(period, key)
        else:
            key = period_key(period, at or self.clock())
        board = Board(metric, period, key)
        team_row_id: int | None = None
        around_id: int | None = None
        async with self.database.transaction() as session:
            if team is not None:
                found_team = await teams_repo.get(session, team)
                if found_team is None:
                    raise NotFound(f"team {team!r} not found")
                team_row_id = found_team.id
            if around is not None:
                user = await users_repo.get(session, around)
                if user is None:
                    raise NotFound(f"user {around!r} not found")
                around_id = user.id
        await self.settled()
        if around_id is not None:
            standings = await self.store.around(board, around_id, limit, team=team_row_id)
        else:
            standings = await self.store.top(board, limit, team=team_row_id)
        entries = await self._entries(standings)
        if len(entries) < len(standings) and self.store.keeps_copy:
            self._spawn(self.store.rebuild(board))  # the copy still holds a deleted user
        return BoardView(board, team, entries)

    async def standing(self, user_id: UserId, metric: str, period: Period) -> Standing | None:
        """The user's place on the current board of `metric` for `period`."""
        async with self.database.transaction() as session:
            user = await users_repo.get(session, user_id)
        if user is None:
            return None
        await self.settled()
        board = Board(metric, period, period_key(period, self.clock()))
        return await self.store.standing(board, user.id)

    async def _entries(self, standings: Sequence[Standing]) -> list[dict[str, Any]]:
        if not standings:
            return []
        async with self.database.transaction() as session:
            found = await session.execute(
                select(User).where(User.id.in_([s.user_id for s in standings]))
            )
            users = {u.id: u for u in found.scalars().all()}
        entries = []
        for standing in standings:
            user = users.get(standing.user_id)
            if user is None:
                continue  # deleted since the copy was made
            entries.append(
                {
                    "rank": standing.rank,
                    "userId": user.external_id,
                    "userName": user.user_name or str(user.external_id),
                    "value": standing.value,
                }
            )
        return entries

    async def rebuild(self) -> int:
        """Copy every board to the store again (Redis after it lost its data)."""
        await self.settled()
        return await self.store.rebuild()
