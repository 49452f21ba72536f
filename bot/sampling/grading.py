"""Grading: each auditor's blind audit, then the grade the pair agree in moderation.

A grade reaches the other auditor only through ``blind_grades``, once both are in; the originals
are written once and never changed, and the agreed grade is stored beside them. Every refusal
(someone outside the pair, a second audit, moderating before both are in) is made here, so a
replayed or forged payload meets the same rules as a real click.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.calendar import WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.grades import Grade, needs_qi_attention
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem, shared_text_problem
from bot.core.roles import Role
from bot.sampling import findings
from bot.sampling import messages as blocks
from bot.sampling import sections as practice
from bot.sampling.alerts import add_flag, alert_inadequate, inadequate_agreed
from bot.sampling.results import maybe_post_report
from bot.sampling.service import (
    active_person,
    audits_of,
    get_case,
    members,
    partner_of,
    quarter_of,
    require_pair_member,
    slack_id_of,
)
from bot.sampling.types import (
    CASE_STUDY_YES,
    DISCUSSION_OPTIONS,
    AuditAnswers,
    AuditForm,
    BlindGrades,
    SampleIds,
)
from storage.models.sampling import SampleAudit, SampledCase, SampleModeration

# ---------------------------------------------------------------------------------------------
# the blind audit


def parse_audit(values: dict[str, Any], *, role: str, policy: Policy, today: date) -> AuditAnswers:
    """Check the modal's answers; every problem is an inline error on its own field."""
    errors: dict[str, str] = {}

    def text(block: SampleIds) -> str:
        return str(values.get(block.value) or "").strip()

    discussions = [d for d in values.get(SampleIds.DISCUSSIONS.value) or [] if d in DISCUSSION_OPTIONS]
    if not discussions:
        errors[SampleIds.DISCUSSIONS.value] = "Tick the discussions you held."
    feedback = text(SampleIds.FEEDBACK) or None
    if role == "pc" and feedback is None:
        errors[SampleIds.FEEDBACK.value] = ("As the Practice Consultant, record the service-user feedback you "
                                            "sought (or why there was none).")
    required = {SampleIds.STRENGTHS: "Say what the strengths are.",
                SampleIds.IMPROVE: "Say what could be better.",
                SampleIds.RATIONALE: "Say why you gave this grade."}
    for block, message in required.items():
        if not text(block):
            errors[block.value] = message
    grade: Grade | None = None
    try:
        grade = Grade(int(values.get(SampleIds.GRADE.value) or 0))
    except ValueError:
        errors[SampleIds.GRADE.value] = "Choose the overall grade."
    case_study = CASE_STUDY_YES in (values.get(SampleIds.CASE_STUDY.value) or [])
    note = text(SampleIds.CASE_STUDY_NOTE) or None
    if case_study and note is None:
        errors[SampleIds.CASE_STUDY_NOTE.value] = "Add a short anonymised note for the case study, or untick it."
    labels = {SampleIds.FEEDBACK: "Service-user feedback", SampleIds.STRENGTHS: "Strengths",
              SampleIds.IMPROVE: "Areas for improvement", SampleIds.RATIONALE: "Why this grade?",
              SampleIds.CASE_STUDY_NOTE: "Case study note"}
    for block, label in labels.items():
        value = text(block)
        if value and block.value not in errors:
            # the case-study note is shared in the Q&I channel's report: no case reference either
            problem = (shared_text_problem(value, label, policy, today) if block is SampleIds.CASE_STUDY_NOTE
                       else free_text_problem(value, label, today))
            if problem:
                errors[block.value] = problem
    themes = [t for t in values.get(SampleIds.THEMES.value) or [] if t in policy.learning_themes]
    section_grades, section_errors, stale = practice.parse_section_grades(values, policy.practice_sections)
    errors.update(section_errors)
    if stale:
        errors[SampleIds.GRADE.value] = practice.STALE_FORM
    if errors:
        raise InvalidInput(errors)
    assert grade is not None
    return AuditAnswers(discussions=discussions, service_user_feedback=feedback, strengths=text(SampleIds.STRENGTHS),
                        areas_for_improvement=text(SampleIds.IMPROVE), themes=themes, grade=grade,
                        rationale=text(SampleIds.RATIONALE), case_study=case_study, case_study_note=note,
                        section_grades=section_grades)


