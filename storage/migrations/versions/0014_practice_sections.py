"""Sections of practice in random-sample audits and their moderation (issue 17 item 4).

Each blind audit and each moderation keeps its grades per section of practice as JSON
({section: grade value}); rows stored before have none ("not graded by section").

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sample_audits") as batch:
        batch.add_column(sa.Column("section_grades", sa.JSON(), nullable=True))
    with op.batch_alter_table("sample_moderations") as batch:
        batch.add_column(sa.Column("section_grades", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sample_moderations") as batch:
        batch.drop_column("section_grades")
    with op.batch_alter_table("sample_audits") as batch:
        batch.drop_column("section_grades")
