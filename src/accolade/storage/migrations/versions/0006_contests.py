"""Contests and their entrants.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import JsonType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=True),
        sa.Column("end_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("prizes", JsonType, nullable=False),
        sa.Column("paid_out_at", UTCDateTime(), nullable=True),
        sa.Column("payout", JsonType, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contests")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("contests", schema=None) as batch_op:
        batch_op.create_index("ix_contests_status_start_at", ["status", "start_at"], unique=False)
        batch_op.create_index("ix_contests_status_end_at", ["status", "end_at"], unique=False)

    op.create_table(
        "contest_entries",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["contests.id"],
            name=op.f("fk_contest_entries_contest_id_contests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_contest_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contest_id", "user_id", name=op.f("pk_contest_entries")),
    )
    with op.batch_alter_table("contest_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contest_entries_standings",
            ["contest_id", "value", "reached_at", "user_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_contest_entries_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contest_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contest_entries_user_id"))
        batch_op.drop_index("ix_contest_entries_standings")
    op.drop_table("contest_entries")
    with op.batch_alter_table("contests", schema=None) as batch_op:
        batch_op.drop_index("ix_contests_status_end_at")
        batch_op.drop_index("ix_contests_status_start_at")
    op.drop_table("contests")
