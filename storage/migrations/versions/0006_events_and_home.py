"""Merge the feature branches; Slack event de-duplication and App Home hashes.

Revision ID: 0006
Revises: 0003, 0004, 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = ("0003", "0004", "0005")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_slack_events")),
    )
    op.create_index(op.f("ix_slack_events_received_at"), "slack_events", ["received_at"], unique=False)
    op.create_table(
        "home_views",
        sa.Column("slack_id", sa.String(length=32), nullable=False),
        sa.Column("view_hash", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slack_id", name=op.f("pk_home_views")),
    )


    op.create_index("ix_outbox_channel_queue", "outbox", ["status", "channel", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_channel_queue", table_name="outbox")
    op.drop_table("home_views")
    op.drop_index(op.f("ix_slack_events_received_at"), table_name="slack_events")
    op.drop_table("slack_events")
