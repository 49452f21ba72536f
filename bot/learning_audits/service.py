"""Learning audits once the proposals close: the rules every step shares.

Who may act on an audit (its auditor, its case holder), the case as its messages describe it, the
checks on what people write, and the meeting. The steps live beside this module: the allocation
run (``allocation_run``, solved by the pure ``allocation``), who is told what (``notify``), the
case holder's reflection (``reflection``), the auditor's record (``record``), and the job,
reminders and to-dos (``jobs``).

The framework asks for two things that shape the feature. Auditors must be *entirely independent*
of their cases (``bot.core.independence`` says what that means). And the process is for learning,
not performance management, so nothing here grades anything, and what goes to a channel never
carries a case reference (those stay in DMs to the people concerned).

Every permission is checked here, on the server, from the database: a button's value or a
modal's private_metadata only says *which* audit, never *who may*.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy.orm import Session

from bot.core import audit as audit_log
from bot.core import outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, NotFound, NotPermitted
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem
from bot.learning_audits import messages as blocks
from bot.learning_audits.record_messages import themes_from_values
from bot.learning_audits.types import CaseCard
from storage.models import LearningAudit

SOURCE_KIND = "learning_audit"


# ---------------------------------------------------------------------------------------------
# the audit, and who may act on it


def quarter_label(key: str, policy: Policy) -> str:
    try:
        return Quarter.parse(key, policy.year_start_month).label
    except ValueError:
        return key


def case_card(audit: LearningAudit, policy: Policy) -> CaseCard:
    return CaseCard(
        audit_id=audit.id,
        case_ref=audit.case_ref,
        quarter_label=quarter_label(audit.quarter, policy),
        service_name=audit.service.name,
        team_name=audit.team.name,
        auditor=audit.auditor.slack_id,
        case_holder=audit.case_holder.slack_id,
        team_manager=audit.team_manager.slack_id,
        due_on=audit.due_on,
    )


def _get_audit(session: Session, audit_id: int) -> LearningAudit:
    found = session.get(LearningAudit, audit_id)
    if found is None:
        raise NotFound("Sorry, I can't find that learning audit. It may have been removed.")
    return found


def audit_for_auditor(session: Session, audit_id: int, actor: str) -> LearningAudit:
    """The audit, if ``actor`` is the Service Manager allocated to it."""
    found = _get_audit(session, audit_id)
    if found.auditor.slack_id != actor:
        raise NotPermitted(
            "Sorry, only the Service Manager allocated to this learning audit can do that. If you think "
            "it should be yours, ask the Quality & Improvement team."
        )
    return found


def audit_for_case_holder(session: Session, audit_id: int, actor: str) -> LearningAudit:
    """The audit, if ``actor`` holds its case: only they may write its reflection."""
    found = _get_audit(session, audit_id)
    if found.case_holder.slack_id != actor:
        raise NotPermitted(
            "Sorry, only the case holder for this learning audit can open or save its reflection. If you "
            "think it should be yours, ask the Quality & Improvement team."
        )
    return found


def refuse_if_recorded(found: LearningAudit, calendar: WorkingCalendar | None = None) -> None:
    if found.status == "recorded":
        raise Conflict(
            f"This learning audit was already recorded{_on(found, calendar)}; nothing was changed."
        )


def _on(found: LearningAudit, calendar: WorkingCalendar | None) -> str:
    if found.recorded_at is None:
        return ""
    day = calendar.today(found.recorded_at) if calendar else found.recorded_at.date()
    return f" on {blocks.nice_date(day)}"



# ---------------------------------------------------------------------------------------------
# what people write in the reflection and the record


class ModalAnswers(BaseModel):
    """Parsed modal state keyed by block id: empty answers are "" and empty selections []."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            annotation = cls.model_fields[info.field_name].annotation
            return [] if annotation == list[str] else ""
        if isinstance(value, str):
            return value.strip()
        return value


def check_text(
    errors: dict[str, str], block_id: str, label: str, text: str, today: date, *, required: bool
) -> None:
    if not text.strip():
        if required:
            errors[block_id] = f"Please answer “{label.rstrip('?')}”."
        return
    problem = free_text_problem(text, label, today)
    if problem:
        errors[block_id] = problem


def check_themes(errors: dict[str, str], block_id: str, chosen: Sequence[str], policy: Policy) -> list[str]:
    unknown = [t for t in chosen if t not in policy.learning_themes]
    if unknown:
        errors[block_id] = "Choose themes from the council's list."
    return [t for t in dict.fromkeys(chosen) if t in policy.learning_themes]


def themes_from_values_or_same(values: Sequence[str], policy: Policy) -> list[str]:
    return themes_from_values(values, policy.learning_themes)


# ---------------------------------------------------------------------------------------------
# step 5: the meeting


def meeting_people(learning_audit: LearningAudit) -> list[str]:
    """The three people who meet (two when the team manager holds the case)."""
    return list(
        dict.fromkeys(
            [
                learning_audit.auditor.slack_id,
                learning_audit.team_manager.slack_id,
                learning_audit.case_holder.slack_id,
            ]
        )
    )


def record_meeting(session: Session, *, audit_id: int, actor: str, channel: str, policy: Policy) -> bool:
    """Remember the group DM and post the meeting's purpose there once; False if already set up."""
    learning_audit = audit_for_auditor(session, audit_id, actor)
    first = learning_audit.meeting_channel is None
    if first:
        learning_audit.meeting_channel = channel
        audit_log.record(session, actor, "edit", "learning_audit", audit_id, meeting_channel=channel)
    text, body = blocks.meeting_message(case_card(learning_audit, policy))
    posted = outbox.enqueue(
        session,
        channel=learning_audit.meeting_channel or channel,
        text=text,
        blocks=body,
        dedupe_key=f"learning-meeting:{audit_id}",
    )
    return first and posted
