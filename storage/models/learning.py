"""Learning audits: proposals, the quarter's round, audits, reflections, theme tags, actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow
from storage.models.directory import Person, Service, Team


class LearningRound(Base):
    """One quarter of learning audits: when proposals opened, the deadline, the allocation."""

    __tablename__ = "learning_rounds"

    quarter: Mapped[str] = mapped_column(String(12), primary_key=True)  # Quarter.key, e.g. 2026-27Q1
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[date]
    audits_due: Mapped[date | None]
    allocated_at: Mapped[datetime | None]
    allocation_seed: Mapped[int | None]
    allocation_explanation: Mapped[str | None] = mapped_column(Text)


class Proposal(Base):
    """A manager's proposal of a case that would give most learning."""

    __tablename__ = "proposals"
    # live_ref is the case reference while the proposal is live and NULL once withdrawn, so a
    # case can be proposed once per quarter and again after a withdrawal (NULLs never clash).
    __table_args__ = (UniqueConstraint("quarter", "live_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(12), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    live_ref: Mapped[str | None] = mapped_column(String(40))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    case_holder_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    team_manager_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    previously_inadequate: Mapped[bool] = mapped_column(default=False)
    lots_of_learning: Mapped[bool] = mapped_column(default=False)
    revisit: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed|withdrawn|allocated|not_allocated
    not_allocated_reason: Mapped[str | None] = mapped_column(Text)  # in words for the proposer
    # the proposal not allocated last quarter that this one carries on ("Propose again next
    # quarter"); unique, so however often the button is pressed there is one carried proposal
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    service: Mapped[Service] = relationship()
    team: Mapped[Team] = relationship()
    case_holder: Mapped[Person] = relationship(foreign_keys=[case_holder_id])
    team_manager: Mapped[Person] = relationship(foreign_keys=[team_manager_id])
    proposed_by: Mapped[Person] = relationship(foreign_keys=[proposed_by_id])

    @property
    def flagged(self) -> bool:
        return self.previously_inadequate or self.lots_of_learning or self.revisit


class LearningAudit(Base):
    """A case allocated to an independent Service Manager, and (once recorded) the audit itself.

    Never graded: there is no grade column on purpose.
    """

    __tablename__ = "learning_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(12), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)  # one allocation a case
    auditor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    case_holder_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    team_manager_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="allocated")  # allocated|recorded
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date | None]
    meeting_channel: Mapped[str | None] = mapped_column(String(32))
    # the meeting the auditor chose: its start (UTC), length, optional place, and how many times it
    # was set (the invitation's SEQUENCE, so a calendar replaces the old time instead of adding one)
    meeting_at: Mapped[datetime | None]
    meeting_minutes: Mapped[int | None]
    meeting_place: Mapped[str | None] = mapped_column(Text)
    meeting_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    recorded_at: Mapped[datetime | None]
    amended_at: Mapped[datetime | None]  # last amended after recording (0012)
    # the record (free text is checked for identifying details before it is stored)
    outcomes: Mapped[str | None] = mapped_column(Text)
    service_user_feedback: Mapped[str | None] = mapped_column(Text)
    feedback_source: Mapped[str | None] = mapped_column(Text)  # who said it, or why there was none
    worker_impact: Mapped[str | None] = mapped_column(Text)
    needed_to_improve: Mapped[str | None] = mapped_column(Text)
    good_practice: Mapped[str | None] = mapped_column(Text)
    wider_learning: Mapped[str | None] = mapped_column(Text)
    improve_themes: Mapped[list[Any] | None] = mapped_column(JSON)
    good_practice_themes: Mapped[list[Any] | None] = mapped_column(JSON)

    proposal: Mapped[Proposal] = relationship()
    auditor: Mapped[Person] = relationship(foreign_keys=[auditor_id])
    case_holder: Mapped[Person] = relationship(foreign_keys=[case_holder_id])
    team_manager: Mapped[Person] = relationship(foreign_keys=[team_manager_id])
    service: Mapped[Service] = relationship()
    team: Mapped[Team] = relationship()
    reflection: Mapped[Reflection | None] = relationship(back_populates="audit", uselist=False)


class Reflection(Base):
    """The case holder's self-audit; one per audit."""

    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("learning_audits.id"), unique=True)
    case_holder_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    trying_to_achieve: Mapped[str] = mapped_column(Text)
    difference_made: Mapped[str] = mapped_column(Text)
    child_family_said: Mapped[str] = mapped_column(Text)
    do_differently: Mapped[str] = mapped_column(Text)
    support_needed: Mapped[str | None] = mapped_column(Text)  # private to the case holder and their TM
    themes: Mapped[list[Any] | None] = mapped_column(JSON)  # themes to develop (all of them before 0008)
    themes_good: Mapped[list[Any] | None] = mapped_column(JSON)  # themes that went well
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    amended_at: Mapped[datetime | None]  # last amended after the audit was recorded (0012)

    audit: Mapped[LearningAudit] = relationship(back_populates="reflection")


class ThemeTag(Base):
    """One theme raised in one audit or reflection: kept flat so collation is a GROUP BY."""

    __tablename__ = "theme_tags"
    __table_args__ = (
        UniqueConstraint("audit_id", "source", "kind", "theme"),
        Index("ix_theme_tags_quarter_service", "quarter", "service_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(12))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    audit_id: Mapped[int] = mapped_column(ForeignKey("learning_audits.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(12))  # audit | reflection
    kind: Mapped[str] = mapped_column(String(12))  # improve | good
    theme: Mapped[str] = mapped_column(String(120))


class Action(Base):
    """An action with an owner and a due date, from any kind of quality work."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_owner_status", "owner_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(20))  # learning_audit | random_sample | learning_visit | themed_audit
    source_id: Mapped[int] = mapped_column(index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)
    quarter: Mapped[str | None] = mapped_column(String(12))
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    description: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    owner: Mapped[Person] = relationship(foreign_keys=[owner_id])
