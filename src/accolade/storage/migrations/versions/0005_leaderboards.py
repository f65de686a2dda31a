"""Leaderboards: per-period metric rows (the source of truth for every store), teams, refreshes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leaderboard_entries",
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_key", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_leaderboard_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "metric", "period", "period_key", "user_id", name=op.f("pk_leaderboard_entries")
        ),
    )
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leaderboard_entries_board_order",
            ["metric", "period", "period_key", "value", "reached_at", "user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leaderboard_entries_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "leaderboard_refreshes",
        sa.Column("board", sa.String(length=120), nullable=False),
        sa.Column("next_refresh_at", UTCDateTime(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("board", name=op.f("pk_leaderboard_refreshes")),
    )

    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_key", sa.String(length=255), nullable=False),
        sa.Column("key_is_int", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("team_key", name=op.f("uq_teams_team_key")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_user_id"))
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_table("leaderboard_refreshes")
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leaderboard_entries_user_id"))
        batch_op.drop_index("ix_leaderboard_entries_board_order")
    op.drop_table("leaderboard_entries")
