"""Replaying stored events: each user's totals, XP, level, streaks, and when each rule first held.

The basis of recompute (an achievement's rule changed) and simulate (a proposed achievement).
`replay` reads `events` in (user, occurred_at, id) order a page at a time (keyset pagination; from
a `Database`, each page is its own short transaction, so a long replay never holds a lock or a
snapshot), and `UserReplay` re-applies one user's events in memory with the live engine's rules:

- `meaning_of` gives the metric deltas, the XP and the streak days; XP never falls below 0, the
  level follows the curve, `record_activity` counts streak days in the user's time zone.
- A rule is evaluated at an event that moves a metric it reads (the gauges `xp` and `level` move
  with an event that earns XP, `streak` and `best_streak` with a streak day), exactly when the
  engine evaluates it; it first holds at that event's `occurred_at`.
- Timeframed requirements sum the 60 s buckets (minute and hour windows) or 3,600 s buckets (day
  windows) whose start lies in [at - window_s, at], as the engine's in-memory batch does.

Order: the replay applies events in the order they occurred, the engine in the order they
arrived. For a user whose events arrived in time order (backfills included) the two agree. A
backfill that arrives after later events is where they part: the engine ignores a streak day
older than the last one, the replay counts it; XP floored at 0 and `lt`/`lte` rules can differ
too. Totals never differ. Not replayed, because they never were events: XP and points paid out by
claimed rewards, achievements awarded by hand (quiz mastery included).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    case,
    cast,
    literal,
    null,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accolade.domain import streaks
from accolade.domain.achievements import Operator, Requirement
from accolade.domain.events import meaning_of, types_moving
from accolade.domain.levels import DEFAULT_CURVE, LevelCurve
from accolade.domain.requirements import TOLERANCE, bucket_size_for, holds
from accolade.domain.streaks import StreakState
from accolade.pipeline.rules import Rule, RuleIndex
from accolade.storage.database import Database
from accolade.storage.models import Event, User

# One stored event as `UserReplay.apply` takes it: (type, value, occurred_at, data).
StoredEvent = tuple[str, float | None, datetime, Mapping[str, Any] | None]

DEFAULT_CHUNK = 50_000
# User ids per query when `users` is given (well under every driver's bind-parameter limit).
USERS_PER_QUERY = 5_000

# Where a requirement's value comes from.
_TOTAL, _WINDOW, _XP, _LEVEL, _STREAK, _BEST_STREAK = range(6)
_GAUGE_SOURCES = {"xp": _XP, "level": _LEVEL, "streak": _STREAK, "best_streak": _BEST_STREAK}
_NO_DATA: Mapping[str, Any] = {}

# (requirement, source, metric name or window index, band low, band high, threshold, direction)
_Check = tuple[Requirement, int, Any, float, float, float, int]
_UP, _DOWN, _EQUAL = 1, -1, 0
_DIRECTION = {
    Operator.GT: _UP,
    Operator.GTE: _UP,
    Operator.LT: _DOWN,
    Operator.LTE: _DOWN,
    Operator.EQ: _EQUAL,
}


def _check(requirement: Requirement, source: int, ref: Any) -> _Check:
    """A requirement with the band around its threshold where `holds` must decide.

    Outside `[low, high]` no value is within TOLERANCE of the threshold (|v - t| > 2e-9 max(|t|,
    1) rules out both the relative and the absolute tolerance), so `holds` reduces to a plain
    comparison there: v > t for gt and gte, v < t for lt and lte, never for eq. Inside it, and
    for a threshold that is not finite, `holds` itself is called."""
    threshold = requirement.threshold
    if math.isfinite(threshold):
        margin = 2 * TOLERANCE * max(abs(threshold), 1.0)
        low, high = threshold - margin, threshold + margin
    else:
        low, high = -math.inf, math.inf
    return (requirement, source, ref, low, high, threshold, _DIRECTION[requirement.operator])


class ReplayRules:
    """Rules compiled for the replay loop: which rules each metric wakes, and the bucket series
    and windows their timeframed requirements read. Rules without requirements never hold."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(
            sorted((r for r in rules if r.requirements), key=lambda r: r.achievement_id)
        )
        self.ids: tuple[int, ...] = tuple(r.achievement_id for r in self.rules)
        self.series: list[tuple[str, int]] = []  # (metric, bucket_s)
        self.windows: list[tuple[int, int]] = []  # (series index, window_s)
        self.checks: list[tuple[_Check, ...]] = []
        self.by_metric: dict[str, list[int]] = {}  # metric -> rule positions, ascending
        series_index: dict[tuple[str, int], int] = {}
        window_index: dict[tuple[int, int], int] = {}
        for position, rule in enumerate(self.rules):
            checks: list[_Check] = []
            for requirement in rule.requirements:
                metric = requirement.metric
                positions = self.by_metric.setdefault(metric, [])
                if not positions or positions[-1] != position:
                    positions.append(position)
                if requirement.timeframe is None:
                    source = _GAUGE_SOURCES.get(metric, _TOTAL)
                    checks.append(_check(requirement, source, metric))
                    continue
                key = (metric, bucket_size_for(requirement.timeframe))
                if key not in series_index:
                    series_index[key] = len(self.series)
                    self.series.append(key)
                window = (series_index[key], requirement.timeframe.window_s)
                if window not in window_index:
                    window_index[window] = len(self.windows)
                    self.windows.append(window)
                checks.append(_check(requirement, _WINDOW, window_index[window]))
            self.checks.append(tuple(checks))
        # metric -> ((series index, bucket_s), ...): the series an event's delta feeds.
        fed: dict[str, list[tuple[int, int]]] = {}
        for index, (metric, bucket_s) in enumerate(self.series):
            fed.setdefault(metric, []).append((index, bucket_s))
        self.series_of_metric = {metric: tuple(found) for metric, found in fed.items()}
        self._candidates: dict[tuple[tuple[str, ...], bool, bool], tuple[int, ...]] = {}

    @classmethod
    def of(cls, rules: ReplayRules | RuleIndex | Iterable[Rule]) -> ReplayRules:
        if isinstance(rules, ReplayRules):
            return rules
        if isinstance(rules, RuleIndex):
            return cls(rules.rules.values())
        return cls(rules)

    def candidates(self, metrics: tuple[str, ...], xp: bool, streak: bool) -> tuple[int, ...]:
        """Positions of the rules an event moving `metrics` (and the XP gauges when `xp`, the
        streak gauges when `streak`) evaluates, ascending by achievement id. Cached: an event
        type moves the same metrics every time."""
        key = (metrics, xp, streak)
        found = self._candidates.get(key)
        if found is None:
            moved = set(metrics)
            if xp:
                moved |= {"xp", "level"}
            if streak:
                moved |= {"streak", "best_streak"}
            positions = {p for metric in moved for p in self.by_metric.get(metric, ())}
            found = self._candidates[key] = tuple(sorted(positions))
        return found


