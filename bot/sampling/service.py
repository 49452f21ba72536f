"""Random sampling audits: the quarter's draw, blind audits, moderation, alerts, reminders and the report.

Each quarter a different service is sampled: every Q&I auditor is paired with a Practice
Consultant and the pair audits a few cases drawn at random from the service's open cases. Both
audit on their own and grade blind, then moderate. Blindness is enforced here, on the server, for
every path a grade could leak through (a replayed button, the moderation button, the report): a
grade is shown to the other auditor only once both are in, and the report counts only moderated
cases. The originals are never overwritten: an audit row is written once, and the agreed grade
is a separate row.

The pure parts (which service, who pairs with whom, which cases) are in ``bot.sampling.draw`` and
``bot.core.grades``; this module gives them the database's inputs, stores what they decided, and tells
people through the outbox in the same transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.grades import Grade, needs_qi_attention, sample_stats
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem
from bot.core.todo import Todo
from bot.sampling import messages as blocks
from bot.sampling.draw import Draw, Pair, RegisterCase, choose_service, draw_sample, pair_auditors
from bot.sampling.messages import SampleIds
from schedules.jobs import JobContext, NotDue, job
from storage.models import LearningAudit, Person, Service
from storage.models.sampling import (
    CaseRegisterEntry,
    SampleAudit,
    SampledCase,
    SampleDraw,
    SampleFlag,
    SampleModeration,
    SamplePair,
    SampleServiceChoice,
)

log = logging.getLogger(__name__)

QI_ROLE = "quality_improvement"
PC_ROLE = "practice_consultant"
REPORT_ROLES = (QI_ROLE, "dlt")
RECENT_AUDIT_DAYS = 365
ACTION_WORKING_DAYS = 20
REMINDER_WORKING_DAYS = (5, 1)
TEXT_LIMIT = 3000


# ---------------------------------------------------------------------------------------------
# small lookups


def _person(session: Session, slack_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))


def quarter_of(key: str, policy: Policy) -> Quarter:
    return Quarter.parse(key, policy.year_start_month)


def draw_for(session: Session, quarter_key: str) -> SampleDraw | None:
    return session.scalar(select(SampleDraw).where(SampleDraw.quarter == quarter_key))


def latest_draw(session: Session) -> SampleDraw | None:
    return session.scalar(select(SampleDraw).order_by(SampleDraw.quarter_index.desc()).limit(1))


def _get_case(session: Session, case_id: int, *, for_update: bool = False) -> SampledCase:
    query = select(SampledCase).where(SampledCase.id == case_id)
    if for_update:
        query = query.with_for_update()  # two auditors submitting at once: one sees the other's row
    case = session.scalar(query)
    if case is None:
        raise NotFound("That sampled case no longer exists.")
    return case


def _role(case: SampledCase, slack_id: str) -> str | None:
    if case.pair.qi.slack_id == slack_id:
        return "qi"
    if case.pair.pc.slack_id == slack_id:
        return "pc"
    return None


def _partner(case: SampledCase, role: str) -> str:
    return case.pair.pc.slack_id if role == "qi" else case.pair.qi.slack_id


def _audits(case: SampledCase) -> dict[str, SampleAudit]:
    return {a.role: a for a in case.audits}


def _members(case: SampledCase) -> tuple[str, str]:
    return case.pair.qi.slack_id, case.pair.pc.slack_id


def _require_pair_member(case: SampledCase, slack_id: str, doing: str) -> str:
    role = _role(case, slack_id)
    if role is None:
        raise NotPermitted(f"Only the two auditors paired on {case.case_ref} can {doing}.")
    return role


# ---------------------------------------------------------------------------------------------
# which service


def _service_history(session: Session, before_index: int) -> dict[str, int | None]:
    rows = session.execute(
        select(Service.key, func.max(SampleDraw.quarter_index))
        .join(SampleDraw, SampleDraw.service_id == Service.id)
        .where(SampleDraw.quarter_index < before_index)
        .group_by(Service.key)
    ).all()
    return {key: index for key, index in rows}


def _services_with_open_cases(session: Session) -> set[int]:
    return set(session.scalars(select(CaseRegisterEntry.service_id).where(CaseRegisterEntry.status == "open")))


def choose_service_for(session: Session, quarter: Quarter) -> tuple[Service, str]:
    """Rotate through the services that have open cases; Q&I's choice for the quarter wins."""
    with_cases = _services_with_open_cases(session)
    services = {s.key: s for s in directory.active_services(session) if s.id in with_cases}
    choice = session.get(SampleServiceChoice, quarter.key)
    override = choice.service.key if choice is not None and choice.service.active else None
    if override is not None and override not in services:
        services[override] = choice.service  # type: ignore[union-attr]  # Q&I chose it knowingly
    previous = draw_for(session, quarter.previous().key)
    picked = choose_service(
        list(services), _service_history(session, quarter.index()),
        last_quarter_service=previous.service.key if previous is not None else None, override=override,
    )
    return services[picked.service_key], picked.reason


