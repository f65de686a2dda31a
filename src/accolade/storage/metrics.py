"""Metric totals, time buckets and user stats: the engine's rows, one user at a time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.achievements import Requirement
from accolade.domain.events import GAUGES
from accolade.domain.requirements import bucket_size_for, bucket_start, value_key
from accolade.storage.models import MetricBucket, User, UserMetric, UserStats, utcnow
from accolade.storage.upsert import insert_for


async def lock_stats(session: AsyncSession, user: User) -> UserStats:
    """The user's stats row, created if missing and locked for this transaction.

    Every command that changes a user's progress takes this lock first, so two events for one
    user (on one node or several) are applied one after the other, never interleaved.
    """
    query = (
        select(UserStats)
        .where(UserStats.user_id == user.id)
        .execution_options(populate_existing=True)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    stats = (await session.scalars(query)).one_or_none()
    if stats is not None:
        return stats  # the common case: one query
    await session.execute(
        insert_for(session, UserStats)
        .values(
            user_id=user.id, xp=0, level=1, current_streak=0, best_streak=0, updated_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    return (await session.scalars(query)).one()


async def add(
    session: AsyncSession,
    user_id: int,
    deltas: Mapping[str, float],
    at: datetime,
    bucket_sizes_s: Iterable[int],
) -> None:
    """Add `deltas` to the user's totals and to the time buckets containing `at`."""
    if not deltas:
        return
    now = utcnow()
    totals = insert_for(session, UserMetric).values(
        [
            {"user_id": user_id, "metric": m, "value": v, "updated_at": now}
            for m, v in deltas.items()
        ]
    )
    await session.execute(
        totals.on_conflict_do_update(
            index_elements=["user_id", "metric"],
            set_={"value": UserMetric.value + totals.excluded.value, "updated_at": now},
        )
    )
    rows: list[dict[str, object]] = []
    for bucket_s in bucket_sizes_s:
        start = bucket_start(at, bucket_s)
        rows.extend(
            {
                "user_id": user_id,
                "metric": m,
                "bucket_s": bucket_s,
                "bucket_start": start,
                "value": v,
            }
            for m, v in deltas.items()
        )
    if rows:
        buckets = insert_for(session, MetricBucket).values(rows)
        await session.execute(
            buckets.on_conflict_do_update(
                index_elements=["user_id", "metric", "bucket_s", "bucket_start"],
                set_={"value": MetricBucket.value + buckets.excluded.value},
            )
        )


async def set_gauges(session: AsyncSession, user_id: int, gauges: Mapping[str, float]) -> None:
    if not gauges:
        return
    now = utcnow()
    statement = insert_for(session, UserMetric).values(
        [
            {"user_id": user_id, "metric": m, "value": v, "updated_at": now}
            for m, v in gauges.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "metric"],
            set_={"value": statement.excluded.value, "updated_at": now},
        )
    )


async def totals(session: AsyncSession, user_id: int, metrics: Iterable[str]) -> dict[str, float]:
    names = list(set(metrics))
    if not names:
        return {}
    rows = await session.execute(
        select(UserMetric.metric, UserMetric.value).where(
            UserMetric.user_id == user_id, UserMetric.metric.in_(names)
        )
    )
    return {metric: value for metric, value in rows.all()}


async def window_sum(
    session: AsyncSession, user_id: int, metric: str, bucket_s: int, start: datetime, end: datetime
) -> float:
    """The metric summed over buckets starting in [start, end]."""
    value = await session.scalar(
        select(func.coalesce(func.sum(MetricBucket.value), 0.0)).where(
            MetricBucket.user_id == user_id,
            MetricBucket.metric == metric,
            MetricBucket.bucket_s == bucket_s,
            MetricBucket.bucket_start >= start,
            MetricBucket.bucket_start <= end,
        )
    )
    return float(value or 0.0)


async def requirement_values(
    session: AsyncSession, stats: UserStats, requirements: Iterable[Requirement], at: datetime
) -> dict[str, float]:
    """What `all_hold` needs for `requirements`, for the user of `stats`: all-time totals of the
    untimed metrics, the gauges from `stats`, and each timeframed requirement's trailing window
    ending at `at` (keyed by `value_key`)."""
    wanted = list(requirements)
    untimed = {q.metric for q in wanted if q.timeframe is None}
    values = await totals(session, stats.user_id, untimed - GAUGES)
    values.update(
        {
            "xp": stats.xp,
            "level": stats.level,
            "streak": stats.current_streak,
            "best_streak": stats.best_streak,
        }
    )
    for requirement in wanted:
        if requirement.timeframe is None or value_key(requirement) in values:
            continue
        bucket_s = bucket_size_for(requirement.timeframe)
        window = timedelta(seconds=requirement.timeframe.window_s)
        values[value_key(requirement)] = await window_sum(
            session, stats.user_id, requirement.metric, bucket_s, at - window, at
        )
    return values


