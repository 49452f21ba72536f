"""Commissioned work: themed audits, learning visits, and what is queued for the Continuous Improvement Board.

These are not paced by the quarter (a board or a DLT commissions them when there is a need), so
each row carries its own dates. A finding or plan reaches the CIB through one ``CibItem`` per
source, whose uniqueness is a database constraint: re-recording moderated findings or a visit's
plan updates that one item and can never put it on two digests.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow
from storage.models.directory import CibMeeting, Person, Service


class ThemedAudit(Base):
    """A themed audit: a theory about practice, tested on a qualitative sample, moderated at a workshop."""

    __tablename__ = "themed_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme: Mapped[str] = mapped_column(String(200))
    theory: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(120))  # one of policy.themed_audit_sources (or "Other: ...")
    priority: Mapped[str] = mapped_column(Text)  # the improvement-plan priority it serves
    sampling_focus: Mapped[str] = mapped_column(Text)
    sample_size: Mapped[int]
    service_user_views: Mapped[bool] = mapped_column(default=False)
    workshop_on: Mapped[date]
    cib_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("cib_meetings.id"), index=True)
    commissioned_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="commissioned")  # commissioned|collated|moderated
    # attached by the commissioner for the workshop (non-identifying, checked free text)
    performance_notes: Mapped[str | None] = mapped_column(Text)
    service_user_feedback: Mapped[str | None] = mapped_column(Text)
    collated_at: Mapped[datetime | None]
    # recorded at the workshop
    moderated_findings: Mapped[str | None] = mapped_column(Text)
    recommendations: Mapped[str | None] = mapped_column(Text)
    moderated_themes: Mapped[list[Any] | None] = mapped_column(JSON)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    moderated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    commissioned_by: Mapped[Person] = relationship(foreign_keys=[commissioned_by_id])
    cib_meeting: Mapped[CibMeeting | None] = relationship()
    auditors: Mapped[list[ThemedAuditAuditor]] = relationship(
        cascade="all, delete-orphan", order_by="ThemedAuditAuditor.position")
    cases: Mapped[list[ThemedAuditCase]] = relationship(cascade="all, delete-orphan", order_by="ThemedAuditCase.id")


class ThemedAuditAuditor(Base):
    __tablename__ = "themed_audit_auditors"
    __table_args__ = (UniqueConstraint("audit_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("themed_audits.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    person: Mapped[Person] = relationship()


class ThemedAuditCase(Base):
    """A case in the sample, known only by its case reference."""

    __tablename__ = "themed_audit_cases"
    __table_args__ = (UniqueConstraint("audit_id", "case_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("themed_audits.id", ondelete="CASCADE"), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class ThemedAuditFinding(Base):
    """One auditor's qualitative findings on one case; edited in place until the workshop moderates."""

    __tablename__ = "themed_audit_findings"
    __table_args__ = (UniqueConstraint("case_id", "auditor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("themed_audits.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("themed_audit_cases.id", ondelete="CASCADE"), index=True)
    auditor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    against_theory: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)
    service_user_views: Mapped[str | None] = mapped_column(Text)
    themes: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    case: Mapped[ThemedAuditCase] = relationship()
    auditor: Mapped[Person] = relationship()


class LearningVisit(Base):
    """A live practice observation of one service by senior managers independent of it."""

    __tablename__ = "learning_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    financial_year: Mapped[str] = mapped_column(String(12), index=True)  # e.g. 2026-27, for the yearly rate
    need_or_risk: Mapped[str] = mapped_column(Text)
    visit_on: Mapped[date]
    lead_reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    commissioned_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    activities: Mapped[list[Any]] = mapped_column(JSON)
    preparation_notes: Mapped[str] = mapped_column(Text)
    performance_info: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned | recorded
    feedback: Mapped[str | None] = mapped_column(Text)  # the lead reviewer's direct feedback to the service
    plan_summary: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_on: Mapped[date | None]
    recorded_at: Mapped[datetime | None]
    amended_at: Mapped[datetime | None]  # last amended after recording (0012)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    service: Mapped[Service] = relationship()
    lead_reviewer: Mapped[Person] = relationship(foreign_keys=[lead_reviewer_id])
    commissioned_by: Mapped[Person] = relationship(foreign_keys=[commissioned_by_id])
    visitors: Mapped[list[LearningVisitVisitor]] = relationship(
        cascade="all, delete-orphan", order_by="LearningVisitVisitor.position")


class LearningVisitVisitor(Base):
    __tablename__ = "learning_visit_visitors"
    __table_args__ = (UniqueConstraint("visit_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("learning_visits.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    person: Mapped[Person] = relationship()


class CibItem(Base):
    """Findings or a plan queued for a CIB meeting; one per source, so it reaches one digest once.

    ``meeting_id`` is the meeting it is queued for (NULL while none is scheduled); an item whose
    meeting's digest had already gone is carried into the next digest. ``digested_at`` marks the
    digest that carried it; the chair's receipt and decisions are recorded here too.
    """

    __tablename__ = "cib_items"
    __table_args__ = (UniqueConstraint("source_kind", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(20))  # themed_audit | learning_visit
    source_id: Mapped[int]
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("cib_meetings.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    digested_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decision: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]

    meeting: Mapped[CibMeeting | None] = relationship()
