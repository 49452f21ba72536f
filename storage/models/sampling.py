"""Random sampling audits: the case register, each quarter's draw, the blind audits and moderation.

Blindness and "originals are never overwritten" are kept by the shape of the tables: each
auditor's audit is its own row (one per case per auditor, never updated once written) and the
agreed grade lives in a separate moderation row (one per case).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow
from storage.models.directory import Person, Service, Team


class CaseRegisterEntry(Base):
    """One open (or closed) case from the imported case register: the pool the draw picks from."""

    __tablename__ = "case_register"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    case_holder_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    team_manager_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reviewing_officer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | closed
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    service: Mapped[Service] = relationship()
    team: Mapped[Team] = relationship()
    case_holder: Mapped[Person] = relationship(foreign_keys=[case_holder_id])
    team_manager: Mapped[Person] = relationship(foreign_keys=[team_manager_id])
    reviewing_officer: Mapped[Person | None] = relationship(foreign_keys=[reviewing_officer_id])


class SampleServiceChoice(Base):
    """Q&I's choice of service for a quarter, made before that quarter's draw."""

    __tablename__ = "sample_service_choices"

    quarter: Mapped[str] = mapped_column(String(12), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    chosen_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)

    service: Mapped[Service] = relationship()


class SampleDraw(Base):
    """One quarter's draw, with everything needed to re-run it and to explain it."""

    __tablename__ = "sample_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(12), unique=True)  # one draw a quarter
    quarter_index: Mapped[int]  # Quarter.index(), so "least recently sampled" is arithmetic
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    service_reason: Mapped[str] = mapped_column(Text)
    seed: Mapped[int]
    per_auditor: Mapped[int]
    pool: Mapped[list[Any]] = mapped_column(JSON)  # the service's register rows at draw time
    # the rest of the draw's inputs: {"qi": [...], "pcs": [...], "previous_pairs": [[qi, pc]],
    # "recently_audited": {person: {case_ref: iso date}}}
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    exclusions: Mapped[list[Any]] = mapped_column(JSON)  # [{case_ref, person, reason}]
    shortfalls: Mapped[dict[str, Any]] = mapped_column(JSON)  # qi -> why they got fewer cases
    explanation: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date]
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    report_posted_at: Mapped[datetime | None]

    service: Mapped[Service] = relationship()
    pairs: Mapped[list[SamplePair]] = relationship(back_populates="draw", order_by="SamplePair.id")
    cases: Mapped[list[SampledCase]] = relationship(back_populates="draw", order_by="SampledCase.id")


class SamplePair(Base):
    """A Q&I auditor and the Practice Consultant paired with them for one quarter."""

    __tablename__ = "sample_pairs"
    __table_args__ = (UniqueConstraint("draw_id", "qi_id"), UniqueConstraint("draw_id", "pc_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id", ondelete="CASCADE"), index=True)
    qi_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    pc_id: Mapped[int] = mapped_column(ForeignKey("people.id"))

    draw: Mapped[SampleDraw] = relationship(back_populates="pairs")
    qi: Mapped[Person] = relationship(foreign_keys=[qi_id])
    pc: Mapped[Person] = relationship(foreign_keys=[pc_id])


class SampledCase(Base):
    """A case drawn for a pair to audit; case details are copied so later imports cannot change it.

    ``qi_id``/``pc_id`` are the case's own auditors: copied from its pair at the draw, and moved one
    case at a time when Q&I reassign an auditor (``bot.sampling.cover``). The pair stays as the
    draw's record of who was paired; every reader of "who audits this case" reads these."""

    __tablename__ = "sampled_cases"
    __table_args__ = (UniqueConstraint("quarter", "case_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id", ondelete="CASCADE"), index=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("sample_pairs.id"), index=True)
    qi_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    pc_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    quarter: Mapped[str] = mapped_column(String(12), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    case_holder_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    team_manager_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reviewing_officer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    due_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    draw: Mapped[SampleDraw] = relationship(back_populates="cases")
    pair: Mapped[SamplePair] = relationship()
    qi: Mapped[Person] = relationship(foreign_keys=[qi_id])
    pc: Mapped[Person] = relationship(foreign_keys=[pc_id])
    service: Mapped[Service] = relationship()
    team: Mapped[Team] = relationship()
    team_manager: Mapped[Person] = relationship(foreign_keys=[team_manager_id])
    audits: Mapped[list[SampleAudit]] = relationship(back_populates="case", order_by="SampleAudit.id")
    moderation: Mapped[SampleModeration | None] = relationship(back_populates="case", uselist=False)


class SampleAudit(Base):
    """One auditor's blind audit of a sampled case. Written once on submission, never updated."""

    __tablename__ = "sample_audits"
    __table_args__ = (UniqueConstraint("case_id", "auditor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sampled_cases.id", ondelete="CASCADE"), index=True)
    auditor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(4))  # qi | pc
    discussions: Mapped[list[Any]] = mapped_column(JSON)
    service_user_feedback: Mapped[str | None] = mapped_column(Text)
    strengths: Mapped[str] = mapped_column(Text)
    areas_for_improvement: Mapped[str] = mapped_column(Text)
    themes: Mapped[list[Any]] = mapped_column(JSON)
    grade: Mapped[int]  # bot.grades.Grade value, 1 (Outstanding) .. 4 (Inadequate)
    rationale: Mapped[str] = mapped_column(Text)
    case_study: Mapped[bool] = mapped_column(default=False)
    case_study_note: Mapped[str | None] = mapped_column(Text)
    # {section of practice: grade value}, the council's sections when it was recorded; None: recorded
    # before sections of practice (migration 0014), "not graded by section"
    section_grades: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[SampledCase] = relationship(back_populates="audits")
    auditor: Mapped[Person] = relationship()


class SampleModeration(Base):
    """The pair's agreed grade after both blind audits; the originals stay in sample_audits."""

    __tablename__ = "sample_moderations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sampled_cases.id", ondelete="CASCADE"), unique=True)
    agreed_grade: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    section_grades: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # agreed {section: grade value}
    moderated_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    moderated_at: Mapped[datetime] = mapped_column(default=utcnow)
    action_id: Mapped[int | None]  # the action plan opened for an Inadequate agreed grade

    case: Mapped[SampledCase] = relationship(back_populates="moderation")
    moderated_by: Mapped[Person] = relationship()
    corrections: Mapped[list[SampleGradeCorrection]] = relationship(
        primaryjoin="SampleModeration.case_id == foreign(SampleGradeCorrection.case_id)",
        order_by="SampleGradeCorrection.id", viewonly=True)


class SampleGradeCorrection(Base):
    """Q&I's correction of a moderated grade, with its reason. The moderation row's ``agreed_grade``
    carries the grade of record; each correction is kept here, oldest first, and the blind grades
    (``sample_audits``) are never touched."""

    __tablename__ = "sample_grade_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sampled_cases.id", ondelete="CASCADE"), index=True)
    from_grade: Mapped[int]
    to_grade: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    corrected_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    corrected_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[SampledCase] = relationship()
    corrected_by: Mapped[Person] = relationship()


class SampleFlag(Base):
    """Something Q&I should look at: blind grades far apart, or an Inadequate grade."""

    __tablename__ = "sample_flags"
    __table_args__ = (UniqueConstraint("case_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sampled_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # disagreement | inadequate_original | inadequate_agreed
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
