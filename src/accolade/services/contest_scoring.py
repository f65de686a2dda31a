"""Contest scoring: the engine's metric listener, and the node's cache of contests that count.

Inside the event's transaction, an entrant's move of a contest's metric that occurred inside the
contest's window is added to its row, and its place before and after is counted from the rows
(never by sorting the contest). Users in no contest cost one read of a version row per
transaction (not per event): the node keeps the contests that can count (LIVE, and DRAFT ones
with a `startAt`) per metric, and reloads them only when that row, bumped by every change to a
contest, has moved (as `pipeline.rules` does for achievements).

The window is `[startAt, endAt)` as scheduled (or from the moment it went LIVE by hand, when
that was earlier), so a move counts or not by when it occurred, not by how quickly the scheduler
flipped the status. A change of standings goes to room `contest:{id}` as `contest:update`
(`/leaderboard`) and `leaderboard:update` (seed 003's `/`), with the top places, at most once
per `UPDATE_INTERVAL_S` per contest from each node (`UpdateThrottle`): changes that arrive
meanwhile are owed one trailing update with the standings as they are then, so the last state
always goes out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import notices, rooms
from accolade.domain.contests import ContestStatus, in_window
from accolade.storage import commit, versions
from accolade.storage import contests as repo
from accolade.storage.models import Contest, InstanceSetting, User, utcnow
from accolade.storage.outbox import add_room_event

if TYPE_CHECKING:  # the engine imports `services.contests`, which imports this module
    from accolade.pipeline.commands import MetricMove

CONTESTS_VERSION_KEY = "contests_version"
# Places sent with each standings change, and with `contest:ended`.
BOARD_SIZE = 10
_COUNTING_INFO = "accolade.contests.counting"  # session.info: the index read in this transaction
_HELD_INFO = "accolade.contests.held"  # session.info: updates held back, owed after the commit
# At most one `contest:update` a second per contest (and node), like `leaderboard:refresh`.
UPDATE_INTERVAL_S = 1.0

log = logging.getLogger("accolade.contests")


def display_name(user: User) -> str:
    return user.user_name or str(user.external_id)


def entry_out(rank: int, user: User, value: float) -> dict[str, Any]:
    return {
        "rank": rank,
        "userId": user.external_id,
        "userName": display_name(user),
        "value": value,
    }


async def board(
    session: AsyncSession, contest_id: int, limit: int = BOARD_SIZE
) -> list[dict[str, Any]]:
    """The first `limit` places, `{rank, userId, userName, value}`, best first."""
    return [entry_out(r, u, v) for r, u, v in await repo.standings(session, contest_id, limit)]


# --- the node's cache of contests that can count -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Counting:
    """A contest an event may count for: LIVE, or DRAFT and scheduled (it counts from startAt)."""

    id: int
    name: str
    metric: str
    window_start: datetime | None
    end_at: datetime | None


@dataclass
class CountingIndex:
    version: str | None = None
    by_metric: dict[str, list[Counting]] = field(default_factory=dict)


def window_start(contest: Contest) -> datetime | None:
    """LIVE: from its scheduled start, or from when it went LIVE if that was earlier (by hand).
    DRAFT: from its scheduled start (the scheduler's lag does not shorten the window)."""
    times = [t for t in (contest.start_at, contest.started_at) if t is not None]
    return min(times) if times else None


async def bump_version(session: AsyncSession) -> None:
    """Tell every node's cache that contests changed; call in the changing transaction."""
    await versions.bump(session, CONTESTS_VERSION_KEY)


class CountingContests:
    """The contests that can count, per metric, cached per node and checked once per
    transaction against the version row (as `pipeline.rules` does for achievements)."""

    def __init__(self) -> None:
        self._index = CountingIndex()

    async def current(self, session: AsyncSession) -> CountingIndex:
        known: CountingIndex | None = session.info.get(_COUNTING_INFO)
        if known is not None:
            return known
        version = await session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.key == CONTESTS_VERSION_KEY)
        )
        if version != self._index.version:
            self._index = await self._load(session, version)
        session.info[_COUNTING_INFO] = self._index
        return self._index

    async def _load(self, session: AsyncSession, version: str | None) -> CountingIndex:
        rows = await session.scalars(
            select(Contest).where(
                (Contest.status == ContestStatus.LIVE.value)
                | ((Contest.status == ContestStatus.DRAFT.value) & Contest.start_at.is_not(None))
            )
        )
        by_metric: dict[str, list[Counting]] = defaultdict(list)
        for contest in rows:
            by_metric[contest.metric].append(
                Counting(
                    contest.id, contest.name, contest.metric, window_start(contest), contest.end_at
                )
            )
        return CountingIndex(version, dict(by_metric))


# --- the update throttle -------------------------------------------------------------------------

Flush = Callable[[dict[int, dict[str, Any]]], Awaitable[None]]


