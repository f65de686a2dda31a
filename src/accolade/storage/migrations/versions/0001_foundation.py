"""Foundation: users, achievements (seed 004 + seed 002 fields), user achievements, settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import JsonType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("CURRENT_TIMESTAMP")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.Column("updated_at", UTCDateTime(), nullable=False, server_default=NOW),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(255), nullable=False),
        sa.Column("key_is_int", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("user_name", sa.String(255)),
        sa.Column("time_zone", sa.String(64)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("user_key", name="uq_users_user_key"),
        sqlite_autoincrement=True,  # ids are never reused after a delete
    )
    op.create_table(
        "achievements",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(100)),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("type", sa.String(20), nullable=False, server_default="MILESTONE"),
        sa.Column("category", sa.String(100)),
        sa.Column("points", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("icon", sa.String(255)),
        sa.Column("rarity", sa.String(20), nullable=False, server_default="common"),
        sa.Column("secret", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("requirements", JsonType, nullable=False, server_default="[]"),
        sa.Column("rewards", JsonType, nullable=False, server_default="[]"),
        sa.Column("is_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("metadata", JsonType, nullable=False, server_default="{}"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_achievements"),
        sa.UniqueConstraint("key", name="uq_achievements_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_achievements_name", "achievements", ["name"])
    op.create_table(
        "user_achievements",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("unlocked_at", UTCDateTime()),
        sa.Column("metadata", JsonType, server_default="{}"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_user_achievements"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_achievements_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name="fk_user_achievements_achievement_id_achievements",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "user_id", "achievement_id", name="user_achievements_user_achievement_idx"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_user_achievements_user_id", "user_achievements", ["user_id"])
    op.create_index("ix_user_achievements_achievement_id", "user_achievements", ["achievement_id"])
    op.create_index("user_achievements_unlocked_at_idx", "user_achievements", ["unlocked_at"])
    op.create_table(
        "instance_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("key", name="pk_instance_settings"),
    )


def downgrade() -> None:
    op.drop_table("instance_settings")
    op.drop_table("user_achievements")
    op.drop_table("achievements")
    op.drop_table("users")
