"""commissions: themed audits, learning visits and items queued for the Continuous Improvement Board

Revision ID: 0004
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}"),
                                   ondelete=ondelete)


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "themed_audits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=200), nullable=False),
        sa.Column("theory", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("sampling_focus", sa.Text(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("service_user_views", sa.Boolean(), nullable=False),
        sa.Column("workshop_on", sa.Date(), nullable=False),
        sa.Column("cib_meeting_id", sa.Integer(), nullable=True),
        sa.Column("commissioned_by_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("performance_notes", sa.Text(), nullable=True),
        sa.Column("service_user_feedback", sa.Text(), nullable=True),
        sa.Column("collated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderated_findings", sa.Text(), nullable=True),
        sa.Column("recommendations", sa.Text(), nullable=True),
        sa.Column("moderated_themes", sa.JSON(), nullable=True),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("themed_audits", "cib_meeting_id", "cib_meetings.id"),
        _fk("themed_audits", "commissioned_by_id", "people.id"),
        _fk("themed_audits", "moderated_by_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themed_audits")),
    )
    _index("themed_audits", "cib_meeting_id", "commissioned_by_id")

    op.create_table(
        "themed_audit_auditors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _fk("themed_audit_auditors", "audit_id", "themed_audits.id", ondelete="CASCADE"),
        _fk("themed_audit_auditors", "person_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themed_audit_auditors")),
        sa.UniqueConstraint("audit_id", "person_id", name=op.f("uq_themed_audit_auditors_audit_id_person_id")),
    )
    _index("themed_audit_auditors", "audit_id", "person_id")

    op.create_table(
        "themed_audit_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        _fk("themed_audit_cases", "audit_id", "themed_audits.id", ondelete="CASCADE"),
        _fk("themed_audit_cases", "added_by_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themed_audit_cases")),
        sa.UniqueConstraint("audit_id", "case_ref", name=op.f("uq_themed_audit_cases_audit_id_case_ref")),
    )
    _index("themed_audit_cases", "audit_id")

    op.create_table(
        "themed_audit_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("auditor_id", sa.Integer(), nullable=False),
        sa.Column("against_theory", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("service_user_views", sa.Text(), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("themed_audit_findings", "audit_id", "themed_audits.id", ondelete="CASCADE"),
        _fk("themed_audit_findings", "case_id", "themed_audit_cases.id", ondelete="CASCADE"),
        _fk("themed_audit_findings", "auditor_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themed_audit_findings")),
        sa.UniqueConstraint("case_id", "auditor_id", name=op.f("uq_themed_audit_findings_case_id_auditor_id")),
    )
    _index("themed_audit_findings", "audit_id", "auditor_id", "case_id")

    op.create_table(
        "learning_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("financial_year", sa.String(length=12), nullable=False),
        sa.Column("need_or_risk", sa.Text(), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column("lead_reviewer_id", sa.Integer(), nullable=False),
        sa.Column("commissioned_by_id", sa.Integer(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("preparation_notes", sa.Text(), nullable=False),
        sa.Column("performance_info", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("plan_summary", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("learning_visits", "service_id", "services.id"),
        _fk("learning_visits", "lead_reviewer_id", "people.id"),
        _fk("learning_visits", "commissioned_by_id", "people.id"),
        _fk("learning_visits", "recorded_by_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_visits")),
    )
    _index("learning_visits", "commissioned_by_id", "financial_year", "lead_reviewer_id", "service_id")

    op.create_table(
        "learning_visit_visitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _fk("learning_visit_visitors", "visit_id", "learning_visits.id", ondelete="CASCADE"),
        _fk("learning_visit_visitors", "person_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_visit_visitors")),
        sa.UniqueConstraint("visit_id", "person_id", name=op.f("uq_learning_visit_visitors_visit_id_person_id")),
    )
    _index("learning_visit_visitors", "person_id", "visit_id")

    op.create_table(
        "cib_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_by_id", sa.Integer(), nullable=True),
        sa.Column("digested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        _fk("cib_items", "meeting_id", "cib_meetings.id"),
        _fk("cib_items", "queued_by_id", "people.id"),
        _fk("cib_items", "received_by_id", "people.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cib_items")),
        sa.UniqueConstraint("source_kind", "source_id", name=op.f("uq_cib_items_source_kind_source_id")),
    )
    _index("cib_items", "meeting_id")


def downgrade() -> None:
    for table in ("cib_items", "learning_visit_visitors", "learning_visits", "themed_audit_findings",
                  "themed_audit_cases", "themed_audit_auditors", "themed_audits"):
        op.drop_table(table)
