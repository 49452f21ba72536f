"""Per-case random-sample auditors and moderated-grade corrections (issue 16 items 2 and 4).

A sampled case was audited by its pair (``sample_pairs``), so one case's auditor could not change.
Each case now carries its own ``qi_id`` and ``pc_id``, backfilled from its pair; the pair stays as
the draw's record of who was paired. ``sample_grade_corrections`` keeps each Q&I correction of a
moderated grade with its reason (the blind grades are never touched).

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sampled_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qi_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pc_id", sa.Integer(), nullable=True))
    for column in ("qi_id", "pc_id"):
        op.execute(
            f"UPDATE sampled_cases SET {column} = "  # noqa: S608 - fixed column names, no input
            f"(SELECT sample_pairs.{column} FROM sample_pairs WHERE sample_pairs.id = sampled_cases.pair_id)"
        )
    with op.batch_alter_table("sampled_cases", schema=None) as batch_op:
        batch_op.alter_column("qi_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("pc_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(op.f("fk_sampled_cases_qi_id_people"), "people", ["qi_id"], ["id"])
        batch_op.create_foreign_key(op.f("fk_sampled_cases_pc_id_people"), "people", ["pc_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_sampled_cases_qi_id"), ["qi_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sampled_cases_pc_id"), ["pc_id"], unique=False)

    op.create_table(
        "sample_grade_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_grade", sa.Integer(), nullable=False),
        sa.Column("to_grade", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("corrected_by_id", sa.Integer(), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["sampled_cases.id"],
                                name=op.f("fk_sample_grade_corrections_case_id_sampled_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["corrected_by_id"], ["people.id"],
                                name=op.f("fk_sample_grade_corrections_corrected_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_grade_corrections")),
    )
    with op.batch_alter_table("sample_grade_corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_grade_corrections_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample_grade_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_grade_corrections_case_id"))
    op.drop_table("sample_grade_corrections")
    with op.batch_alter_table("sampled_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampled_cases_pc_id"))
        batch_op.drop_index(batch_op.f("ix_sampled_cases_qi_id"))
        batch_op.drop_constraint(op.f("fk_sampled_cases_pc_id_people"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_sampled_cases_qi_id_people"), type_="foreignkey")
        batch_op.drop_column("pc_id")
        batch_op.drop_column("qi_id")
