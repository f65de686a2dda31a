"""Metric totals, time buckets and user stats: the engine's rows, one user at a time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select
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
