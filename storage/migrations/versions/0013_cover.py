"""Cover: what Q&I were told about work needing cover (issue 16 items 1 and 3).

One row per (work key, reason, holder): work falling due while its holder is away, held by someone
who has left the directory, or on a case closed on the register is listed to Q&I once.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cover_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_key", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("work_key", "reason", "holder"),
    )


def downgrade() -> None:
    op.drop_table("cover_notices")
