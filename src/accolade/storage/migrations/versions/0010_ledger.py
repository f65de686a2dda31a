"""The correctable ledger: event reversals, revocable achievements, rarity counts, the audit log.

Existing data gets its counts here: each achievement's holders and first unlock, each user's first
event, and the number of users with an event (one grouped pass over each table).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import JsonType, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("first_event_at", UTCDateTime(), nullable=True))
    # Never recreated on SQLite: dropping the old `achievements` would cascade to every
    # user's unlocks (`user_achievements` references it ON DELETE CASCADE, foreign keys on).
    with op.batch_alter_table("achievements", recreate="never") as batch:
        batch.add_column(
            sa.Column("revocable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("reversed_at", UTCDateTime(), nullable=True))

    op.create_table(
        "event_reversals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("reversed_at", UTCDateTime(), nullable=False),
        sa.Column("effects", JsonType, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_reversals_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_event_reversals_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_reversals")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_reversals_event_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("event_reversals") as batch:
        batch.create_index(batch.f("ix_event_reversals_user_id"), ["user_id"], unique=False)

    stats = op.create_table(
        "achievement_stats",
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("unlocked_count", sa.Integer(), nullable=False),
        sa.Column("first_unlocked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_achievement_stats_achievement_id_achievements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("achievement_id", name=op.f("pk_achievement_stats")),
    )
    tallies = op.create_table(
        "tallies",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tallies")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("details", JsonType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.create_index("ix_audit_log_actor_id", ["actor", "id"], unique=False)
        batch.create_index("ix_audit_log_action_id", ["action", "id"], unique=False)

    assert stats is not None and tallies is not None
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO achievement_stats (achievement_id, unlocked_count, first_unlocked_at) "
            "SELECT a.id, count(ua.unlocked_at), min(ua.unlocked_at) FROM achievements a "
            "LEFT JOIN user_achievements ua ON ua.achievement_id = a.id "
            "AND ua.unlocked_at IS NOT NULL GROUP BY a.id"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE users SET first_event_at = (SELECT min(e.received_at) FROM events e "
            "WHERE e.user_id = users.id)"
        )
    )
    bind.execute(
        sa.text(
            "INSERT INTO tallies (name, value) "
            "SELECT 'active_users', count(*) FROM users WHERE first_event_at IS NOT NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_action_id")
        batch.drop_index("ix_audit_log_actor_id")
    op.drop_table("audit_log")
    op.drop_table("tallies")
    op.drop_table("achievement_stats")
    with op.batch_alter_table("event_reversals") as batch:
        batch.drop_index(batch.f("ix_event_reversals_user_id"))
    op.drop_table("event_reversals")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("reversed_at")
    with op.batch_alter_table("achievements") as batch:
        batch.drop_column("revocable")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("first_event_at")