# --- many users at once: what a batch of events loads up front and writes at the end ----------


async def lock_stats_many(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, UserStats]:
    """The users' stats rows, created if missing and locked for this transaction, locked in
    ascending user id order (so two batches sharing users cannot deadlock)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    found = await _select_stats(session, ids)  # the common case: every row exists
    missing = [i for i in ids if i not in found]
    if missing:
        now = utcnow()
        connection = await session.connection()
        await connection.execute(
            insert_for(session, UserStats.__table__).on_conflict_do_nothing(
                index_elements=["user_id"]
            ),
            [
                {
                    "user_id": i,
                    "xp": 0,
                    "level": 1,
                    "current_streak": 0,
                    "best_streak": 0,
                    "updated_at": now,
                }
                for i in missing
            ],
        )
        found.update(await _select_stats(session, missing))
    return found


async def _select_stats(session: AsyncSession, ids: list[int]) -> dict[int, UserStats]:
    query = (
        select(UserStats)
        .where(UserStats.user_id.in_(ids))
        .order_by(UserStats.user_id)
        .execution_options(populate_existing=True)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return {stats.user_id: stats for stats in await session.scalars(query)}


async def totals_many(
    session: AsyncSession, user_ids: Iterable[int], metrics: Iterable[str]
) -> dict[int, dict[str, float]]:
    ids, names = list(set(user_ids)), list(set(metrics))
    found: dict[int, dict[str, float]] = {i: {} for i in ids}
    if not ids or not names:
        return found
    rows = await session.execute(
        select(UserMetric.user_id, UserMetric.metric, UserMetric.value).where(
            UserMetric.user_id.in_(ids), UserMetric.metric.in_(names)
        )
    )
    for user_id, metric, value in rows.all():
        found[user_id][metric] = value
    return found


BucketKey = tuple[int, str, int]  # (user id, metric, bucket size in seconds)


async def buckets_many(
    session: AsyncSession,
    user_ids: Iterable[int],
    series: Iterable[tuple[str, int]],
    start: datetime,
    end: datetime,
) -> dict[BucketKey, dict[datetime, float]]:
    """Every bucket of the users' (metric, bucket size) series starting in [start, end]."""
    ids, wanted = list(set(user_ids)), sorted(set(series))
    found: dict[BucketKey, dict[datetime, float]] = {(i, m, b): {} for i in ids for m, b in wanted}
    if not ids or not wanted:
        return found
    rows = await session.execute(
        select(
            MetricBucket.user_id,
            MetricBucket.metric,
            MetricBucket.bucket_s,
            MetricBucket.bucket_start,
            MetricBucket.value,
        ).where(
            MetricBucket.user_id.in_(ids),
            or_(*(and_(MetricBucket.metric == m, MetricBucket.bucket_s == b) for m, b in wanted)),
            MetricBucket.bucket_start >= start,
            MetricBucket.bucket_start <= end,
        )
    )
    for user_id, metric, bucket_s, start_at, value in rows.all():
        found[(user_id, metric, bucket_s)][start_at] = value
    return found


async def write_many(
    session: AsyncSession,
    totals: Mapping[tuple[int, str], float],
    buckets: Mapping[tuple[int, str, int, datetime], float],
    gauges: Mapping[tuple[int, str], float],
) -> None:
    """Add `totals` and `buckets` deltas and set `gauges`, each kind in one statement."""
    connection = await session.connection()
    now = utcnow()
    table = UserMetric.__table__
    if totals:
        added = insert_for(session, table)
        await connection.execute(
            added.on_conflict_do_update(
                index_elements=["user_id", "metric"],
                set_={"value": table.c.value + added.excluded.value, "updated_at": now},
            ),
            [
                {"user_id": u, "metric": m, "value": v, "updated_at": now}
                for (u, m), v in totals.items()
            ],
        )
    if gauges:
        put = insert_for(session, table)
        await connection.execute(
            put.on_conflict_do_update(
                index_elements=["user_id", "metric"],
                set_={"value": put.excluded.value, "updated_at": now},
            ),
            [
                {"user_id": u, "metric": m, "value": v, "updated_at": now}
                for (u, m), v in gauges.items()
            ],
        )
    if buckets:
        bucket_table = MetricBucket.__table__
        bucketed = insert_for(session, bucket_table)
        await connection.execute(
            bucketed.on_conflict_do_update(
                index_elements=["user_id", "metric", "bucket_s", "bucket_start"],
                set_={"value": bucket_table.c.value + bucketed.excluded.value},
            ),
            [
                {"user_id": u, "metric": m, "bucket_s": b, "bucket_start": s, "value": v}
                for (u, m, b, s), v in buckets.items()
            ],
        )
