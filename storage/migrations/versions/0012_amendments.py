"""Amendments to recorded learning audits, reflections and visit feedback (issue 16 item 4).

``amended_at`` says when the record was last amended (None: never), so the record can say "amended
on ..."; the previous versions are kept in the audit log (action "amend").

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("learning_audits", "reflections", "learning_visits")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("amended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("amended_at")
