"""learning themes drafts

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-26 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "theme_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=12), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("key_messages", sa.Text(), nullable=True),
        sa.Column("dropped_lines", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_by", sa.String(length=32), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_by", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("channel_ts", sa.String(length=32), nullable=True),
        sa.Column("post_outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_theme_drafts_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_drafts")),
        sa.UniqueConstraint("quarter", "service_id", name=op.f("uq_theme_drafts_quarter_service_id")),
    )
    with op.batch_alter_table("theme_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_theme_drafts_service_id"), ["service_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("theme_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_theme_drafts_service_id"))
    op.drop_table("theme_drafts")