class UserReplay:
    """One user's state, fed the user's events in time order with `apply`.

    After the last event: `totals` (metric -> all-time sum), `xp`, `level`, `streak` (current,
    best and the last active day), and `first_held` (achievement id -> the `occurred_at` of the
    event at which its rule first held)."""

    __slots__ = (
        "_left",
        "_level_ceiling",
        "_level_floor",
        "_prefix",
        "_rules",
        "_starts",
        "_sums",
        "curve",
        "events",
        "external_id",
        "first_held",
        "last_at",
        "level",
        "streak",
        "time_zone",
        "totals",
        "user_id",
        "user_name",
        "xp",
    )

    def __init__(
        self,
        rules: ReplayRules,
        time_zone: str = streaks.DEFAULT_TZ,
        curve: LevelCurve = DEFAULT_CURVE,
        *,
        user_id: int | None = None,
        external_id: int | str | None = None,
        user_name: str | None = None,
    ) -> None:
        self._rules = rules
        self.time_zone = time_zone
        self.curve = curve
        self.user_id = user_id
        self.external_id = external_id
        self.user_name = user_name
        self.totals: dict[str, float] = {}
        self.xp = 0
        self._set_level(0)  # level 1, and the XP span it covers
        self.streak = StreakState()
        self.first_held: dict[int, datetime] = {}
        self.events = 0
        self.last_at: datetime | None = None
        # Per bucket series: bucket starts (epoch seconds, ascending), the series' running sum
        # before each bucket, and its sum so far; a window's sum is then `sum - prefix[left]`
        # for the first bucket `left` inside it, and `left` only moves forward.
        self._starts: list[list[int]] = [[] for _ in rules.series]
        self._prefix: list[list[float]] = [[] for _ in rules.series]
        self._sums: list[float] = [0.0] * len(rules.series)
        self._left: list[int] = [0] * len(rules.windows)

    @property
    def current_streak(self) -> int:
        return self.streak.current

    @property
    def best_streak(self) -> int:
        return self.streak.best

    @property
    def last_active_day(self) -> date | None:
        return self.streak.last_day

    def apply(
        self,
        event_type: str,
        value: float | None,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Re-apply one event; `at` must not be earlier than the previous event's."""
        last_at = self.last_at
        if last_at is not None and at < last_at:
            raise ValueError(f"events must come in occurred_at order: {at} after {last_at}")
        self.last_at = at
        self.events += 1
        rules = self._rules
        meaning = meaning_of(event_type, value, _NO_DATA if data is None else data)
        deltas = meaning.deltas
        totals = self.totals
        series_of_metric = rules.series_of_metric
        at_s = -1.0
        for metric, amount in deltas.items():
            totals[metric] = totals.get(metric, 0.0) + amount
            fed = series_of_metric.get(metric)
            if fed is not None:
                if at_s < 0:
                    at_s = at.timestamp()
                for index, bucket_s in fed:
                    start = int(at_s // bucket_s) * bucket_s
                    starts = self._starts[index]
                    if not starts or starts[-1] != start:
                        starts.append(start)
                        self._prefix[index].append(self._sums[index])
                    self._sums[index] += amount
        gained = meaning.xp
        if gained:
            xp = self.xp + gained
            xp = self.xp = xp if xp > 0 else 0
            if not self._level_floor <= xp < self._level_ceiling:  # else the level stays
                self._set_level(xp)
        streak_day = meaning.streak_day
        if streak_day:
            self.streak = streaks.record_activity(self.streak, at, self.time_zone).state
        first_held = self.first_held
        if len(first_held) == len(rules.ids):
            return  # every rule has held (none to evaluate, or all done)
        positions = rules.candidates(tuple(deltas), gained != 0, streak_day)
        if not positions:
            return
        ids, checks = rules.ids, rules.checks
        if at_s < 0:
            at_s = at.timestamp()
        # The loop of `_meets`, inlined: a call per rule and event costs this loop 15-20%.
        for position in positions:
            rule_id = ids[position]
            if rule_id in first_held:
                continue
            for requirement, source, ref, low, high, threshold, direction in checks[position]:
                if source == _TOTAL:
                    current = totals.get(ref, 0.0)
                elif source == _WINDOW:
                    current = self._window_sum(ref, at_s)
                elif source == _XP:
                    current = self.xp
                elif source == _LEVEL:
                    current = self.level
                elif source == _STREAK:
                    current = self.streak.current
                else:
                    current = self.streak.best
                if low <= current <= high:
                    if not holds(requirement, current):
                        break
                elif direction == _UP:
                    if not current > threshold:
                        break
                elif direction == _DOWN:
                    if not current < threshold:
                        break
                else:
                    break
            else:
                first_held[rule_id] = at

    def _meets(
        self, checks: tuple[_Check, ...], at_s: float, window_sum: Callable[[int, float], float]
    ) -> bool:
        """Whether every requirement holds now (windows ending at `at_s`, from `window_sum`).
        `apply` has this loop inlined; the tests hold both to the engine."""
        totals = self.totals
        for requirement, source, ref, low, high, threshold, direction in checks:
            if source == _TOTAL:
                current = totals.get(ref, 0.0)
            elif source == _WINDOW:
                current = window_sum(ref, at_s)
            elif source == _XP:
                current = self.xp
            elif source == _LEVEL:
                current = self.level
            elif source == _STREAK:
                current = self.streak.current
            else:
                current = self.streak.best
            if low <= current <= high:
                if not holds(requirement, current):
                    return False
            elif direction == _UP:
                if not current > threshold:
                    return False
            elif direction == _DOWN:
                if not current < threshold:
                    return False
            else:
                return False
        return True

    def holding(self, at: datetime | None = None) -> list[int]:
        """The ids of the rules whose requirements all hold after the user's last event, with
        timeframe windows ending at `at` (the last event's time if omitted), ascending. Held
        earlier or not: this is what a revocation or "who holds it now" asks."""
        if at is None:
            at = self.last_at
        at_s = 0.0 if at is None else at.timestamp()
        rules = self._rules
        return [
            rule_id
            for rule_id, checks in zip(rules.ids, rules.checks, strict=True)
            if self._meets(checks, at_s, self._window_sum_at)
        ]

    def _set_level(self, xp: int) -> None:
        curve = self.curve
        level = self.level = curve.level_for_xp(xp)
        self._level_floor = curve.xp_for_level(level)
        self._level_ceiling = curve.xp_for_level(level + 1)

    def _window_sum(self, window: int, at_s: float) -> float:
        series, window_s = self._rules.windows[window]
        starts = self._starts[series]
        opens = at_s - window_s
        left = self._left[window]
        count = len(starts)
        while left < count and starts[left] < opens:
            left += 1
        self._left[window] = left
        if left == count:
            return 0.0
        return self._sums[series] - self._prefix[series][left]

    def _window_sum_at(self, window: int, at_s: float) -> float:
        """A window's sum at any time (buckets starting in [at - window_s, at]), not only at
        the latest event's: two bisections instead of the forward-only pointer."""
        series, window_s = self._rules.windows[window]
        starts, prefix = self._starts[series], self._prefix[series]
        left = bisect.bisect_left(starts, at_s - window_s)
        right = bisect.bisect_right(starts, at_s)
        if left >= right:
            return 0.0
        upto = self._sums[series] if right == len(starts) else prefix[right]
        return upto - prefix[left]

    def finish(self) -> None:
        """Drop the bucket series: no more `apply` or `holding` after this (memory)."""
        self._starts = []
        self._prefix = []
        self._left = []


def replay_user(
    events: Iterable[StoredEvent],
    rules: ReplayRules | RuleIndex | Iterable[Rule],
    time_zone: str = streaks.DEFAULT_TZ,
    curve: LevelCurve = DEFAULT_CURVE,
) -> UserReplay:
    """One user's state after `events` (type, value, occurred_at, data), in occurred_at order."""
    state = UserReplay(ReplayRules.of(rules), time_zone, curve)
    apply = state.apply
    for event_type, value, at, data in events:
        apply(event_type, value, at, data)
    return state


@dataclass(slots=True)
class ReplayResult:
    """`users`: each replayed user's state by user row id (`users.id`), when kept.
    `first_held`: achievement id -> [(user row id, occurred_at)] of every user whose replay met
    the rule, earliest first (an entry for every rule given, empty when nobody).
    `holding`, when asked for with `holding_at`: achievement id -> the user row ids whose
    replayed state meets the rule at that time (timeframes ending then), ascending."""

    users: dict[int, UserReplay] = field(default_factory=dict)
    first_held: dict[int, list[tuple[int, datetime]]] = field(default_factory=dict)
    holding: dict[int, list[int]] = field(default_factory=dict)
    events: int = 0
    elapsed_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Page:
    rows: Sequence[tuple[int, int, str, float | None, datetime, Any]]
    people: dict[int, tuple[int | str | None, str | None, str | None]]  # id -> (id, name, zone)


def event_types_for(rules: Iterable[Rule]) -> list[str] | None:
    """The event types a replay of `rules` must read, or None for all of them.

    Exact only where the other events cannot change an answer: every requirement an untimed or
    timeframed "at least" (gt, gte) on a metric with a positive bar (a user with none of the
    types read stays at 0 and qualifies for nothing), none on a gauge (XP and streaks move with
    many types). A rule's requirements are evaluated at events moving its metrics, so the first
    time it holds is the same."""
    types: set[str] = set()
    for rule in rules:
        for requirement in rule.requirements:
            moving = types_moving(requirement.metric)
            threshold = requirement.threshold
            if (
                moving is None
                or requirement.operator not in (Operator.GT, Operator.GTE)
                or not math.isfinite(threshold)
                or threshold < 0
                or (threshold == 0 and requirement.operator is Operator.GTE)
            ):
                return None
            types |= moving
    return sorted(types)


async def _read_page(
    session: AsyncSession,
    group: list[int] | None,
    after: tuple[int, datetime, int] | None,
    chunk: int,
    event_types: list[str] | None = None,
) -> _Page:
    connection = await session.connection()
    reversed_at = Event.__table__.c.get("reversed_at")  # a reversal marks the row, keeps it
    rows: Sequence[tuple[int, int, str, float | None, datetime, Any]]
    if connection.dialect.name == "postgresql":
        rows = await _events_postgresql(
            connection, group, after, chunk, reversed_at is not None, event_types
        )
    else:
        # An empty `data` (most events) comes back as NULL: nothing to decode (`apply` reads
        # it as {}).
        data = case((cast(Event.data, String) == "{}", null()), else_=Event.data)
        query = select(Event.id, Event.user_id, Event.type, Event.value, Event.occurred_at, data)
        if reversed_at is not None:
            query = query.where(reversed_at.is_(None))
        if group is not None:
            query = query.where(Event.user_id.in_(group))
        # Reading a few types, a scan in table order and a sort of the rows kept beat walking
        # the (user_id, occurred_at) index and looking every row up (6x, bench/simulate.py):
        # `user_id + 0` keeps SQLite off that index.
        ordered_by: ColumnElement[int] = Event.user_id.expression
        if event_types is not None:
            query = query.where(Event.type.in_(event_types))
            ordered_by = Event.user_id + 0
        if after is not None:
            user_id, occurred_at, event_id = after
            query = query.where(
                tuple_(ordered_by, Event.occurred_at, Event.id)
                > tuple_(
                    literal(user_id, Integer),
                    literal(occurred_at, Event.occurred_at.type),
                    literal(event_id, Integer),
                )
            )
        query = query.order_by(ordered_by, Event.occurred_at, Event.id).limit(chunk)
        rows = (await connection.execute(query)).all()
    people: dict[int, tuple[int | str | None, str | None, str | None]] = {}
    ids = sorted({row[1] for row in rows})
    for start in range(0, len(ids), USERS_PER_QUERY):
        found = await connection.execute(
            select(User.id, User.user_key, User.key_is_int, User.user_name, User.time_zone).where(
                User.id.in_(ids[start : start + USERS_PER_QUERY])
            )
        )
        for row_id, key, key_is_int, name, zone in found:
            people[row_id] = (int(key) if key_is_int else key, name, zone)
    return _Page(rows, people)


async def replay(
    source: Database | AsyncSession,
    rules: ReplayRules | RuleIndex | Iterable[Rule],
    *,
    users: Collection[int] | None = None,
    chunk: int = DEFAULT_CHUNK,
    curve: LevelCurve = DEFAULT_CURVE,
    keep_users: bool = True,
    holding_at: datetime | None = None,
    event_types: Collection[str] | None = None,
) -> ReplayResult:
    """Replay every stored event (or those of `users`, user row ids) against `rules`.

    From a `Database` each page of `chunk` events is read in its own transaction, the next page
    while this one is applied; from a session, every page is read in the caller's transaction.
    Reversed events are skipped. With `keep_users=False` only `first_held` is kept (memory stays
    flat however many users there are). With `holding_at`, `holding` says who meets each
    rule then (a revocation's question; who held it ever is `first_held`). With `event_types`
    only events of those types are read (`event_types_for` says when that is exact); users
    without one are not replayed."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    compiled = ReplayRules.of(rules)
    types = None if event_types is None else sorted(set(event_types))
    started = time.perf_counter()
    result = ReplayResult(first_held={rule_id: [] for rule_id in compiled.ids})
    if holding_at is not None:
        result.holding = {rule_id: [] for rule_id in compiled.ids}
    groups: list[list[int] | None]
    if users is None:
        groups = [None]
    else:
        wanted = sorted(set(users))
        groups = [wanted[i : i + USERS_PER_QUERY] for i in range(0, len(wanted), USERS_PER_QUERY)]

    async def read(group: list[int] | None, after: tuple[int, datetime, int] | None) -> _Page:
        if isinstance(source, AsyncSession):
            return await _read_page(source, group, after, chunk, types)
        async with source.transaction() as session:
            return await _read_page(session, group, after, chunk, types)

    current: UserReplay | None = None
    for group in groups:
        page = await read(group, None)
        while True:
            rows = page.rows
            upcoming: asyncio.Task[_Page] | None = None
            if len(rows) == chunk and not isinstance(source, AsyncSession):
                last = rows[-1]
                upcoming = asyncio.create_task(read(group, (last[1], last[4], last[0])))
                await asyncio.sleep(0)  # let it send its query before this page is applied
            try:
                for _, user_id, event_type, value, at, data in rows:
                    if current is None or current.user_id != user_id:
                        if current is not None:
                            _keep(result, current, keep_users, holding_at)
                        # (None, ...) for a user deleted while the page was read
                        external_id, name, zone = page.people.get(user_id, (None, None, None))
                        current = UserReplay(
                            compiled,
                            zone or streaks.DEFAULT_TZ,
                            curve,
                            user_id=user_id,
                            external_id=external_id,
                            user_name=name,
                        )
                    current.apply(event_type, value, at, data)
            except BaseException:
                if upcoming is not None:
                    upcoming.cancel()
                raise
            result.events += len(rows)
            if len(rows) < chunk:
                break
            if upcoming is None:
                last = rows[-1]
                page = await read(group, (last[1], last[4], last[0]))
            else:
                page = await upcoming
    if current is not None:
        _keep(result, current, keep_users, holding_at)
    for holders in result.first_held.values():
        holders.sort(key=lambda holder: (holder[1], holder[0]))
    result.elapsed_s = time.perf_counter() - started
    return result


async def _events_postgresql(
    connection: AsyncConnection,
    group: list[int] | None,
    after: tuple[int, datetime, int] | None,
    chunk: int,
    skip_reversed: bool,
    event_types: list[str] | None = None,
) -> Sequence[tuple[int, int, str, float | None, datetime, Any]]:
    """The same page as the SQLAlchemy query, read with asyncpg itself: SQLAlchemy's result
    rows cost as much as asyncpg's decoding here (a fifth of a replay each, profiled).
    asyncpg gives timestamptz in UTC and jsonb decoded (the codec SQLAlchemy installs)."""
    conditions: list[str] = []
    params: list[Any] = []
    if skip_reversed:
        conditions.append("reversed_at IS NULL")
    if group is not None:
        params.append(group)
        conditions.append(f"user_id = ANY(${len(params)}::bigint[])")
    if event_types is not None:
        params.append(event_types)
        conditions.append(f"type = ANY(${len(params)}::text[])")
    if after is not None:
        params.extend(after)
        n = len(params)
        conditions.append(f"(user_id, occurred_at, id) > (${n - 2}, ${n - 1}, ${n})")
    params.append(chunk)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    sql = (
        "SELECT id, user_id, type, value, occurred_at, "
        "CASE WHEN data::text = '{}' THEN NULL ELSE data END "
        f"FROM {Event.__tablename__} {where}"
        f"ORDER BY user_id, occurred_at, id LIMIT ${len(params)}"
    )
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    records: Sequence[tuple[int, int, str, float | None, datetime, Any]] = await driver.fetch(
        sql, *params
    )
    return records


def _keep(
    result: ReplayResult, state: UserReplay, keep_users: bool, holding_at: datetime | None
) -> None:
    assert state.user_id is not None
    if holding_at is not None:
        for rule_id in state.holding(holding_at):
            result.holding[rule_id].append(state.user_id)
    state.finish()
    for rule_id, at in state.first_held.items():
        result.first_held[rule_id].append((state.user_id, at))
    if keep_users:
        result.users[state.user_id] = state
