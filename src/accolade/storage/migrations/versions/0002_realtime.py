"""Real time: room events (outbox and catch-up history), celebrations, notifications, sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import JsonType, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.text("CURRENT_TIMESTAMP")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "room_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.BigInteger()),
        sa.Column("room", sa.String(300), nullable=False),
        sa.Column("namespace", sa.String(50)),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("payload", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_room_events"),
        sa.UniqueConstraint("seq", name="uq_room_events_seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_room_events_room_seq", "room_events", ["room", "seq"])
    op.create_index(
        "ix_room_events_pending",
        "room_events",
        ["id"],
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "celebrations",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("achievement_type", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("icon", sa.String(255)),
        sa.Column("payload", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_celebrations"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_celebrations_user_id_users", ondelete="CASCADE"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_celebrations_user_id_id", "celebrations", ["user_id", "id"])
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("data", JsonType, nullable=False, server_default="{}"),
        sa.Column("read_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_notifications_user_id_users", ondelete="CASCADE"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])
    op.create_table(
        "websocket_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(50), nullable=False),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("user_key", sa.String(255)),
        sa.Column("role", sa.String(20)),
        sa.Column("rooms", JsonType, nullable=False, server_default="[]"),
        sa.Column("connected_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.Column("last_heartbeat_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_websocket_sessions"),
    )
    op.create_index("ix_websocket_sessions_node_id", "websocket_sessions", ["node_id"])


def downgrade() -> None:
    op.drop_table("websocket_sessions")
    op.drop_table("notifications")
    op.drop_table("celebrations")
    op.drop_table("room_events")