def audit_form(session: Session, *, case_id: int, slack_id: str, policy: Policy) -> AuditForm:
    """What the blind audit modal needs; refuses anyone outside the pair and a second audit."""
    case = get_case(session, case_id)
    role = require_pair_member(case, slack_id, "record its sample audit")
    mine = audits_of(case).get(role)
    if mine is not None:
        partner_done = audits_of(case).get("pc" if role == "qi" else "qi") is not None
        raise Conflict(blocks.already_recorded_text(case_ref=case.case_ref, grade=Grade(mine.grade),
                                                    partner=partner_of(case, role), partner_done=partner_done))
    return AuditForm(case_id=case.id, case_ref=case.case_ref, service=case.service.name, team=case.team.name,
                            role=role, partner=partner_of(case, role),
                            reviewing_officer=slack_id_of(session, case.reviewing_officer_id),
                            themes=list(policy.learning_themes), due=case.due_on,
                            sections=tuple(policy.practice_sections))


def record_audit(session: Session, *, case_id: int, slack_id: str, answers: AuditAnswers, now: datetime,
                 policy: Policy) -> tuple[SampleAudit, bool]:
    """Store one auditor's blind audit (locked from now on); returns it and whether both are now in."""
    case = get_case(session, case_id, for_update=True)
    role = require_pair_member(case, slack_id, "record its sample audit")
    if role in audits_of(case):
        mine = audits_of(case)[role]
        raise Conflict(blocks.already_recorded_text(
            case_ref=case.case_ref, grade=Grade(mine.grade), partner=partner_of(case, role),
            partner_done=len(case.audits) == 2))
    person = active_person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory any more, so the audit can't be recorded.")
    row = SampleAudit(
        case_id=case.id, auditor_id=person.id, role=role, discussions=answers.discussions,
        service_user_feedback=answers.service_user_feedback, strengths=answers.strengths,
        areas_for_improvement=answers.areas_for_improvement, themes=answers.themes, grade=int(answers.grade),
        rationale=answers.rationale, case_study=answers.case_study, case_study_note=answers.case_study_note,
        section_grades=practice.stored(answers.section_grades), submitted_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"Your audit of {case.case_ref} is already recorded, and its grade is locked.") from None
    session.refresh(case)
    audit.record(session, slack_id, "create", "sample_audit", row.id, case=case.case_ref, role=role)
    label = quarter_of(case.quarter, policy).label
    if answers.grade is Grade.INADEQUATE:
        alert_inadequate(session, case, agreed=False, quarter_label=label)
    both = len(case.audits) == 2
    if both:
        _both_in(session, case)
    return row, both


def submit_audit(session: Session, *, case_id: int, slack_id: str, values: dict[str, Any], now: datetime,
                 calendar: WorkingCalendar, policy: Policy) -> tuple[SampleAudit, AuditForm, bool]:
    """The modal's submission: who they are decides what is required (the PC's service-user feedback)."""
    case = get_case(session, case_id)
    role = require_pair_member(case, slack_id, "record its sample audit")
    answers = parse_audit(values, role=role, policy=policy, today=calendar.today(now))
    form = audit_form(session, case_id=case_id, slack_id=slack_id, policy=policy)
    row, both = record_audit(session, case_id=case_id, slack_id=slack_id, answers=answers, now=now, policy=policy)
    return row, form, both


def blind_grades(case: SampledCase) -> BlindGrades | None:
    """Both grades, or None while either is missing. The only way a grade reaches another person."""
    audits = audits_of(case)
    if "qi" not in audits or "pc" not in audits:
        return None
    qi, pc = Grade(audits["qi"].grade), Grade(audits["pc"].grade)
    sections = practice.pairs_of(audits["qi"].section_grades, audits["pc"].section_grades)
    return BlindGrades(case_id=case.id, case_ref=case.case_ref, qi=case.qi.slack_id, qi_grade=qi,
                       pc=case.pc.slack_id, pc_grade=pc, sections=sections,
                       flag=practice.flag_text(needs_qi_attention(qi, pc), sections))


def _both_in(session: Session, case: SampledCase) -> None:
    grades = blind_grades(case)
    assert grades is not None
    text, message = blocks.both_grades_message(grades)
    for member in members(case):
        outbox.enqueue(session, channel=member, text=text, blocks=message, dedupe_key=f"sample-both:{case.id}:{member}")
    if grades.flag:
        add_flag(session, case, "disagreement", grades.flag)
        text, message = blocks.qi_flag_message(grades)
        for person in directory.people_with_role(session, Role.QUALITY_IMPROVEMENT):
            if person not in members(case):
                outbox.enqueue(session, channel=person, text=text, blocks=message,
                               dedupe_key=f"sample-flag:{case.id}:{person}")



# ---------------------------------------------------------------------------------------------
# moderation


