"""Leaderboard buckets: rows per value bucket per board, so a place costs the same at any depth.

Existing boards get their counts from their rows here (one pass over `leaderboard_entries`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

from accolade.domain import buckets

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INSERT_CHUNK_ROWS = 5000


def upgrade() -> None:
    table = op.create_table(
        "leaderboard_buckets",
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_key", sa.String(length=10), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "metric", "period", "period_key", "level", "bucket", name=op.f("pk_leaderboard_buckets")
        ),
    )
    assert table is not None
    counts: Counter[tuple[str, str, str, int, int]] = Counter()
    # Grouped by value (ties come once) and streamed: a large table is not held in memory.
    rows = op.get_bind().execute(
        sa.text(
            "SELECT metric, period, period_key, value, count(*) FROM leaderboard_entries "
            "GROUP BY metric, period, period_key, value"
        ).execution_options(yield_per=50_000)
    )
    for metric, period, period_key, value, n in rows:
        for level, bucket in buckets.buckets_of(value):
            counts[(metric, period, period_key, level, bucket)] += n
    records = [
        {"metric": m, "period": p, "period_key": k, "level": level, "bucket": b, "n": n}
        for (m, p, k, level, b), n in sorted(counts.items())
    ]
    for start in range(0, len(records), _INSERT_CHUNK_ROWS):
        op.bulk_insert(table, records[start : start + _INSERT_CHUNK_ROWS])


def downgrade() -> None:
    op.drop_table("leaderboard_buckets")