class UpdateThrottle:
    """Lets one standings update per contest through every `interval_s` on this node.

    A change inside the interval is held back; once its transaction has committed it is owed,
    and when the contest's slot comes `flush` sends the owed update (the latest held) with the
    standings read afresh. Held updates of a transaction that rolls back are never owed.
    """

    def __init__(
        self,
        flush: Flush,
        interval_s: float = UPDATE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flush = flush
        self.interval_s = interval_s
        self.clock = clock
        self._sent_at: dict[int, float] = {}  # contest id -> when its last update was sent
        self._owed: dict[int, dict[str, Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def admit(self, session: AsyncSession, contest_id: int, update: dict[str, Any]) -> bool:
        """Whether this transaction sends `update` now; if not, it is owed after the commit."""
        now = self.clock()
        last = self._sent_at.get(contest_id)
        if last is None or now - last >= self.interval_s:
            self._sent_at[contest_id] = now
            return True
        held: dict[int, dict[str, Any]] | None = session.info.get(_HELD_INFO)
        if held is None:
            held = session.info[_HELD_INFO] = {}
            owed = held

            commit.after_commit(session, partial(self._owe, owed))
        held[contest_id] = update
        return False

    def _owe(self, held: dict[int, dict[str, Any]]) -> None:
        self._owed.update(held)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or not self._owed:
            return
        now = self.clock()
        delay_s = min(
            self._sent_at.get(contest_id, now) + self.interval_s - now for contest_id in self._owed
        )
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay_s), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock()
        due = {
            contest_id: update
            for contest_id, update in self._owed.items()
            if now - self._sent_at.get(contest_id, now - self.interval_s) >= self.interval_s
        }
        for contest_id in due:
            del self._owed[contest_id]
            self._sent_at[contest_id] = now
        if due:
            task = asyncio.get_running_loop().create_task(self._send(due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._schedule()

    async def _send(self, due: dict[int, dict[str, Any]]) -> None:
        try:
            await self._flush(due)
        except Exception:
            log.exception("trailing contest updates failed: %s", sorted(due))

    async def close(self) -> None:
        """Stop: owed updates are dropped (clients catch up over REST on reconnect)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._owed.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def add_update(session: AsyncSession, contest_id: int, update: dict[str, Any]) -> None:
    """A standings update, in each namespace's words."""
    room = rooms.contest(contest_id)
    add_room_event(session, room, notices.CONTEST_UPDATE, update)
    add_room_event(session, room, notices.LEADERBOARD_UPDATE, update)  # seed 003's `/`


# --- scoring: the engine's metric listener -------------------------------------------------------


class ContestScoring:
    """Adds entrants' metric moves to the contests they count for (`Engine.listeners`)."""

    def __init__(self, counting: CountingContests, updates: UpdateThrottle | None = None) -> None:
        self.counting = counting
        self.updates = updates  # None: every change is sent at once

    async def metrics_moved_many(
        self, session: AsyncSession, moves: list[MetricMove]
    ) -> list[list[dict[str, Any]]]:
        """A transaction's moves: with no contest that can count (the common case), one cached
        look-up for all of them and nothing else."""
        index = await self.counting.current(session)
        if not index.by_metric and all(move.contests is None for move in moves):
            return [[] for _ in moves]
        return [
            await self.metrics_moved(session, move.user, move.deltas, move.occurred_at)
            if move.contests is None
            else await self._reversed(session, move.user, move.deltas, move.contests)
            for move in moves
        ]

    async def _reversed(
        self,
        session: AsyncSession,
        user: User,
        deltas: dict[str, float],
        contests: frozenset[int],
    ) -> list[dict[str, Any]]:
        """A reversal's move: back out of exactly the contests the event counted in (whatever
        their status now: an ENDED contest's standings are corrected too), except one already
        paid out, whose payout stands (its standings are what was paid)."""
        if not contests:
            return []
        rows = await session.scalars(select(Contest).where(Contest.id.in_(sorted(contests))))
        candidates = [
            (
                Counting(row.id, row.name, row.metric, window_start(row), row.end_at),
                deltas[row.metric],
            )
            for row in rows
            if deltas.get(row.metric) and row.paid_out_at is None
        ]
        return await self._score(session, user, candidates)

    async def metrics_moved(
        self,
        session: AsyncSession,
        user: User,
        deltas: dict[str, float],
        occurred_at: datetime,
    ) -> list[dict[str, Any]]:
        index = await self.counting.current(session)
        if not index.by_metric:
            return []
        candidates = [
            (contest, delta)
            for metric, delta in deltas.items()
            if delta
            for contest in index.by_metric.get(metric, ())
            if in_window(contest.window_start, contest.end_at, occurred_at)
        ]
        return await self._score(session, user, candidates)

    async def _score(
        self, session: AsyncSession, user: User, candidates: list[tuple[Counting, float]]
    ) -> list[dict[str, Any]]:
        """Add each delta to the user's entry in its contest (when entered): its place before
        and after, and the standings update for the contest's room."""
        if not candidates:
            return []
        entered = await repo.entries_of(session, user.id, [c.id for c, _ in candidates])
        changes: list[dict[str, Any]] = []
        now = utcnow()
        for contest, delta in candidates:
            if contest.id not in entered:
                continue
            value, reached_at = entered[contest.id]
            previous = await repo.place(session, contest.id, user.id, value, reached_at)
            await repo.add(session, contest.id, user.id, delta, now)
            value += delta
            rank = await repo.place(session, contest.id, user.id, value, now)
            change = {
                "contestId": contest.id,
                "contest": contest.name,
                "metric": contest.metric,
                "previousRank": previous,
                "newRank": rank,
                "value": value,
            }
            changes.append(change)
            update = notices.CONTEST_UPDATE(
                contest_id=contest.id,
                metric=contest.metric,
                previous_rank=previous,
                new_rank=rank,
                value=value,
                name=contest.name,
                user_id=user.external_id,
                user_name=display_name(user),
                timestamp=now,
            )
            # Held back: the standings are read when the trailing update goes out.
            if self.updates is None or self.updates.admit(session, contest.id, update):
                update["leaderboard"] = await board(session, contest.id)
                add_update(session, contest.id, update)
        return changes