def _check_moderation(session: Session, case: SampledCase, slack_id: str) -> tuple[str, BlindGrades]:
    role = require_pair_member(case, slack_id, "moderate its grades")
    audits = audits_of(case)
    if role not in audits:
        raise Conflict(f"Record your own blind audit of {case.case_ref} first. You will see both grades once "
                       "you have both submitted.")
    grades = blind_grades(case)
    if grades is None:
        raise Conflict(f"<@{partner_of(case, role)}> has not submitted their blind audit of {case.case_ref} yet. "
                       "You will both be sent the two grades when they have.")
    if case.moderation is not None:
        m = case.moderation
        raise Conflict(f"{case.case_ref} has already been moderated: the agreed grade is "
                       f"{Grade(m.agreed_grade).label} (recorded by <@{m.moderated_by.slack_id}>).")
    return role, grades


def moderation_form(session: Session, *, case_id: int, slack_id: str) -> tuple[BlindGrades, str, str]:
    """Both grades and reasons for the moderation modal; only for the pair, only when both are in."""
    case = get_case(session, case_id)
    _, grades = _check_moderation(session, case, slack_id)
    audits = audits_of(case)
    audit.record(session, slack_id, "view", "sample_audit", case.id, case=case.case_ref, what="both blind grades")
    return grades, audits["qi"].rationale, audits["pc"].rationale


def grade_and_reason(values: dict[str, Any], grade_field: tuple[SampleIds, str],
                     reason_field: tuple[SampleIds, str, str], today: date) -> tuple[Grade | None, str, dict[str, str]]:
    """A grade chosen and the reason for it, as moderation and a correction both ask: (grade or None,
    reason, inline errors keyed by block id). ``grade_field`` is (block, "when none is chosen");
    ``reason_field`` is (block, the box's label for the text guard, "when it is empty")."""
    (grade_id, no_grade), (reason_id, label, no_reason) = grade_field, reason_field
    errors: dict[str, str] = {}
    grade: Grade | None = None
    try:
        grade = Grade(int(values.get(grade_id.value) or 0))
    except ValueError:
        errors[grade_id.value] = no_grade
    reason = str(values.get(reason_id.value) or "").strip()
    problem = no_reason if not reason else free_text_problem(reason, label, today)
    if problem:
        errors[reason_id.value] = problem
    return grade, reason, errors


def record_moderation(session: Session, *, case_id: int, slack_id: str, values: dict[str, Any], now: datetime,
                      calendar: WorkingCalendar, policy: Policy) -> SampleModeration:
    """Store the agreed grade beside the two originals; alert, open an action and report as needed."""
    today = calendar.today(now)
    case = get_case(session, case_id, for_update=True)
    role, blind = _check_moderation(session, case, slack_id)
    grade, reason, errors = grade_and_reason(
        values, (SampleIds.AGREED_GRADE, "Choose the grade you agreed."),
        (SampleIds.AGREED_REASON, "Reason for the agreed grade", "Say why you agreed this grade."), today)
    agreed_sections, section_errors, stale = practice.parse_section_grades(
        values, [p.section for p in blind.sections], agreed=True)
    errors.update(section_errors)
    if stale:
        errors[SampleIds.AGREED_GRADE.value] = practice.STALE_FORM
    if errors:
        raise InvalidInput(errors)
    assert grade is not None
    person = active_person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory any more, so the grade can't be recorded.")
    row = SampleModeration(case_id=case.id, agreed_grade=int(grade), reason=reason, moderated_by_id=person.id,
                           section_grades=practice.stored(agreed_sections) if blind.sections else None,
                           moderated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{case.case_ref} has just been moderated by your partner.") from None
    session.refresh(case)
    audit.record(session, slack_id, "create", "sample_moderation", row.id, case=case.case_ref, grade=int(grade))
    partner = partner_of(case, role)
    # the confirmation reaches the case's Q&I auditor either way (the partner, or a copy to the moderator),
    # with "Correct agreed grade" (Q&I's, checked on the server: bot.sampling.corrections)
    text, message = blocks.moderated_message(case_ref=case.case_ref, grade=grade, by=slack_id, reason=reason,
                                             correct_case_id=case.id if role == "pc" else None)
    outbox.enqueue(session, channel=partner, text=text, blocks=message, dedupe_key=f"sample-moderated:{case.id}")
    if role == "qi":
        text, message = blocks.moderated_message(case_ref=case.case_ref, grade=grade, by=slack_id, reason=reason,
                                                 correct_case_id=case.id)
        outbox.enqueue(session, channel=slack_id, text=text, blocks=message,
                       dedupe_key=f"sample-moderated-qi:{case.id}")
    plan = None
    if grade is Grade.INADEQUATE:  # one message for the team manager: the findings carry the alert and the plan
        plan = inadequate_agreed(session, case, row, actor=slack_id, today=today, calendar=calendar, policy=policy,
                                 told=findings.recipients(session, case))
    findings.send_findings(session, case, policy=policy, plan=plan)
    maybe_post_report(session, case.draw, policy=policy, now=now)
    return row