def set_next_service(session: Session, *, actor: str, service_key: str, calendar: WorkingCalendar,
                     now: datetime) -> tuple[Quarter, Service]:
    """Q&I's override: the service for the next draw (this quarter's, if it has not been drawn yet)."""
    me = directory.who(session, actor)
    if not me.has(QI_ROLE):
        raise NotPermitted("Only Quality & Improvement can choose the service for the random sample.")
    service = directory.service_by_key(session, service_key)
    if service is None:
        keys = ", ".join(s.key for s in directory.active_services(session))
        raise NotFound(f"There is no service `{service_key}`. Services: {keys}.")
    quarter = calendar.quarter(now)
    if draw_for(session, quarter.key) is not None:
        quarter = quarter.next()
    previous = draw_for(session, quarter.previous().key)
    if previous is not None and previous.service_id == service.id:
        raise Conflict(f"{service.name} was sampled in {quarter.previous().label}; each quarter samples a "
                       "different service. Choose another.")
    person = _person(session, actor)
    assert person is not None  # who() found them
    choice = session.get(SampleServiceChoice, quarter.key)
    if choice is None:
        session.add(SampleServiceChoice(quarter=quarter.key, service_id=service.id, chosen_by_id=person.id,
                                        chosen_at=now))
    else:
        choice.service_id, choice.chosen_by_id, choice.chosen_at = service.id, person.id, now
    session.flush()
    audit.record(session, actor, "edit", "sample_service_choice", quarter.key, service=service.key)
    return quarter, service


# ---------------------------------------------------------------------------------------------
# the draw


def sampling_people(session: Session, policy: Policy) -> tuple[list[str], list[str]]:
    qi = directory.people_with_role(session, QI_ROLE)[: policy.random_sample_auditors]
    return qi, directory.people_with_role(session, PC_ROLE)


def draw_blocker(session: Session, policy: Policy) -> str | None:
    """Why a draw cannot happen yet (so the job tries again on the next working day), or None."""
    active = {s.id for s in directory.active_services(session)}
    if not _services_with_open_cases(session) & active:
        return "the case register has no open cases: run `qmf-bot cases import FILE.csv` first"
    qi, pcs = sampling_people(session, policy)
    if not qi:
        return "there are no Q&I auditors in the org file (people: quality_improvement)"
    if len(set(pcs) - set(qi)) < len(qi):
        return (f"there are {len(qi)} Q&I auditors but only {len(pcs)} Practice Consultants; add "
                "practice_consultants to the org file")
    return None


def _register_cases(session: Session, service_id: int) -> list[RegisterCase]:
    entries = session.scalars(
        select(CaseRegisterEntry).where(CaseRegisterEntry.service_id == service_id).order_by(CaseRegisterEntry.case_ref)
    )
    return [
        RegisterCase(
            case_ref=e.case_ref, service_key=e.service.key, team_key=e.team.key, case_holder=e.case_holder.slack_id,
            team_manager=e.team_manager.slack_id,
            reviewing_officer=e.reviewing_officer.slack_id if e.reviewing_officer is not None else None,
            status=e.status,
        )
        for e in entries
    ]


def recently_audited(session: Session, people: list[str], *, since: datetime,
                     calendar: WorkingCalendar) -> dict[str, dict[str, date]]:
    """Cases each person was given to audit (sample or learning audit) since ``since``, with the date."""
    wanted = set(people)
    out: dict[str, dict[str, date]] = {}

    def note(person: str, ref: str, when: datetime) -> None:
        if person in wanted:
            day = calendar.today(when)
            seen = out.setdefault(person, {})
            seen[ref] = max(seen.get(ref, day), day)

    for case in session.scalars(select(SampledCase).join(SampleDraw).where(SampleDraw.drawn_at >= since)):
        for person in _members(case):
            note(person, case.case_ref, case.draw.drawn_at)
    rows = session.execute(
        select(LearningAudit.case_ref, LearningAudit.allocated_at, Person.slack_id)
        .join(Person, Person.id == LearningAudit.auditor_id)
        .where(LearningAudit.allocated_at >= since)
    ).all()
    for ref, when, person in rows:
        note(person, ref, when)
    return out


def _inputs_json(qi: list[str], pcs: list[str], previous: list[Pair],
                 recent: dict[str, dict[str, date]]) -> dict[str, Any]:
    return {
        "qi": qi, "pcs": pcs, "previous_pairs": [[p.qi, p.pc] for p in previous],
        "recently_audited": {p: {ref: d.isoformat() for ref, d in sorted(refs.items())}
                             for p, refs in sorted(recent.items())},
    }


