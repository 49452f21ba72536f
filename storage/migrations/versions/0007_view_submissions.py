"""Modal submissions already taken, so a re-sent or double-pressed submission creates nothing.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("view_id", sa.String(length=64), nullable=False),
        sa.Column("view_hash", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_view_submissions")),
        sa.UniqueConstraint("view_id", "view_hash", name=op.f("uq_view_submissions_view_id_view_hash")),
    )
    op.create_index(op.f("ix_view_submissions_created_at"), "view_submissions", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_view_submissions_created_at"), table_name="view_submissions")
    op.drop_table("view_submissions")
