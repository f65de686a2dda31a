"""What a transaction of events knows about its users: loaded once, kept current, written once.

A batch of events (a `/batch` request, or single requests that arrived together) touches a set
of users. Their rows are read up front in a few statements (users, locked stats, unlocked
achievements, the totals and time buckets the rules read), every event then reads and moves
that state in memory, and the moved totals, buckets and gauges are written at the end, one
statement per kind. Reading in memory is exact: the users' stats rows are locked for the whole
transaction, and every change to their metrics in it goes through `Batch.add`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from accolade.domain.events import GAUGES
from accolade.domain.identity import UserId, user_key
from accolade.domain.quests import QuestStatus
from accolade.domain.requirements import bucket_size_for, bucket_start
from accolade.pipeline.rules import RuleIndex
from accolade.storage import metrics, rarity
from accolade.storage import users as users_repo
from accolade.storage.models import QuestProgress, User, UserAchievement, UserStats


@dataclass(slots=True)
class UserState:
    """One user's progress as this transaction sees it."""

    user: User
    stats: UserStats
    unlocked: set[int]
    totals: dict[str, float]  # every metric a rule reads without a timeframe (0 when absent)
    buckets: dict[tuple[str, int], dict[datetime, float]]  # (metric, bucket_s) -> start -> value
    in_quests: bool  # has a quest run in progress (quest steps then read the database)

    def window_sum(self, metric: str, bucket_s: int, start: datetime, end: datetime) -> float:
        series = self.buckets.get((metric, bucket_s), {})
        return sum(v for at, v in series.items() if start <= at <= end)


@dataclass(slots=True)
class Batch:
    rules: RuleIndex
    bucket_sizes_s: tuple[int, ...]
    users: dict[str, UserState] = field(default_factory=dict)
    _totals: dict[tuple[int, str], float] = field(default_factory=lambda: defaultdict(float))
    _buckets: dict[tuple[int, str, int, datetime], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    _gauges: dict[tuple[int, str], float] = field(default_factory=dict)

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        rules: RuleIndex,
        wanted: dict[str, tuple[UserId, str | None]],
        times: list[datetime],
        bucket_sizes_s: tuple[int, ...],
    ) -> Batch:
        """Read (and lock) everything the events of `wanted` users at `times` will read."""
        batch = cls(rules, bucket_sizes_s)
        users = await users_repo.ensure_many(session, wanted)
        ids = [u.id for u in users.values()]
        stats = await metrics.lock_stats_many(session, ids)
        unlocked: dict[int, set[int]] = defaultdict(set)
        if rules.rules:
            rows = await session.execute(
                select(UserAchievement.user_id, UserAchievement.achievement_id).where(
                    UserAchievement.user_id.in_(ids), UserAchievement.unlocked_at.is_not(None)
                )
            )
            for user_id, achievement_id in rows.all():
                unlocked[user_id].add(achievement_id)
        untimed = {
            q.metric for r in rules.rules.values() for q in r.requirements if q.timeframe is None
        }
        totals = await metrics.totals_many(session, ids, untimed - GAUGES)
        windows: dict[tuple[str, int], int] = {}  # (metric, bucket_s) -> longest window_s
        for rule in rules.rules.values():
            for q in rule.requirements:
                if q.timeframe is not None:
                    series = (q.metric, bucket_size_for(q.timeframe))
                    windows[series] = max(windows.get(series, 0), q.timeframe.window_s)
        buckets: dict[metrics.BucketKey, dict[datetime, float]] = {}
        if windows and times:
            longest = timedelta(seconds=max(windows.values()))
            buckets = await metrics.buckets_many(
                session, ids, windows, min(times) - longest, max(times)
            )
        in_quests = set(
            (
                await session.scalars(
                    select(QuestProgress.user_id)
                    .where(
                        QuestProgress.user_id.in_(ids),
                        QuestProgress.status == QuestStatus.IN_PROGRESS.value,
                    )
                    .distinct()
                )
            ).all()
        )
        for key, user in users.items():
            batch.users[key] = UserState(
                user=user,
                stats=stats[user.id],
                unlocked=unlocked[user.id],
                totals=totals[user.id],
                buckets={(m, b): buckets.get((user.id, m, b), {}) for m, b in windows},
                in_quests=user.id in in_quests,
            )
        return batch

    def state(self, user_id: UserId) -> UserState:
        return self.users[user_key(user_id)]

    def add(self, state: UserState, deltas: dict[str, float], at: datetime) -> None:
        """Add `deltas` to the user's totals and buckets: in memory now, in the database at
        `write`."""
        uid = state.user.id
        for metric, value in deltas.items():
            state.totals[metric] = state.totals.get(metric, 0.0) + value
            self._totals[(uid, metric)] += value
            for bucket_s in self.bucket_sizes_s:
                start = bucket_start(at, bucket_s)
                self._buckets[(uid, metric, bucket_s, start)] += value
                series = state.buckets.get((metric, bucket_s))
                if series is not None:
                    series[start] = series.get(start, 0.0) + value

    async def mark_active(self, session: AsyncSession, user_ids: set[int], at: datetime) -> None:
        """The first event of each of `user_ids` (users of this batch) that had none: their
        `first_event_at` is `at` and they count as active users (rarity's denominator). No
        statement at all when every one of them had an event before."""
        first = [
            s.user.id
            for s in self.users.values()
            if s.user.id in user_ids and s.user.first_event_at is None
        ]
        if not first:
            return
        # `IS NULL` again in the statement: the row read before the stats lock may be stale (the
        # user's first event committed on another node meanwhile); the rows it sets are exact.
        marked = set(
            (
                await session.execute(
                    update(User)
                    .where(User.id.in_(first), User.first_event_at.is_(None))
                    .values(first_event_at=at)
                    .returning(User.id)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
        )
        for state in self.users.values():
            if state.user.id in marked:
                set_committed_value(state.user, "first_event_at", at)
        await rarity.became_active(session, len(marked))

    def set_gauges(self, state: UserState, gauges: dict[str, float]) -> None:
        for metric, value in gauges.items():
            self._gauges[(state.user.id, metric)] = value

    def set_stat_gauges(self, state: UserState) -> None:
        """The gauges rules read from the user's stats row (`xp`, `level`, the streaks), as the
        row now holds them."""
        stats = state.stats
        self.set_gauges(
            state,
            {
                "xp": stats.xp,
                "level": stats.level,
                "streak": stats.current_streak,
                "best_streak": stats.best_streak,
            },
        )

    async def write(self, session: AsyncSession) -> None:
        """Write what moved since the last write (before anything reads metrics from the
        database, and at the end)."""
        if self._totals or self._buckets or self._gauges:
            await metrics.write_many(session, self._totals, self._buckets, self._gauges)
        self._totals.clear()
        self._buckets.clear()
        self._gauges.clear()