def make_draw(session: Session, *, quarter: Quarter, calendar: WorkingCalendar, policy: Policy, now: datetime,
              seed: int | None = None) -> SampleDraw:
    """Choose the service, pair the auditors, draw the cases, store it all, and tell everyone."""
    if draw_for(session, quarter.key) is not None:
        raise Conflict(f"The random sample for {quarter.label} has already been drawn.")
    service, reason = choose_service_for(session, quarter)
    qi, pcs = sampling_people(session, policy)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    previous_draw = draw_for(session, quarter.previous().key)
    previous = [Pair(p.qi.slack_id, p.pc.slack_id) for p in previous_draw.pairs] if previous_draw else []
    pairs = pair_auditors(qi, pcs, previous_pairs=previous, seed=seed)
    register = _register_cases(session, service.id)
    recent = recently_audited(session, qi + pcs, since=now - timedelta(days=RECENT_AUDIT_DAYS), calendar=calendar)
    drawn = draw_sample(register, pairs, service_key=service.key, per_auditor=policy.random_sample_cases_per_auditor,
                        seed=seed, recently_audited=recent)
    due = calendar.previous_working_day(quarter.end)
    row = SampleDraw(
        quarter=quarter.key, quarter_index=quarter.index(), service_id=service.id, service_reason=reason, seed=seed,
        per_auditor=drawn.per_auditor, pool=[dataclasses.asdict(c) for c in register],
        inputs=_inputs_json(qi, pcs, previous, recent),
        exclusions=[dataclasses.asdict(e) for e in drawn.exclusions], shortfalls=dict(drawn.shortfalls),
        explanation=f"Quarter: {quarter.label}\nService: {service.key} ({reason})\n{drawn.explain()}",
        due_on=due, drawn_at=now,
    )
    session.add(row)
    session.flush()
    people = {p.slack_id: p for p in session.scalars(select(Person).where(Person.slack_id.in_(qi + pcs)))}
    pair_rows: dict[str, SamplePair] = {}
    for pair in drawn.pairs:
        pair_rows[pair.qi] = SamplePair(draw_id=row.id, qi_id=people[pair.qi].id, pc_id=people[pair.pc].id)
        session.add(pair_rows[pair.qi])
    session.flush()
    entries = {e.case_ref: e for e in session.scalars(
        select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref.in_([a.case_ref for a in drawn.assignments])))}
    for assignment in drawn.assignments:
        e = entries[assignment.case_ref]
        session.add(SampledCase(
            draw_id=row.id, pair_id=pair_rows[assignment.qi].id, quarter=quarter.key, case_ref=e.case_ref,
            service_id=e.service_id, team_id=e.team_id, case_holder_id=e.case_holder_id,
            team_manager_id=e.team_manager_id, reviewing_officer_id=e.reviewing_officer_id, due_on=due,
            created_at=now,
        ))
    session.flush()
    session.refresh(row)
    audit.record(session, "system", "create", "sample_draw", quarter.key, service=service.key, seed=seed,
                 cases=len(drawn.assignments), pairs=len(drawn.pairs))
    _notify_draw(session, row, quarter, reason)
    return row


def _notify_draw(session: Session, row: SampleDraw, quarter: Quarter, reason: str) -> None:
    service = row.service
    for pair in row.pairs:
        cases = [c for c in row.cases if c.pair_id == pair.id]
        assigned = [blocks.AssignedCase(c.id, c.case_ref, service.name, c.team.name,
                                        c.reviewing_officer_id is not None) for c in cases]
        for member, role, partner in ((pair.qi, "qi", pair.pc), (pair.pc, "pc", pair.qi)):
            text, message = blocks.allocation_message(quarter_label=quarter.label, service=service.name, role=role,
                                                      partner=partner.slack_id, cases=assigned, due=row.due_on)
            outbox.enqueue(session, channel=member.slack_id, text=text, blocks=message,
                           dedupe_key=f"sample-draw:{row.quarter}:{member.slack_id}")
        for c in cases:
            text, message = blocks.team_manager_message(case_ref=c.case_ref, quarter_label=quarter.label,
                                                        qi=pair.qi.slack_id, pc=pair.pc.slack_id)
            outbox.enqueue(session, channel=c.team_manager.slack_id, text=text, blocks=message,
                           dedupe_key=f"sample-tm:{row.quarter}:{c.case_ref}")
    channel = directory.channel_for(session, "quality_improvement")
    if channel:
        text, message = blocks.draw_posted_message(quarter_label=quarter.label, service=service.name, reason=reason,
                                                   cases=len(row.cases), pairs=len(row.pairs),
                                                   shortfalls=len(row.shortfalls or {}))
        outbox.enqueue(session, channel=channel, text=text, blocks=message, dedupe_key=f"sample-drawn:{row.quarter}")


def reproduce(row: SampleDraw) -> tuple[list[Pair], Draw]:
    """Re-run the pairing and the draw from the stored seed and inputs: the same answer proves the record."""
    inputs = row.inputs or {}
    previous = [Pair(qi, pc) for qi, pc in inputs.get("previous_pairs", [])]
    pairs = pair_auditors(inputs.get("qi", []), inputs.get("pcs", []), previous_pairs=previous, seed=row.seed)
    recent = {p: {ref: date.fromisoformat(d) for ref, d in refs.items()}
              for p, refs in (inputs.get("recently_audited") or {}).items()}
    cases = [RegisterCase(**c) for c in row.pool]
    drawn = draw_sample(cases, pairs, service_key=row.service.key, per_auditor=row.per_auditor, seed=row.seed,
                        recently_audited=recent)
    return pairs, drawn


