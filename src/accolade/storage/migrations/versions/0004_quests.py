"""Quests: definitions with ordered steps, and each user's progress through them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import JsonType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("difficulty", sa.String(length=50), nullable=False),
        sa.Column("steps", JsonType, nullable=False),
        sa.Column("rewards", JsonType, nullable=False),
        sa.Column("requirements", JsonType, nullable=False),
        sa.Column("time_limit_s", sa.Integer(), nullable=True),
        sa.Column("start_date", UTCDateTime(), nullable=True),
        sa.Column("end_date", UTCDateTime(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("metadata", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quests")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "quest_progress",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("quest_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("completed_steps", JsonType, nullable=False),
        sa.Column("step_progress", JsonType, nullable=False),
        sa.Column("baseline", JsonType, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("history", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_quest_progress_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["quest_id"],
            ["quests.id"],
            name=op.f("fk_quest_progress_quest_id_quests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quest_progress")),
        sa.UniqueConstraint("user_id", "quest_id", name=op.f("uq_quest_progress_user_id_quest_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("quest_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quest_progress_quest_id"), ["quest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quest_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quest_progress_quest_id"))

    op.drop_table("quest_progress")
    op.drop_table("quests")
