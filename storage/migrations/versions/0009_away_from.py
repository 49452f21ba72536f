"""When a person's time away starts, beside when it ends.

``people.away_until`` alone could only say "away from now until"; `/qmf away FROM TO` and the org
file's ``away:`` entries book leave ahead, so the start is kept too. A row with only
``away_until`` (set before this revision) still reads as away until then, so no data changes.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("away_from", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("away_from")