def stored_assignments(row: SampleDraw) -> list[tuple[str, str, str]]:
    return sorted((c.case_ref, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases)


def explain(row: SampleDraw) -> str:
    """The stored explanation, and whether re-running the draw from its seed and pool agrees with it."""
    pairs, drawn = reproduce(row)
    same_pairs = sorted((p.qi, p.pc) for p in pairs) == sorted((p.qi.slack_id, p.pc.slack_id) for p in row.pairs)
    same_cases = sorted((a.case_ref, a.qi, a.pc) for a in drawn.assignments) == stored_assignments(row)
    check = ("Re-running the draw from the stored seed and pool gives the same pairs and cases."
             if same_pairs and same_cases else
             "WARNING: re-running the draw from the stored seed and pool does NOT give the stored result.")
    pool = "\n".join(f"  {c['case_ref']}  {c['team_key']}  holder {c['case_holder']}  manager {c['team_manager']}"
                     + (f"  IRO {c['reviewing_officer']}" if c.get("reviewing_officer") else "") + f"  {c['status']}"
                     for c in row.pool) or "  (empty)"
    return f"{row.explanation}\n\nPool snapshot ({len(row.pool)} register row(s)):\n{pool}\n\n{check}"


# ---------------------------------------------------------------------------------------------
# the blind audit


@dataclass(frozen=True)
class AuditAnswers:
    discussions: list[str]
    service_user_feedback: str | None
    strengths: str
    areas_for_improvement: str
    themes: list[str]
    grade: Grade
    rationale: str
    case_study: bool
    case_study_note: str | None


def parse_audit(values: dict[str, Any], *, role: str, policy: Policy, today: date) -> AuditAnswers:
    """Check the modal's answers; every problem is an inline error on its own field."""
    errors: dict[str, str] = {}

    def text(block: SampleIds) -> str:
        return str(values.get(block.value) or "").strip()

    discussions = [d for d in values.get(SampleIds.DISCUSSIONS.value) or [] if d in blocks.DISCUSSION_OPTIONS]
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
    case_study = blocks.CASE_STUDY_YES in (values.get(SampleIds.CASE_STUDY.value) or [])
    note = text(SampleIds.CASE_STUDY_NOTE) or None
    if case_study and note is None:
        errors[SampleIds.CASE_STUDY_NOTE.value] = "Add a short anonymised note for the case study, or untick it."
    labels = {SampleIds.FEEDBACK: "Service-user feedback", SampleIds.STRENGTHS: "Strengths",
              SampleIds.IMPROVE: "Areas for improvement", SampleIds.RATIONALE: "Why this grade?",
              SampleIds.CASE_STUDY_NOTE: "Case study note"}
    for block, label in labels.items():
        value = text(block)
        if value and block.value not in errors:
            problem = free_text_problem(value, label, today)
            if problem:
                errors[block.value] = problem
    themes = [t for t in values.get(SampleIds.THEMES.value) or [] if t in policy.learning_themes]
    if errors:
        raise InvalidInput(errors)
    assert grade is not None
    return AuditAnswers(discussions=discussions, service_user_feedback=feedback, strengths=text(SampleIds.STRENGTHS),
                        areas_for_improvement=text(SampleIds.IMPROVE), themes=themes, grade=grade,
                        rationale=text(SampleIds.RATIONALE), case_study=case_study, case_study_note=note)


def audit_form(session: Session, *, case_id: int, slack_id: str, policy: Policy) -> blocks.AuditForm:
    """What the blind audit modal needs; refuses anyone outside the pair and a second audit."""
    case = _get_case(session, case_id)
    role = _require_pair_member(case, slack_id, "record its sample audit")
    mine = _audits(case).get(role)
    if mine is not None:
        partner_done = _audits(case).get("pc" if role == "qi" else "qi") is not None
        raise Conflict(blocks.already_recorded_text(case_ref=case.case_ref, grade=Grade(mine.grade),
                                                    partner=_partner(case, role), partner_done=partner_done))
    return blocks.AuditForm(case_id=case.id, case_ref=case.case_ref, service=case.service.name, team=case.team.name,
                            role=role, partner=_partner(case, role),
                            has_reviewing_officer=case.reviewing_officer_id is not None,
                            themes=list(policy.learning_themes), due=case.due_on)


def record_audit(session: Session, *, case_id: int, slack_id: str, answers: AuditAnswers, now: datetime,
                 policy: Policy) -> tuple[SampleAudit, bool]:
    """Store one auditor's blind audit (locked from now on); returns it and whether both are now in."""
    case = _get_case(session, case_id, for_update=True)
    role = _require_pair_member(case, slack_id, "record its sample audit")
    if role in _audits(case):
        mine = _audits(case)[role]
        raise Conflict(blocks.already_recorded_text(
            case_ref=case.case_ref, grade=Grade(mine.grade), partner=_partner(case, role),
            partner_done=len(case.audits) == 2))
    person = _person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory any more, so the audit can't be recorded.")
    row = SampleAudit(
        case_id=case.id, auditor_id=person.id, role=role, discussions=answers.discussions,
        service_user_feedback=answers.service_user_feedback, strengths=answers.strengths,
        areas_for_improvement=answers.areas_for_improvement, themes=answers.themes, grade=int(answers.grade),
        rationale=answers.rationale, case_study=answers.case_study, case_study_note=answers.case_study_note,
        submitted_at=now,
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
        _alert_inadequate(session, case, agreed=False, quarter_label=label)
    both = len(case.audits) == 2
    if both:
        _both_in(session, case)
    return row, both


def submit_audit(session: Session, *, case_id: int, slack_id: str, values: dict[str, Any], now: datetime,
                 calendar: WorkingCalendar, policy: Policy) -> tuple[SampleAudit, blocks.AuditForm, bool]:
    """The modal's submission: who they are decides what is required (the PC's service-user feedback)."""
    case = _get_case(session, case_id)
    role = _require_pair_member(case, slack_id, "record its sample audit")
    answers = parse_audit(values, role=role, policy=policy, today=calendar.today(now))
    form = audit_form(session, case_id=case_id, slack_id=slack_id, policy=policy)
    row, both = record_audit(session, case_id=case_id, slack_id=slack_id, answers=answers, now=now, policy=policy)
    return row, form, both


def blind_grades(case: SampledCase) -> blocks.BlindGrades | None:
    """Both grades, or None while either is missing. The only way a grade reaches another person."""
    audits = _audits(case)
    if "qi" not in audits or "pc" not in audits:
        return None
    qi, pc = Grade(audits["qi"].grade), Grade(audits["pc"].grade)
    return blocks.BlindGrades(case_id=case.id, case_ref=case.case_ref, qi=case.pair.qi.slack_id, qi_grade=qi,
                              pc=case.pair.pc.slack_id, pc_grade=pc, flag=needs_qi_attention(qi, pc))


def _both_in(session: Session, case: SampledCase) -> None:
    grades = blind_grades(case)
    assert grades is not None
    text, message = blocks.both_grades_message(grades)
    for member in _members(case):
        outbox.enqueue(session, channel=member, text=text, blocks=message, dedupe_key=f"sample-both:{case.id}:{member}")
    if grades.flag:
        _add_flag(session, case, "disagreement", grades.flag)
        text, message = blocks.qi_flag_message(grades)
        for person in directory.people_with_role(session, QI_ROLE):
            if person not in _members(case):
                outbox.enqueue(session, channel=person, text=text, blocks=message,
                               dedupe_key=f"sample-flag:{case.id}:{person}")


def _add_flag(session: Session, case: SampledCase, kind: str, reason: str) -> None:
    exists = session.scalar(select(SampleFlag.id).where(SampleFlag.case_id == case.id, SampleFlag.kind == kind))
    if exists is None:
        session.add(SampleFlag(case_id=case.id, kind=kind, reason=reason))
        session.flush()


def _alert_inadequate(session: Session, case: SampledCase, *, agreed: bool, quarter_label: str,
                      action_due: date | None = None, owner: str | None = None) -> None:
    """Tell the case's team manager and service manager at once (never a member of the pair: blind)."""
    kind = "agreed" if agreed else "original"
    _add_flag(session, case, f"inadequate_{kind}", "Inadequate " + ("agreed grade" if agreed else "blind grade"))
    pair = set(_members(case))
    recipients = [case.team_manager.slack_id, case.service.service_manager.slack_id]
    text, message = blocks.inadequate_message(case_ref=case.case_ref, quarter_label=quarter_label, agreed=agreed,
                                              action_due=action_due, owner=owner)
    for person in dict.fromkeys(recipients):
        if person not in pair:
            outbox.enqueue(session, channel=person, text=text, blocks=message,
                           dedupe_key=f"sample-inadequate-{kind}:{case.id}:{person}")


# ---------------------------------------------------------------------------------------------
# moderation


def _check_moderation(session: Session, case: SampledCase, slack_id: str) -> tuple[str, blocks.BlindGrades]:
    role = _require_pair_member(case, slack_id, "moderate its grades")
    audits = _audits(case)
    if role not in audits:
        raise Conflict(f"Record your own blind audit of {case.case_ref} first. You will see both grades once "
                       "you have both submitted.")
    grades = blind_grades(case)
    if grades is None:
        raise Conflict(f"<@{_partner(case, role)}> has not submitted their blind audit of {case.case_ref} yet. "
                       "You will both be sent the two grades when they have.")
    if case.moderation is not None:
        m = case.moderation
        raise Conflict(f"{case.case_ref} has already been moderated: the agreed grade is "
                       f"{Grade(m.agreed_grade).label} (recorded by <@{m.moderated_by.slack_id}>).")
    return role, grades


def moderation_form(session: Session, *, case_id: int, slack_id: str) -> tuple[blocks.BlindGrades, str, str]:
    """Both grades and reasons for the moderation modal; only for the pair, only when both are in."""
    case = _get_case(session, case_id)
    _, grades = _check_moderation(session, case, slack_id)
    audits = _audits(case)
    audit.record(session, slack_id, "view", "sample_audit", case.id, case=case.case_ref, what="both blind grades")
    return grades, audits["qi"].rationale, audits["pc"].rationale


def record_moderation(session: Session, *, case_id: int, slack_id: str, values: dict[str, Any], now: datetime,
                      calendar: WorkingCalendar, policy: Policy) -> SampleModeration:
    """Store the agreed grade beside the two originals; alert, open an action and report as needed."""
    today = calendar.today(now)
    case = _get_case(session, case_id, for_update=True)
    role, _ = _check_moderation(session, case, slack_id)
    errors: dict[str, str] = {}
    grade: Grade | None = None
    try:
        grade = Grade(int(values.get(SampleIds.AGREED_GRADE.value) or 0))
    except ValueError:
        errors[SampleIds.AGREED_GRADE.value] = "Choose the grade you agreed."
    reason = str(values.get(SampleIds.AGREED_REASON.value) or "").strip()
    if not reason:
        errors[SampleIds.AGREED_REASON.value] = "Say why you agreed this grade."
    else:
        problem = free_text_problem(reason, "Reason for the agreed grade", today)
        if problem:
            errors[SampleIds.AGREED_REASON.value] = problem
    if errors:
        raise InvalidInput(errors)
    assert grade is not None
    person = _person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory any more, so the grade can't be recorded.")
    row = SampleModeration(case_id=case.id, agreed_grade=int(grade), reason=reason, moderated_by_id=person.id,
                           moderated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{case.case_ref} has just been moderated by your partner.") from None
    session.refresh(case)
    audit.record(session, slack_id, "create", "sample_moderation", row.id, case=case.case_ref, grade=int(grade))
    partner = _partner(case, role)
    text, message = blocks.moderated_message(case_ref=case.case_ref, grade=grade, by=slack_id, reason=reason)
    outbox.enqueue(session, channel=partner, text=text, blocks=message, dedupe_key=f"sample-moderated:{case.id}")
    if grade is Grade.INADEQUATE:
        _inadequate_agreed(session, case, row, actor=slack_id, today=today, calendar=calendar, policy=policy)
    maybe_post_report(session, case.draw, policy=policy, now=now)
    return row


def _inadequate_agreed(session: Session, case: SampledCase, row: SampleModeration, *, actor: str, today: date,
                       calendar: WorkingCalendar, policy: Policy) -> None:
    from bot.actions.service import (
        add_action,  # the action-plan flow; imported here so sampling loads without it
    )

    due = calendar.add_working_days(today, ACTION_WORKING_DAYS)
    owners = [case.team_manager.slack_id, case.service.service_manager.slack_id]
    description = f"Agree an improvement plan for {case.case_ref} after an Inadequate sample audit"
    action = None
    for owner in dict.fromkeys(owners):
        try:
            with session.begin_nested():
                action = add_action(session, source_kind="random_sample", source_id=case.id, owner=owner,
                                    description=description, due_on=due, created_by=actor,
                                    service_id=case.service_id, quarter=case.quarter, today=today)
            break
        except InvalidInput:
            log.warning("could not give the improvement-plan action for %s to %s", case.case_ref, owner)
    if action is not None:
        row.action_id = action.id
    _alert_inadequate(session, case, agreed=True, quarter_label=quarter_of(case.quarter, policy).label,
                      action_due=due if action is not None else None,
                      owner=action.owner.slack_id if action is not None else None)


def _describe_action_source(session: Session, source_id: int) -> str | None:
    case = session.get(SampledCase, source_id)
    return f"from the random sampling audit of {case.case_ref}" if case is not None else None


def _register_action_source() -> None:
    try:
        from bot.actions.service import register_source
    except ImportError:  # the action-plan flow is not installed
        return
    register_source("random_sample", _describe_action_source)


_register_action_source()


# ---------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True)
class CaseRow:
    """One sampled case for the Q&I export (case references: never posted to a channel)."""

    case_ref: str
    team: str
    qi: str
    qi_grade: Grade | None
    pc: str
    pc_grade: Grade | None
    agreed: Grade | None
    moderation_reason: str | None


@dataclass
class SampleReport:
    quarter: Quarter
    view: blocks.ReportView
    cases: list[CaseRow]
    complete: bool


def build_report(session: Session, row: SampleDraw, *, policy: Policy) -> SampleReport:
    """Figures from moderated cases only: an unmoderated case has no grade of record, and counting a
    half-finished pair would show one auditor's grade before the other has submitted."""
    results: list[tuple[Grade | None, Grade | None, Grade | None]] = []
    themes: Counter[str] = Counter()
    studies: list[str] = []
    rows: list[CaseRow] = []
    flagged = 0
    flags = {(f.case_id, f.kind) for f in session.scalars(
        select(SampleFlag).join(SampledCase).where(SampledCase.draw_id == row.id))}
    for case in row.cases:
        audits = _audits(case)
        qi, pc = audits.get("qi"), audits.get("pc")
        mod = case.moderation
        both = qi is not None and pc is not None  # a lone blind grade is never shown, even to Q&I
        rows.append(CaseRow(
            case_ref=case.case_ref, team=case.team.name, qi=case.pair.qi.slack_id,
            qi_grade=Grade(qi.grade) if both and qi else None, pc=case.pair.pc.slack_id,
            pc_grade=Grade(pc.grade) if both and pc else None,
            agreed=Grade(mod.agreed_grade) if mod else None, moderation_reason=mod.reason if mod else None,
        ))
        if mod is None or qi is None or pc is None:
            continue
        results.append((Grade(qi.grade), Grade(pc.grade), Grade(mod.agreed_grade)))
        themes.update(set(qi.themes or []) | set(pc.themes or []))
        studies += [a.case_study_note for a in (qi, pc) if a.case_study and a.case_study_note]
        flagged += (case.id, "disagreement") in flags
    stats = sample_stats(results)
    quarter = quarter_of(row.quarter, policy)
    view = blocks.ReportView(
        quarter_label=quarter.label, service=row.service.name, total_cases=len(row.cases), moderated=stats.moderated,
        by_grade=dict(stats.by_grade), pct_good_or_better=stats.pct_good_or_better,
        pct_inadequate=stats.pct_inadequate, pairs=stats.pairs, exact_agreement_pct=stats.exact_agreement_pct,
        within_one_pct=stats.within_one_pct, moved_up=stats.moderated_up, moved_down=stats.moderated_down,
        moved_same=stats.moderated_same, themes=sorted(themes.items(), key=lambda kv: (-kv[1], kv[0])),
        case_studies=studies, flags=flagged,
    )
    complete = bool(row.cases) and all(c.moderation is not None for c in row.cases)
    return SampleReport(quarter=quarter, view=view, cases=rows, complete=complete)


def grade_chart_spec(view: blocks.ReportView) -> dict[str, Any]:
    return {"categories": [g.label for g in Grade],
            "series": {"Agreed grade": [view.by_grade.get(g, 0) for g in Grade]},
            "chart_title": f"Random sample {view.quarter_label}: {view.service}", "xlabel": "Cases",
            "horizontal": False}


def grade_chart(view: blocks.ReportView) -> bytes:
    from bot.core.charts import bar_chart_png

    spec = grade_chart_spec(view)
    return bar_chart_png(spec["categories"], spec["series"], title=spec["chart_title"], xlabel=spec["xlabel"],
                         horizontal=False)


def maybe_post_report(session: Session, row: SampleDraw, *, policy: Policy, now: datetime) -> bool:
    """Post the report to the Q&I channel once, when the quarter's last case has been moderated."""
    session.refresh(row)
    if row.report_posted_at is not None:
        return False
    report = build_report(session, row, policy=policy)
    if not report.complete:
        return False
    channel = directory.channel_for(session, "quality_improvement")
    if not channel:
        log.warning("random sample %s is complete but there is no quality_improvement channel", row.quarter)
        return False
    text, message = blocks.report_blocks(report.view, final=True)
    outbox.enqueue(session, channel=channel, text=text, blocks=message, dedupe_key=f"sample-report:{row.quarter}")
    outbox.enqueue_chart(session, channel=channel, file_name=f"random-sample-{row.quarter}-grades.png",
                         title=f"Random sample {report.quarter.label}: grades", **grade_chart_spec(report.view),
                         dedupe_key=f"sample-report-chart:{row.quarter}")
    row.report_posted_at = now
    audit.record(session, "system", "export", "sample_report", row.quarter, channel=channel)
    return True


def report_for(session: Session, *, actor: str, quarter_key: str | None, policy: Policy) -> SampleReport:
    """`/qmf sample report`: Q&I and DLT only; the same figures as the channel post (moderated cases)."""
    me = directory.who(session, actor)
    if not me.has(*REPORT_ROLES):
        raise NotPermitted("The random sample report is for Quality & Improvement and the Divisional "
                           "Leadership Team.")
    if quarter_key:
        try:
            key = quarter_of(quarter_key, policy).key
        except ValueError as exc:
            raise NotFound(str(exc)) from None
        row = draw_for(session, key)
    else:
        row = latest_draw(session)
    if row is None:
        raise NotFound("There is no random sample for that quarter yet." if quarter_key
                       else "No random sample has been drawn yet.")
    audit.record(session, actor, "view", "sample_report", row.quarter)
    return build_report(session, row, policy=policy)


# ---------------------------------------------------------------------------------------------
# reminders, App Home, CIB digest


def send_sampling_reminders(ctx: JobContext) -> str:
    """Audits and moderations not done, 5 and 1 working days before the quarter's sample is due."""
    session, today = ctx.session, ctx.today
    row = draw_for(session, ctx.quarter.key)
    if row is None:
        return "random sampling: no draw this quarter"
    days_left = ctx.calendar.working_days_between(today, row.due_on)
    if days_left not in REMINDER_WORKING_DAYS:
        return f"random sampling: no reminders today ({days_left} working day(s) to the due date)"
    todo: dict[str, list[blocks.ReminderItem]] = {}
    for case in row.cases:
        if case.moderation is not None:
            continue
        audits = _audits(case)
        for role, member in (("qi", case.pair.qi.slack_id), ("pc", case.pair.pc.slack_id)):
            if len(audits) == 2:
                todo.setdefault(member, []).append(blocks.ReminderItem(case.id, case.case_ref, moderation=True))
            elif role not in audits:
                todo.setdefault(member, []).append(blocks.ReminderItem(case.id, case.case_ref, moderation=False))
    sent = away = 0
    for member, items in todo.items():
        person = _person(session, member)
        if person is None or not directory.is_available(person, today):
            away += 1
            continue
        text, message = blocks.reminder_message(items=items, due=row.due_on, days_left=days_left)
        sent += outbox.enqueue(session, channel=member, text=text, blocks=message,
                               dedupe_key=f"sample-remind:{row.quarter}:{days_left}:{member}")
    return f"random sampling: {sent} reminder(s) sent" + (f", {away} person(s) away" if away else "")


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    person = _person(session, slack_id)
    if person is None:
        return []
    cases = session.scalars(
        select(SampledCase).join(SamplePair, SamplePair.id == SampledCase.pair_id)
        .outerjoin(SampleModeration, SampleModeration.case_id == SampledCase.id)
        .where(or_(SamplePair.qi_id == person.id, SamplePair.pc_id == person.id), SampleModeration.id.is_(None))
        .order_by(SampledCase.due_on, SampledCase.case_ref)
    )
    out: list[Todo] = []
    for case in cases:
        role = _role(case, slack_id)
        assert role is not None
        partner = _partner(case, role)
        audits = _audits(case)
        when = blocks.day_label(case.due_on)
        if role not in audits:
            out.append(Todo(due=case.due_on, kind="sample_audit",
                            text=f"*Random sample* audit of *{case.case_ref}* ({case.service.name}) with "
                                 f"<@{partner}>, due {when}",
                            button_label="Record sample audit", action_id=SampleIds.RECORD_AUDIT.value,
                            value=str(case.id)))
        elif len(audits) == 2:
            out.append(Todo(due=case.due_on, kind="moderation",
                            text=f"*Random sample* moderate *{case.case_ref}* with <@{partner}>, due {when}",
                            button_label="Record moderated grade", action_id=SampleIds.RECORD_MODERATION.value,
                            value=str(case.id)))
    return out


def _local_day(session: Session, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(session.info.get("timezone") or "Europe/London")).date()


def digest_lines(session: Session, since: date, until: date) -> list[str]:
    """Headlines for the CIB digest: samples drawn or moderated in the window. Counts only, no case refs."""
    from bot.sampling.register import stored_policy

    policy = stored_policy(session)
    lines: list[str] = []
    for row in session.scalars(select(SampleDraw).order_by(SampleDraw.quarter_index)):
        drawn = since <= _local_day(session, row.drawn_at) <= until
        moderated = any(c.moderation is not None and since <= _local_day(session, c.moderation.moderated_at) <= until
                        for c in row.cases)
        if not (drawn or moderated):
            continue
        v = build_report(session, row, policy=policy).view
        line = f"Random sample {v.quarter_label} ({v.service}): {v.moderated} of {v.total_cases} case(s) moderated"
        if v.moderated:
            line += (f"; {blocks.pct_text(v.pct_good_or_better)} good or better, {blocks.pct_text(v.pct_inadequate)} "
                     f"inadequate; blind grades agreed exactly in {blocks.pct_text(v.exact_agreement_pct)}")
            inadequate = v.by_grade.get(Grade.INADEQUATE, 0)
            if inadequate:
                line += f"; {inadequate} Inadequate, each with an improvement-plan action"
        lines.append(line + ".")
    return lines


# ---------------------------------------------------------------------------------------------
# the job


def _draw_period(ctx: JobContext) -> str:
    quarter = ctx.quarter
    first = ctx.calendar.first_working_day(quarter)
    if ctx.today < first:
        raise NotDue(f"the random sample for {quarter.label} is drawn on {first.isoformat()}")
    if draw_for(ctx.session, quarter.key) is None:
        blocker = draw_blocker(ctx.session, ctx.policy)
        if blocker:
            raise NotDue(f"random sample for {quarter.label} not drawn: {blocker}")
    return quarter.key


@job(
    "draw-random-sample",
    description="Choose the quarter's service and draw the random sample for Q&I and PC pairs",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 0},
    period=_draw_period,
)
def draw_random_sample(ctx: JobContext) -> str:
    quarter = ctx.quarter
    existing = draw_for(ctx.session, quarter.key)
    if existing is not None:
        return f"{quarter.label}: already drawn ({existing.service.name})"
    seed = ctx.options.get("seed")
    row = make_draw(ctx.session, quarter=quarter, calendar=ctx.calendar, policy=ctx.policy, now=ctx.now,
                    seed=int(seed) if seed is not None else None)
    summary = (f"{quarter.label}: {row.service.name} ({row.service_reason}); {len(row.cases)} case(s) for "
               f"{len(row.pairs)} pair(s), seed {row.seed}")
    if row.shortfalls:
        summary += f"; {len(row.shortfalls)} pair(s) short of cases"
    return summary


__all__ = [
    "AuditAnswers",
    "CaseRow",
    "SampleReport",
    "audit_form",
    "blind_grades",
    "build_report",
    "digest_lines",
    "draw_for",
    "explain",
    "latest_draw",
    "make_draw",
    "maybe_post_report",
    "moderation_form",
    "parse_audit",
    "record_audit",
    "record_moderation",
    "report_for",
    "reproduce",
    "send_sampling_reminders",
    "set_next_service",
    "todo_for",
]
