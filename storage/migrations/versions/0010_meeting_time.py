"""The learning-audit meeting's time, length and place, and its invitation's sequence number.

``meeting_at`` is the start in UTC; the council's timezone turns it back into the day and time people
read. ``meeting_sequence`` counts how often the time was set, so the ``.ics`` sent after a change
carries a higher SEQUENCE under the same UID and calendars move the event instead of adding one.
Audits set up before this revision keep their group DM and have no time yet.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("learning_audits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("meeting_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("meeting_place", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("meeting_sequence", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("learning_audits", schema=None) as batch_op:
        batch_op.drop_column("meeting_sequence")
        batch_op.drop_column("meeting_place")
        batch_op.drop_column("meeting_minutes")
        batch_op.drop_column("meeting_at")
