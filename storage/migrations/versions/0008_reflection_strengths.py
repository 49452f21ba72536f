"""The reflection's strengths apart from its areas to develop, and proposals carried into the next quarter.

``reflections.themes_good`` holds the themes the case holder says went well; ``reflections.themes``
keeps the themes to develop, so a reflection saved before this revision reads as it was meant then
(every theme an area to develop) and needs no data change. ``proposals.carried_from_id`` links a
proposal made again next quarter to the one that was not allocated; unique, so pressing "Propose
again next quarter" twice can only ever make one.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reflections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("themes_good", sa.JSON(), nullable=True))
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carried_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_proposals_carried_from_id_proposals"), "proposals", ["carried_from_id"], ["id"]
        )
        batch_op.create_unique_constraint(batch_op.f("uq_proposals_carried_from_id"), ["carried_from_id"])


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_proposals_carried_from_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_proposals_carried_from_id_proposals"), type_="foreignkey")
        batch_op.drop_column("carried_from_id")
    with op.batch_alter_table("reflections", schema=None) as batch_op:
        batch_op.drop_column("themes_good")
