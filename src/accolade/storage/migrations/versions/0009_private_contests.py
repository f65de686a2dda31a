"""Private contests: a contest's visibility, and the users invited to the private ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accolade.storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contests") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(length=10), nullable=False, server_default="public")
        )
    op.create_table(
        "contest_invitations",
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("invited_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["contests.id"],
            name=op.f("fk_contest_invitations_contest_id_contests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_contest_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contest_id", "user_id", name=op.f("pk_contest_invitations")),
    )
    with op.batch_alter_table("contest_invitations") as batch:
        batch.create_index(batch.f("ix_contest_invitations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contest_invitations") as batch:
        batch.drop_index(batch.f("ix_contest_invitations_user_id"))
    op.drop_table("contest_invitations")
    with op.batch_alter_table("contests") as batch:
        batch.drop_column("visibility")
