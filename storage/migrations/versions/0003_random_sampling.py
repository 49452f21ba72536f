"""random sampling: case register, draws, pairs, sampled cases, blind audits, moderation, flags

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}"),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "case_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("case_holder_id", sa.Integer(), nullable=False),
        sa.Column("team_manager_id", sa.Integer(), nullable=False),
        sa.Column("reviewing_officer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("case_register", "case_holder_id", "people.id"),
        _fk("case_register", "reviewing_officer_id", "people.id"),
        _fk("case_register", "service_id", "services.id"),
        _fk("case_register", "team_id", "teams.id"),
        _fk("case_register", "team_manager_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_register")),
        sa.UniqueConstraint("case_ref", name=op.f("uq_case_register_case_ref")),
    )
    with op.batch_alter_table("case_register", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_register_service_id"), ["service_id"], unique=False)

    op.create_table(
        "sample_service_choices",
        sa.Column("quarter", sa.String(length=12), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("chosen_by_id", sa.Integer(), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        _fk("sample_service_choices", "chosen_by_id", "people.id"),
        _fk("sample_service_choices", "service_id", "services.id"),
        sa.PrimaryKeyConstraint("quarter", name=op.f("pk_sample_service_choices")),
    )

    op.create_table(
        "sample_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=12), nullable=False),
        sa.Column("quarter_index", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("service_reason", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("per_auditor", sa.Integer(), nullable=False),
        sa.Column("pool", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("exclusions", sa.JSON(), nullable=False),
        sa.Column("shortfalls", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_posted_at", sa.DateTime(timezone=True), nullable=True),
        _fk("sample_draws", "service_id", "services.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_draws")),
        sa.UniqueConstraint("quarter", name=op.f("uq_sample_draws_quarter")),
    )
    with op.batch_alter_table("sample_draws", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_draws_service_id"), ["service_id"], unique=False)

    op.create_table(
        "sample_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("qi_id", sa.Integer(), nullable=False),
        sa.Column("pc_id", sa.Integer(), nullable=False),
        _fk("sample_pairs", "draw_id", "sample_draws.id", ondelete="CASCADE"),
        _fk("sample_pairs", "pc_id", "people.id"),
        _fk("sample_pairs", "qi_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_pairs")),
        sa.UniqueConstraint("draw_id", "pc_id", name=op.f("uq_sample_pairs_draw_id_pc_id")),
        sa.UniqueConstraint("draw_id", "qi_id", name=op.f("uq_sample_pairs_draw_id_qi_id")),
    )
    with op.batch_alter_table("sample_pairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_pairs_draw_id"), ["draw_id"], unique=False)

    op.create_table(
        "sampled_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=12), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("case_holder_id", sa.Integer(), nullable=False),
        sa.Column("team_manager_id", sa.Integer(), nullable=False),
        sa.Column("reviewing_officer_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("sampled_cases", "case_holder_id", "people.id"),
        _fk("sampled_cases", "draw_id", "sample_draws.id", ondelete="CASCADE"),
        _fk("sampled_cases", "pair_id", "sample_pairs.id"),
        _fk("sampled_cases", "reviewing_officer_id", "people.id"),
        _fk("sampled_cases", "service_id", "services.id"),
        _fk("sampled_cases", "team_id", "teams.id"),
        _fk("sampled_cases", "team_manager_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sampled_cases")),
        sa.UniqueConstraint("quarter", "case_ref", name=op.f("uq_sampled_cases_quarter_case_ref")),
    )
    with op.batch_alter_table("sampled_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sampled_cases_draw_id"), ["draw_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sampled_cases_pair_id"), ["pair_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sampled_cases_quarter"), ["quarter"], unique=False)

    op.create_table(
        "sample_audits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("auditor_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=4), nullable=False),
        sa.Column("discussions", sa.JSON(), nullable=False),
        sa.Column("service_user_feedback", sa.Text(), nullable=True),
        sa.Column("strengths", sa.Text(), nullable=False),
        sa.Column("areas_for_improvement", sa.Text(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("case_study", sa.Boolean(), nullable=False),
        sa.Column("case_study_note", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        _fk("sample_audits", "auditor_id", "people.id"),
        _fk("sample_audits", "case_id", "sampled_cases.id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_audits")),
        sa.UniqueConstraint("case_id", "auditor_id", name=op.f("uq_sample_audits_case_id_auditor_id")),
    )
    with op.batch_alter_table("sample_audits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_audits_auditor_id"), ["auditor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sample_audits_case_id"), ["case_id"], unique=False)

    op.create_table(
        "sample_moderations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agreed_grade", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moderated_by_id", sa.Integer(), nullable=False),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        _fk("sample_moderations", "case_id", "sampled_cases.id", ondelete="CASCADE"),
        _fk("sample_moderations", "moderated_by_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_moderations")),
        sa.UniqueConstraint("case_id", name=op.f("uq_sample_moderations_case_id")),
    )

    op.create_table(
        "sample_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        _fk("sample_flags", "case_id", "sampled_cases.id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_flags")),
        sa.UniqueConstraint("case_id", "kind", name=op.f("uq_sample_flags_case_id_kind")),
    )
    with op.batch_alter_table("sample_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_flags_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_flags_case_id"))
    op.drop_table("sample_flags")
    op.drop_table("sample_moderations")
    with op.batch_alter_table("sample_audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_audits_case_id"))
        batch_op.drop_index(batch_op.f("ix_sample_audits_auditor_id"))
    op.drop_table("sample_audits")
    with op.batch_alter_table("sampled_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampled_cases_quarter"))
        batch_op.drop_index(batch_op.f("ix_sampled_cases_pair_id"))
        batch_op.drop_index(batch_op.f("ix_sampled_cases_draw_id"))
    op.drop_table("sampled_cases")
    with op.batch_alter_table("sample_pairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_pairs_draw_id"))
    op.drop_table("sample_pairs")
    with op.batch_alter_table("sample_draws", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_draws_service_id"))
    op.drop_table("sample_draws")
    op.drop_table("sample_service_choices")
    with op.batch_alter_table("case_register", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_register_service_id"))
    op.drop_table("case_register")
