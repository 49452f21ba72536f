"""Q&I correct a moderated grade, with a reason (issue 16 item 4).

The blind grades (``sample_audits``) are never touched. The moderation's ``agreed_grade`` becomes the
corrected grade of record, and each correction is kept in ``sample_grade_corrections`` with who made
it and why, so the report says "corrected from X" and the history stays. Only Q&I and admins may
correct, checked here on the server.

Consequences are the moderation's own: corrected TO Inadequate takes the agreed-Inadequate path
(flag, alert, improvement-plan action, ``bot.sampling.alerts.inadequate_agreed``); corrected FROM
Inadequate leaves the improvement-plan action open and Q&I are told so. The case holder and team
manager already sent the findings, and the two auditors, are told the grade was corrected and why.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.calendar import WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.grades import Grade
from bot.core.policy import Policy
from bot.core.privacy import outbound
from bot.core.roles import Role
from bot.sampling import findings
from bot.sampling import messages as blocks
from bot.sampling.alerts import inadequate_agreed
from bot.sampling.grading import grade_and_reason
from bot.sampling.service import active_person, get_case, members
from bot.sampling.types import CorrectionForm, SampleIds
from storage.models.sampling import SampledCase, SampleGradeCorrection, SampleModeration

CORRECTORS = (Role.QUALITY_IMPROVEMENT, Role.ADMIN)


def can_correct(session: Session, slack_id: str) -> bool:
    return directory.who(session, slack_id).has(*CORRECTORS)


def _moderated(session: Session, case_id: int, slack_id: str, *, for_update: bool = False) -> tuple[SampledCase, SampleModeration]:
    if not can_correct(session, slack_id):
        raise NotPermitted("Only Quality & Improvement (or a QMF admin) can correct an agreed grade.")
    case = get_case(session, case_id, for_update=for_update)
    if case.moderation is None:
        raise Conflict(f"{case.case_ref} has not been moderated yet, so there is no agreed grade to correct.")
    return case, case.moderation


def correction_form(session: Session, *, case_id: int, slack_id: str) -> CorrectionForm:
    case, mod = _moderated(session, case_id, slack_id)
    first = mod.corrections[0].from_grade if mod.corrections else None
    return CorrectionForm(case_id=case.id, case_ref=case.case_ref, grade=Grade(mod.agreed_grade),
                          agreed=Grade(first) if first is not None else None)


def correct_grade(session: Session, *, case_id: int, slack_id: str, values: dict[str, Any], now: datetime,
                  calendar: WorkingCalendar, policy: Policy) -> SampleGradeCorrection:
    """Store the correction beside the moderation and tell everyone it concerns."""
    today = calendar.today(now)
    case, mod = _moderated(session, case_id, slack_id, for_update=True)
    grade, reason, errors = grade_and_reason(
        values, (SampleIds.CORRECTED_GRADE, "Choose the corrected grade."),
        (SampleIds.CORRECTION_REASON, "Reason for the correction", "Say why the agreed grade is being corrected."),
        today)
    if grade is not None and int(grade) == mod.agreed_grade:
        errors[SampleIds.CORRECTED_GRADE.value] = "That is the agreed grade already."
    if errors:
        raise InvalidInput(errors)
    assert grade is not None
    person = active_person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory any more, so the grade can't be corrected.")
    before = Grade(mod.agreed_grade)
    row = SampleGradeCorrection(case_id=case.id, from_grade=int(before), to_grade=int(grade), reason=reason,
                                corrected_by_id=person.id, corrected_at=now)
    session.add(row)
    mod.agreed_grade = int(grade)
    session.flush()
    session.refresh(mod)
    audit.record(session, slack_id, "correct-grade", "sample_moderation", mod.id, case=case.case_ref,
                 **{"from": before.label, "to": grade.label, "reason": reason})
    _tell(session, case, mod, row, before=before, after=grade, actor=slack_id, today=today, calendar=calendar,
          policy=policy)
    return row


def _told_findings(session: Session, case: SampledCase) -> list[str]:
    """The case holder and team manager who have been sent this case's findings."""
    told = findings.already_told(session, [case])
    return [p for p in findings.recipients(session, case) if (case.id, p) in told]


def _tell(session: Session, case: SampledCase, mod: SampleModeration, row: SampleGradeCorrection, *,
          before: Grade, after: Grade, actor: str, today: date, calendar: WorkingCalendar, policy: Policy) -> None:
    key = f"sample-corrected:{row.id}"
    readers = _told_findings(session, case)
    plan = None
    if after is Grade.INADEQUATE and mod.action_id is None:  # an action opened before stays the one
        # the plan's owner among the readers reads it, with "Mark done", in this message: one, not two
        plan = inadequate_agreed(session, case, mod, actor=actor, today=today, calendar=calendar, policy=policy,
                                 told=readers)
    reason = outbound(row.reason, policy)
    for person in dict.fromkeys([*readers, *members(case)]):
        if person != actor:
            text, message = blocks.grade_corrected_message(
                case_ref=case.case_ref, before=before, after=after, by=actor, reason=reason, plan=plan, reader=person)
            outbox.enqueue(session, channel=person, text=text, blocks=message, dedupe_key=f"{key}:{person}")
    if before is Grade.INADEQUATE and mod.action_id is not None:
        note = blocks.action_stays_open_text(case_ref=case.case_ref, after=after)
        for person in directory.people_with_role(session, Role.QUALITY_IMPROVEMENT):
            outbox.enqueue(session, channel=person, text=note, dedupe_key=f"{key}:action:{person}")


def corrections_of(session: Session, case_id: int) -> list[SampleGradeCorrection]:
    return list(session.scalars(select(SampleGradeCorrection).where(SampleGradeCorrection.case_id == case_id)
                                .order_by(SampleGradeCorrection.id)))
