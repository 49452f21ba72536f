"""Commissioned work: themed audits, learning visits, and the Continuous Improvement Board (CIB).

Unlike learning audits and random sampling, this work is not paced by the quarter: a board,
programme or Divisional Leadership Team commissions it when there is a need or risk, and each
piece ends at a pre-scheduled CIB meeting. So every record carries its own dates, and what
reaches the Board goes through one ``CibItem`` per source (a database constraint), marked when
a digest carries it. Re-running the digest job, a double click or findings re-recorded before
the meeting can therefore never put the same item in front of the Board twice.

Everything posted to the CIB channel is aggregated and anonymised: counts under the council's
suppression threshold are shown as "fewer than N", free text that goes there is refused if it
carries identifiers or case references, and owners of actions are never named.

Permissions (re-checked on the server for every submission and click):
- themed audit: DLT members, Quality & Improvement and board leads commission; auditors record
  findings; the commissioner (or Q&I) attaches workshop material, sends the collated findings
  and records the moderated findings;
- learning visit: members of the visited service's Divisional Leadership Team commission;
  visitors must be independent of the service; the lead reviewer (or the commissioner) records;
- CIB: admins and Q&I schedule meetings; admins, board leads and Q&I record decisions.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.commissions import messages as blocks
from bot.commissions.messages import ACTIVITIES, CommissionIds
from bot.core import outbox
from bot.core.audit import record
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.directory import Who, channel_for, is_available, people_with_role, service_by_key, who
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem
from bot.core.todo import Todo
from schedules.jobs import JobContext, NotDue, job
from storage.models import (
    Action,
    CibMeeting,
    JobRun,
    OrgSetting,
    Person,
    Service,
    Team,
    TeamMember,
)
from storage.models.commissions import (
    CibItem,
    LearningVisit,
    LearningVisitVisitor,
    ThemedAudit,
    ThemedAuditAuditor,
    ThemedAuditCase,
    ThemedAuditFinding,
)

log = logging.getLogger(__name__)

DIGEST_JOB = "cib-digest"
THEMED, VISIT = "themed_audit", "learning_visit"
COLLATION_WORKING_DAYS = 2
"""Working days before the workshop that the collated findings go to the auditors unless the
commissioner sends them sooner (a council may set ``themed_collation_working_days`` in its policy)."""

ACTION_SOURCES: tuple[tuple[str, str], ...] = (
    ("learning_audit", "Learning audits"),
    ("random_sample", "Random sampling audits"),
    ("themed_audit", "Themed audits"),
    ("learning_visit", "Learning visits"),
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/\-_.]*[A-Za-z0-9]|[A-Za-z0-9]")


# ---------------------------------------------------------------------------------------------
# who may do what


def can_commission_themed(me: Who) -> bool:
    return me.known and me.has("dlt", "quality_improvement", "board_lead")


def can_commission_visit(me: Who) -> bool:
    return me.known and me.has("dlt")


def can_schedule_cib(me: Who) -> bool:
    return me.known and me.has("admin", "quality_improvement")


def can_chair_cib(me: Who) -> bool:
    return me.known and me.has("admin", "board_lead", "quality_improvement")


THEMED_REFUSAL = ("Only members of a Divisional Leadership Team, Quality & Improvement and board leads can "
                  "commission a themed audit. Nothing was changed.")
VISIT_REFUSAL = ("Only members of a Divisional Leadership Team can commission a learning visit (the framework "
                 "asks the visited service's DLT to commission it). Nothing was changed.")
SCHEDULE_REFUSAL = "Only admins and Quality & Improvement can schedule Continuous Improvement Board meetings."
CHAIR_REFUSAL = "Only the Board's chair (admins and board leads) or Quality & Improvement can record decisions."


# ---------------------------------------------------------------------------------------------
# pure helpers


def suppressed(count: int, threshold: int) -> str:
    """A count safe for a channel post: small non-zero numbers could point to a person."""
    if count <= 0:
        return "none"
    if count < threshold:
        return f"fewer than {threshold}"
    return str(count)


def parse_case_refs(text: str | None, policy: Policy) -> tuple[list[str], list[str]]:
    """(valid, invalid) case references from a typed list, in order, without repeats.

    People paste lists separated by lines, commas or spaces; a reference typed in lower case is
    accepted when its upper-case form matches the council's pattern.
    """
    good: list[str] = []
    bad: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        ref = raw.strip().strip(".")
        if not ref:
            continue
        if not policy.case_reference_ok(ref) and policy.case_reference_ok(ref.upper()):
            ref = ref.upper()
        target = good if policy.case_reference_ok(ref) else bad
        if ref not in target:
            target.append(ref)
    return good, bad


def case_refs_in(text: str | None, policy: Policy) -> list[str]:
    """Words in free text that are case references (which must never reach a channel)."""
    found: list[str] = []
    for token in _TOKEN.findall(text or ""):
        if policy.case_reference_ok(token) or policy.case_reference_ok(token.upper()):
            found.append(token)
    return found


def redact_case_refs(text: str | None, policy: Policy) -> str:
    """A last guard for channel posts (e.g. action descriptions written elsewhere)."""
    if not text:
        return ""
    refs = set(case_refs_in(text, policy))
    if not refs:
        return text
    return _TOKEN.sub(lambda m: "[case reference]" if m.group(0) in refs else m.group(0), text)


def collate(lines: Iterable[blocks.FindingLine], *, performance_notes: str | None = None,
            service_user_feedback: str | None = None, theme_order: Sequence[str] = ()) -> blocks.Collation:
    """Group findings by theme, most-raised first (ties in the council's theme order).

    A finding that speaks to two themes appears under both: the workshop discusses themes.
    """
    all_lines = list(lines)
    by_theme: dict[str, list[blocks.FindingLine]] = {}
    unthemed: list[blocks.FindingLine] = []
    for line in all_lines:
        if not line.themes:
            unthemed.append(line)
        for theme in line.themes:
            by_theme.setdefault(theme, []).append(line)
    rank = {t: i for i, t in enumerate(theme_order)}
    ordered = sorted(by_theme.items(), key=lambda kv: (-len(kv[1]), rank.get(kv[0], len(rank)), kv[0]))
    return blocks.Collation(
        by_theme=tuple((theme, tuple(found)) for theme, found in ordered),
        unthemed=tuple(unthemed),
        cases=len({line.case_ref for line in all_lines}),
        findings=len(all_lines),
        performance_notes=performance_notes,
        service_user_feedback=service_user_feedback,
    )


def digest_due_meeting(meetings: Sequence[date], today: date, calendar: WorkingCalendar,
                       working_days_before: int) -> date | None:
    """The meeting whose digest is due today: from N working days before it until the day before
    (so a missed day is caught up), or on the day itself when N is 0."""
    upcoming = sorted(d for d in meetings if d >= today)
    if not upcoming:
        return None
    meeting = upcoming[0]
    if working_days_before <= 0:
        return meeting if today == meeting else None
    due = calendar.add_working_days(meeting, -working_days_before)
    return meeting if due <= today < meeting else None


def collation_day(calendar: WorkingCalendar, workshop_on: date, policy: Policy) -> date:
    days = int(getattr(policy, "themed_collation_working_days", COLLATION_WORKING_DAYS))
    return calendar.add_working_days(workshop_on, -max(days, 1))


def _digest(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# small database helpers


def _person(session: Session, slack_id: str | None) -> Person | None:
    if not slack_id:
        return None
    return session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))


def _me(session: Session, slack_id: str) -> Person:
    person = _person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory yet: ask your QMF admin to add you to the org file.")
    return person


def person_label(person: Person) -> str:
    """How an inline error (plain text, where a mention does not render) names someone."""
    return person.display_name or person.slack_id


def _policy(session: Session) -> Policy:
    raw = session.scalar(select(OrgSetting.value).where(OrgSetting.key == "policy"))
    return Policy.model_validate(raw or {})


def _check_text(errors: dict[str, str], block_id: str, text: str | None, label: str, today: date, *,
                required: bool = True, policy: Policy | None = None, max_length: int | None = None) -> str | None:
    """Free-text checks shared by every field: present, short enough, no identifiers, and (for text
    that goes to a channel, when ``policy`` is given) no case references."""
    value = (text or "").strip()
    if not value:
        if required:
            errors[block_id] = f"Please fill in \"{label}\"."
        return None
    if max_length and len(value) > max_length:
        errors[block_id] = f"Please keep \"{label}\" under {max_length} characters."
        return value
    problem = free_text_problem(value, label, today)
    if problem:
        errors[block_id] = problem
        return value
    if policy is not None:
        refs = case_refs_in(value, policy)
        if refs:
            errors[block_id] = (f"\"{refs[0]}\" looks like a case reference. \"{label}\" goes to the Continuous "
                                f"Improvement Board channel, so please describe it without case references.")
    return value


def _dm(session: Session, slack_id: str, message: tuple[str, list[Any]], key: str) -> bool:
    text, body = message
    return outbox.enqueue(session, channel=slack_id, text=text, blocks=body, dedupe_key=key)


def meeting_key(meeting: CibMeeting) -> str:
    return meeting.meets_on.isoformat()


def digest_sent(session: Session, meeting: CibMeeting) -> bool:
    return session.scalar(select(JobRun.id).where(JobRun.job == DIGEST_JOB,
                                                  JobRun.period == meeting_key(meeting))) is not None


def upcoming_meetings(session: Session, today: date, limit: int = 100) -> list[CibMeeting]:
    return list(session.scalars(select(CibMeeting).where(CibMeeting.meets_on >= today)
                                .order_by(CibMeeting.meets_on).limit(limit)))


def open_meeting(session: Session, on_or_after: date) -> CibMeeting | None:
    """The first meeting on or after the date whose digest has not gone yet (so an item still reaches it)."""
    for meeting in upcoming_meetings(session, on_or_after, limit=20):
        if not digest_sent(session, meeting):
            return meeting
    return None


def _previous_meeting(session: Session, before: date) -> CibMeeting | None:
    return session.scalar(select(CibMeeting).where(CibMeeting.meets_on < before)
                          .order_by(CibMeeting.meets_on.desc()).limit(1))


def queue_for_cib(session: Session, *, source_kind: str, source_id: int, title: str,
                  meeting: CibMeeting | None, queued_by: Person | None, now: datetime) -> CibItem:
    """One item per source: re-queuing updates it, unless a digest has already carried it."""
    item = session.scalar(select(CibItem).where(CibItem.source_kind == source_kind, CibItem.source_id == source_id))
    if item is not None and item.digested_at is not None:
        raise Conflict("These findings have already gone to the Continuous Improvement Board, so they can't be "
                       "changed now.")
    if item is None:
        item = CibItem(source_kind=source_kind, source_id=source_id)
        session.add(item)
    item.title = title[:200]
    item.meeting_id = meeting.id if meeting else None
    item.queued_at = now
    item.queued_by_id = queued_by.id if queued_by else None
    session.flush()
    return item


# ---------------------------------------------------------------------------------------------
# themed audits


@dataclass(frozen=True)
class ThemedAuditInput:
    theme: str = ""
    theory: str = ""
    source: str | None = None
    source_other: str | None = None
    priority: str = ""
    sampling_focus: str = ""
    sample_size: int | None = None
    case_refs: str | None = None
    auditors: tuple[str, ...] = ()
    service_user_views: bool = False
    workshop_on: date | None = None
    cib_meeting_id: int | None = None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> ThemedAuditInput:
        ids = CommissionIds
        size = values.get(ids.THEMED_SIZE)
        meeting = values.get(ids.THEMED_CIB)
        return cls(
            theme=values.get(ids.THEMED_THEME) or "",
            theory=values.get(ids.THEMED_THEORY) or "",
            source=values.get(ids.THEMED_SOURCE),
            source_other=values.get(ids.THEMED_SOURCE_OTHER),
            priority=values.get(ids.THEMED_PRIORITY) or "",
            sampling_focus=values.get(ids.THEMED_FOCUS) or "",
            sample_size=_int(size),
            case_refs=values.get(ids.THEMED_CASES),
            auditors=tuple(values.get(ids.THEMED_AUDITORS) or ()),
            service_user_views=bool(values.get(ids.THEMED_VIEWS)),
            workshop_on=parse_day(values.get(ids.THEMED_WORKSHOP)),
            cib_meeting_id=_int(meeting),
        )


def _int(value: Any) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def parse_day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def themed_brief(audit: ThemedAudit) -> blocks.ThemedBrief:
    return blocks.ThemedBrief(
        id=audit.id, theme=audit.theme, theory=audit.theory, source=audit.source, priority=audit.priority,
        focus=audit.sampling_focus, sample_size=audit.sample_size, service_user_views=audit.service_user_views,
        workshop_on=audit.workshop_on, cib_on=audit.cib_meeting.meets_on if audit.cib_meeting else None,
        commissioner=audit.commissioned_by.slack_id,
        auditors=tuple(a.person.slack_id for a in audit.auditors),
        cases=tuple((c.id, c.case_ref) for c in audit.cases),
    )


def get_themed_audit(session: Session, audit_id: int) -> ThemedAudit:
    audit = session.get(ThemedAudit, audit_id)
    if audit is None:
        raise NotFound("I can't find that themed audit any more.")
    return audit


def commission_themed_audit(session: Session, *, actor: str, data: ThemedAuditInput, today: date,
                            calendar: WorkingCalendar, policy: Policy) -> ThemedAudit:
    """Store the commission and brief the auditors; every problem is an inline error, nothing half-saved."""
    ids = CommissionIds
    labels = blocks.THEMED_LABELS
    me = who(session, actor)
    if not can_commission_themed(me):
        raise NotPermitted(THEMED_REFUSAL)
    commissioner = _me(session, actor)
    errors: dict[str, str] = {}
    theme = _check_text(errors, ids.THEMED_THEME, data.theme, labels[ids.THEMED_THEME], today, policy=policy,
                        max_length=150)
    theory = _check_text(errors, ids.THEMED_THEORY, data.theory, labels[ids.THEMED_THEORY], today, policy=policy)
    priority = _check_text(errors, ids.THEMED_PRIORITY, data.priority, labels[ids.THEMED_PRIORITY], today,
                           policy=policy, max_length=300)
    focus = _check_text(errors, ids.THEMED_FOCUS, data.sampling_focus, labels[ids.THEMED_FOCUS], today,
                        policy=policy)
    other = _check_text(errors, ids.THEMED_SOURCE_OTHER, data.source_other, labels[ids.THEMED_SOURCE_OTHER],
                        today, required=False, policy=policy, max_length=100)
    source = data.source or ""
    if source not in policy.themed_audit_sources:
        errors[ids.THEMED_SOURCE] = "Choose who commissioned the audit from the list."
    elif source.lower() == "other":
        if not other:
            errors.setdefault(ids.THEMED_SOURCE_OTHER, "You chose Other: say which board or programme.")
        else:
            source = f"Other: {other}"
    size = data.sample_size
    if size is None or not 1 <= size <= 100:
        errors[ids.THEMED_SIZE] = "The sample is between 1 and 100 cases."
    refs, bad = parse_case_refs(data.case_refs, policy)
    if bad:
        shown = ", ".join(bad[:3]) + ("…" if len(bad) > 3 else "")
        errors[ids.THEMED_CASES] = (f"Not case references: {shown}. Use the case-management reference only, "
                                    f"e.g. {policy.case_reference_example}.")
    elif len(refs) > blocks.MAX_LISTED_CASES:
        errors[ids.THEMED_CASES] = (f"List at most {blocks.MAX_LISTED_CASES} cases here; auditors can add more "
                                    f"when they record findings.")
    elif size is not None and len(refs) > size:
        errors[ids.THEMED_CASES] = f"You listed {len(refs)} cases but the sample size is {size}."
    auditors: list[Person] = []
    unknown = [s for s in data.auditors if _person(session, s) is None]
    if not data.auditors:
        errors[ids.THEMED_AUDITORS] = "Choose at least one auditor."
    elif unknown:
        errors[ids.THEMED_AUDITORS] = (f"{unknown[0]} is not in the QMF directory, so they can't be an auditor. "
                                       f"Choose someone who is, or ask an admin to add them.")
    else:
        auditors = [p for p in (_person(session, s) for s in dict.fromkeys(data.auditors)) if p is not None]
    workshop = data.workshop_on
    if workshop is None:
        errors[ids.THEMED_WORKSHOP] = "Choose the date of the workshop."
    elif workshop < today:
        errors[ids.THEMED_WORKSHOP] = "That date has passed: choose the day of the workshop."
    elif not calendar.is_working_day(workshop):
        errors[ids.THEMED_WORKSHOP] = f"{blocks.nice_date(workshop)} is not a working day."
    meeting = session.get(CibMeeting, data.cib_meeting_id) if data.cib_meeting_id else None
    if meeting is None:
        errors[ids.THEMED_CIB] = "Choose the Continuous Improvement Board meeting it reports to."
    elif workshop is not None and ids.THEMED_WORKSHOP not in errors:
        digest_day = calendar.add_working_days(meeting.meets_on, -policy.cib_digest_working_days_before) \
            if policy.cib_digest_working_days_before > 0 else meeting.meets_on
        if meeting.meets_on < workshop:
            errors[ids.THEMED_CIB] = "That meeting is before the workshop: choose a later one."
        elif digest_day < workshop or digest_sent(session, meeting):
            errors[ids.THEMED_CIB] = (f"The Board's digest for that meeting goes out on {blocks.nice_date(digest_day)},"
                                      f" before the workshop: choose a later meeting.")
    if errors:
        raise InvalidInput(errors)
    assert theme and theory and priority and focus and size is not None and workshop is not None
    audit = ThemedAudit(
        theme=theme, theory=theory, source=source[:120], priority=priority, sampling_focus=focus, sample_size=size,
        service_user_views=data.service_user_views, workshop_on=workshop,
        cib_meeting_id=meeting.id if meeting else None, commissioned_by_id=commissioner.id,
        commissioned_by=commissioner, cib_meeting=meeting, status="commissioned",
    )
    for position, person in enumerate(auditors):
        audit.auditors.append(ThemedAuditAuditor(person_id=person.id, person=person, position=position))
    for ref in refs:
        audit.cases.append(ThemedAuditCase(case_ref=ref, added_by_id=commissioner.id))
    session.add(audit)
    session.flush()
    record(session, actor, "create", THEMED, audit.id, theme=theme, auditors=[p.slack_id for p in auditors],
           cases=len(refs), cib_meeting=meeting.meets_on.isoformat() if meeting else None)
    brief = themed_brief(audit)
    for person in auditors:
        _dm(session, person.slack_id, blocks.auditor_brief_message(brief), f"themed:{audit.id}:brief:{person.slack_id}")
    _dm(session, actor, blocks.themed_commissioned_message(brief, collation_day(calendar, workshop, policy)),
        f"themed:{audit.id}:commissioned")
    return audit


def _is_auditor(audit: ThemedAudit, slack_id: str) -> bool:
    return any(a.person.slack_id == slack_id for a in audit.auditors)


def _may_manage(session: Session, audit: ThemedAudit, slack_id: str) -> bool:
    return audit.commissioned_by.slack_id == slack_id or who(session, slack_id).has("quality_improvement")


def finding_form(session: Session, *, actor: str, audit_id: int, case_id: int | None
                 ) -> tuple[blocks.ThemedBrief, int | None, blocks.FindingPrefill]:
    """What the findings modal opens with: the auditor's own earlier findings on the case, if any."""
    audit = get_themed_audit(session, audit_id)
    if not _is_auditor(audit, actor):
        raise NotPermitted("Only the auditors of this themed audit can record findings on it.")
    if audit.status == "moderated":
        raise Conflict("The workshop has moderated these findings already, so they can't be changed.")
    if case_id is None:
        return themed_brief(audit), None, blocks.FindingPrefill()
    case = session.get(ThemedAuditCase, case_id)
    if case is None or case.audit_id != audit.id:
        raise NotFound("That case is not in this themed audit's sample.")
    me = _me(session, actor)
    mine = session.scalar(select(ThemedAuditFinding).where(ThemedAuditFinding.case_id == case.id,
                                                           ThemedAuditFinding.auditor_id == me.id))
    if mine is None:
        return themed_brief(audit), case.id, blocks.FindingPrefill(case_ref=case.case_ref)
    record(session, actor, "view", "themed_audit_finding", mine.id)
    return themed_brief(audit), case.id, blocks.FindingPrefill(
        case_ref=case.case_ref, against_theory=mine.against_theory, evidence=mine.evidence,
        service_user_views=mine.service_user_views, themes=tuple(mine.themes or ()))


def record_finding(session: Session, *, actor: str, audit_id: int, case_id: int | None, case_ref: str | None,
                   against_theory: str | None, evidence: str | None, service_user_views: str | None,
                   themes: Sequence[str], today: date, policy: Policy) -> tuple[ThemedAuditFinding, bool]:
    """Save (or update) one auditor's findings on one case; returns (finding, edited)."""
    ids = CommissionIds
    labels = blocks.FINDINGS_LABELS
    audit = get_themed_audit(session, audit_id)
    if not _is_auditor(audit, actor):
        raise NotPermitted("Only the auditors of this themed audit can record findings on it.")
    if audit.status == "moderated":
        raise Conflict("The workshop has moderated these findings already, so they can't be changed.")
    me = _me(session, actor)
    errors: dict[str, str] = {}
    case: ThemedAuditCase | None = None
    if case_id is not None:
        case = session.get(ThemedAuditCase, case_id)
        if case is None or case.audit_id != audit.id:
            raise NotFound("That case is not in this themed audit's sample.")
    else:
        refs, bad = parse_case_refs(case_ref, policy)
        if bad or len(refs) != 1:
            errors[ids.FINDINGS_CASE] = (f"Enter one case reference, e.g. {policy.case_reference_example} "
                                         f"(the case-management reference only).")
        else:
            case = next((c for c in audit.cases if c.case_ref == refs[0]), None)
            if case is None and len(audit.cases) >= max(audit.sample_size, blocks.MAX_LISTED_CASES):
                errors[ids.FINDINGS_CASE] = f"The sample already has {len(audit.cases)} cases."
    found = _check_text(errors, ids.FINDINGS_FOUND, against_theory, labels[ids.FINDINGS_FOUND], today)
    shown = _check_text(errors, ids.FINDINGS_EVIDENCE, evidence, labels[ids.FINDINGS_EVIDENCE], today)
    views = _check_text(errors, ids.FINDINGS_VIEWS, service_user_views, labels[ids.FINDINGS_VIEWS], today,
                        required=False) if audit.service_user_views else None
    chosen = [t for t in themes if t in policy.learning_themes]
    if not chosen:
        errors[ids.FINDINGS_THEMES] = "Choose at least one theme these findings speak to."
    if errors:
        raise InvalidInput(errors)
    assert found and shown
    if case is None:
        refs, _ = parse_case_refs(case_ref, policy)
        case = ThemedAuditCase(audit_id=audit.id, case_ref=refs[0], added_by_id=me.id)
        audit.cases.append(case)
        session.flush()
        record(session, actor, "create", "themed_audit_case", case.id, audit_id=audit.id, case_ref=case.case_ref)
    finding = session.scalar(select(ThemedAuditFinding).where(ThemedAuditFinding.case_id == case.id,
                                                              ThemedAuditFinding.auditor_id == me.id))
    edited = finding is not None
    if finding is None:
        finding = ThemedAuditFinding(audit_id=audit.id, case_id=case.id, auditor_id=me.id)
        session.add(finding)
    finding.against_theory = found
    finding.evidence = shown
    finding.service_user_views = views
    finding.themes = chosen
    session.flush()
    record(session, actor, "edit" if edited else "create", "themed_audit_finding", finding.id,
           audit_id=audit.id, case_ref=case.case_ref)
    return finding, edited


def finding_lines(session: Session, audit: ThemedAudit) -> list[blocks.FindingLine]:
    rows = session.execute(
        select(ThemedAuditFinding, ThemedAuditCase.case_ref, Person.slack_id)
        .join(ThemedAuditCase, ThemedAuditCase.id == ThemedAuditFinding.case_id)
        .join(Person, Person.id == ThemedAuditFinding.auditor_id)
        .where(ThemedAuditFinding.audit_id == audit.id)
        .order_by(ThemedAuditCase.id, ThemedAuditFinding.id)
    ).all()
    return [blocks.FindingLine(case_ref=ref, auditor=slack, against_theory=f.against_theory, evidence=f.evidence,
                               service_user_views=f.service_user_views, themes=tuple(f.themes or ()))
            for f, ref, slack in rows]


def collation_of(session: Session, audit: ThemedAudit, policy: Policy) -> blocks.Collation:
    return collate(finding_lines(session, audit), performance_notes=audit.performance_notes,
                   service_user_feedback=audit.service_user_feedback, theme_order=policy.learning_themes)


def material_form(session: Session, *, actor: str, audit_id: int) -> ThemedAudit:
    audit = get_themed_audit(session, audit_id)
    if not _may_manage(session, audit, actor):
        raise NotPermitted("Only the commissioner of this themed audit (or Quality & Improvement) can do that.")
    if audit.status == "moderated":
        raise Conflict("The workshop has already moderated this audit's findings.")
    return audit


def attach_material(session: Session, *, actor: str, audit_id: int, performance_notes: str | None,
                    service_user_feedback: str | None, today: date) -> ThemedAudit:
    """The performance data analysis and service-user feedback the workshop needs."""
    ids = CommissionIds
    audit = material_form(session, actor=actor, audit_id=audit_id)
    errors: dict[str, str] = {}
    notes = _check_text(errors, ids.MATERIAL_PERFORMANCE, performance_notes,
                        blocks.MATERIAL_LABELS[ids.MATERIAL_PERFORMANCE], today, required=False)
    feedback = _check_text(errors, ids.MATERIAL_FEEDBACK, service_user_feedback,
                           blocks.MATERIAL_LABELS[ids.MATERIAL_FEEDBACK], today, required=False)
    if errors:
        raise InvalidInput(errors)
    audit.performance_notes = notes
    audit.service_user_feedback = feedback
    session.flush()
    record(session, actor, "edit", THEMED, audit.id, field="workshop material")
    return audit


def send_collated_findings(session: Session, *, audit: ThemedAudit, actor: str | None, now: datetime,
                           policy: Policy) -> int:
    """The collated findings go to every auditor (and the commissioner) once, before the workshop."""
    if actor is not None and not _may_manage(session, audit, actor):
        raise NotPermitted("Only the commissioner of this themed audit (or Quality & Improvement) can send the "
                           "collated findings.")
    if audit.status != "commissioned":
        when = f" on {blocks.short_date(audit.collated_at.date())}" if audit.collated_at else ""
        raise Conflict(f"The collated findings were already sent to the auditors{when}.")
    collation = collation_of(session, audit, policy)
    message = blocks.collated_message(themed_brief(audit), collation)
    people = [a.person.slack_id for a in audit.auditors if a.person.active]
    people.append(audit.commissioned_by.slack_id)
    sent = 0
    for slack_id in dict.fromkeys(people):
        if _dm(session, slack_id, message, f"themed:{audit.id}:collated:{slack_id}"):
            sent += 1
    audit.status = "collated"
    audit.collated_at = now
    session.flush()
    record(session, actor or "system", "collate", THEMED, audit.id, findings=collation.findings,
           cases=collation.cases)
    return sent


def moderated_form(session: Session, *, actor: str, audit_id: int, policy: Policy
                   ) -> tuple[ThemedAudit, blocks.Collation, list[str]]:
    audit = get_themed_audit(session, audit_id)
    if not _may_manage(session, audit, actor):
        raise NotPermitted("Only the commissioner of this themed audit (or Quality & Improvement) can record the "
                           "moderated findings.")
    _not_yet_digested(session, THEMED, audit.id)
    collation = collation_of(session, audit, policy)
    chosen = list(audit.moderated_themes or [t for t, _ in collation.by_theme[:5]])
    return audit, collation, chosen


def _not_yet_digested(session: Session, kind: str, source_id: int) -> None:
    item = session.scalar(select(CibItem).where(CibItem.source_kind == kind, CibItem.source_id == source_id))
    if item is not None and item.digested_at is not None:
        raise Conflict("This has already gone to the Continuous Improvement Board, so it can't be changed now.")


def record_moderated_findings(session: Session, *, actor: str, audit_id: int, findings: str | None,
                              recommendations: str | None, themes: Sequence[str], today: date, now: datetime,
                              policy: Policy) -> tuple[CibItem, bool]:
    """The workshop's agreed findings and recommendations, queued for the named CIB meeting.

    Returns (item, moved): moved when that meeting's digest had already gone (or the meeting
    has passed), so the item waits for the next meeting instead of being lost.
    """
    ids = CommissionIds
    labels = blocks.MODERATED_LABELS
    audit, _, _ = moderated_form(session, actor=actor, audit_id=audit_id, policy=policy)
    errors: dict[str, str] = {}
    agreed = _check_text(errors, ids.MODERATED_FINDINGS, findings, labels[ids.MODERATED_FINDINGS], today,
                         policy=policy)
    recs = _check_text(errors, ids.MODERATED_RECOMMENDATIONS, recommendations,
                       labels[ids.MODERATED_RECOMMENDATIONS], today, policy=policy)
    if errors:
        raise InvalidInput(errors)
    me = _me(session, actor)
    audit.moderated_findings = agreed
    audit.recommendations = recs
    audit.moderated_themes = [t for t in themes if t in policy.learning_themes]
    audit.moderated_by_id = me.id
    audit.moderated_at = now
    audit.status = "moderated"
    named = audit.cib_meeting
    meeting = named
    moved = False
    if named is None or named.meets_on < today or digest_sent(session, named):
        meeting = open_meeting(session, today)
        moved = named is not None
    item = queue_for_cib(session, source_kind=THEMED, source_id=audit.id, title=f"Themed audit: {audit.theme}",
                         meeting=meeting, queued_by=me, now=now)
    record(session, actor, "moderate", THEMED, audit.id, cib_item=item.id,
           meeting=meeting.meets_on.isoformat() if meeting else None)
    _dm(session, actor, blocks.moderated_saved_message(themed_brief(audit), meeting.meets_on if meeting else None,
                                                       moved),
        f"themed:{audit.id}:moderated:{_digest(agreed, recs)}")
    return item, moved


# ---------------------------------------------------------------------------------------------
# learning visits


@dataclass(frozen=True)
class VisitInput:
    service_key: str | None = None
    need_or_risk: str = ""
    visit_on: date | None = None
    visitors: tuple[str, ...] = ()
    lead_reviewer: str | None = None
    activities: tuple[str, ...] = ()
    preparation_notes: str = ""
    performance_info: str | None = None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> VisitInput:
        ids = CommissionIds
        return cls(
            service_key=values.get(ids.VISIT_SERVICE),
            need_or_risk=values.get(ids.VISIT_NEED) or "",
            visit_on=parse_day(values.get(ids.VISIT_DATE)),
            visitors=tuple(values.get(ids.VISIT_VISITORS) or ()),
            lead_reviewer=values.get(ids.VISIT_LEAD),
            activities=tuple(values.get(ids.VISIT_ACTIVITIES) or ()),
            preparation_notes=values.get(ids.VISIT_PREP) or "",
            performance_info=values.get(ids.VISIT_PERFORMANCE),
        )


def commissionable_services(session: Session, me: Who) -> list[Service]:
    """The services in the divisions whose leadership team the person is on."""
    division_ids = {d.id for d in me.divisions_led}
    if not division_ids:
        return []
    return list(session.scalars(select(Service).where(Service.active, Service.division_id.in_(division_ids))
                                .order_by(Service.position, Service.id)))


def independence_problem(session: Session, service: Service, person: Person) -> str | None:
    """Why this person is not independent of the service, or None: not its Service Manager, not a
    Team Manager of one of its teams, not a practitioner in one."""
    name = person_label(person)
    tail = "so can't be a visitor: visitors must be independent of the service."
    if service.service_manager_id == person.id:
        return f"{name} is the Service Manager of {service.name}, {tail}"
    managed = session.scalar(select(Team).where(Team.service_id == service.id, Team.active,
                                                Team.team_manager_id == person.id).limit(1))
    if managed is not None:
        return f"{name} is the Team Manager of {managed.name} in {service.name}, {tail}"
    member = session.scalar(select(Team).join(TeamMember, TeamMember.team_id == Team.id)
                            .where(Team.service_id == service.id, Team.active, TeamMember.person_id == person.id)
                            .limit(1))
    if member is not None:
        return f"{name} is a practitioner in {member.name} ({service.name}), {tail}"
    return None


def visit_plan(visit: LearningVisit) -> blocks.VisitPlan:
    return blocks.VisitPlan(
        id=visit.id, service_name=visit.service.name, visit_on=visit.visit_on, need_or_risk=visit.need_or_risk,
        activities=tuple(ACTIVITIES.get(a, a) for a in visit.activities or ()),
        preparation_notes=visit.preparation_notes, performance_info=visit.performance_info,
        lead_reviewer=visit.lead_reviewer.slack_id, visitors=tuple(v.person.slack_id for v in visit.visitors),
        commissioner=visit.commissioned_by.slack_id,
    )


def visits_in_year(session: Session, financial_year: str) -> int:
    return int(session.scalar(select(func.count(LearningVisit.id))
                              .where(LearningVisit.financial_year == financial_year)) or 0)


def commission_visit(session: Session, *, actor: str, data: VisitInput, today: date, calendar: WorkingCalendar,
                     policy: Policy) -> tuple[LearningVisit, str | None]:
    """Store the visit, send the visitors their plan and ask Q&I to support it.

    Returns (visit, warning): the warning says when the year already has the framework's number
    of visits, so the commissioner knows Q&I's capacity is stretched.
    """
    ids = CommissionIds
    labels = blocks.VISIT_LABELS
    me = who(session, actor)
    if not can_commission_visit(me):
        raise NotPermitted(VISIT_REFUSAL)
    commissioner = _me(session, actor)
    errors: dict[str, str] = {}
    service = service_by_key(session, data.service_key or "")
    if service is None:
        errors[ids.VISIT_SERVICE] = "Choose the service to visit."
    elif service.division_id not in {d.id for d in me.divisions_led}:
        errors[ids.VISIT_SERVICE] = (f"You are not on the leadership team of {service.division.name}, which "
                                     f"{service.name} is in: ask one of its DLT members to commission this visit.")
    need = _check_text(errors, ids.VISIT_NEED, data.need_or_risk, labels[ids.VISIT_NEED], today, policy=policy)
    prep = _check_text(errors, ids.VISIT_PREP, data.preparation_notes, labels[ids.VISIT_PREP], today)
    performance = _check_text(errors, ids.VISIT_PERFORMANCE, data.performance_info, labels[ids.VISIT_PERFORMANCE],
                              today, required=False)
    visit_on = data.visit_on
    if visit_on is None:
        errors[ids.VISIT_DATE] = "Choose the date of the visit."
    elif visit_on < today:
        errors[ids.VISIT_DATE] = "That date has passed: choose the day of the visit."
    elif not calendar.is_working_day(visit_on):
        errors[ids.VISIT_DATE] = f"{blocks.nice_date(visit_on)} is not a working day."
    visitors: list[Person] = []
    problems: list[str] = []
    for slack_id in dict.fromkeys(data.visitors):
        person = _person(session, slack_id)
        if person is None:
            problems.append(f"{slack_id} is not in the QMF directory, so can't be a visitor.")
            continue
        if service is not None:
            problem = independence_problem(session, service, person)
            if problem:
                problems.append(problem)
                continue
        visitors.append(person)
    if not data.visitors:
        errors[ids.VISIT_VISITORS] = "Choose the senior managers who will visit."
    elif problems:
        errors[ids.VISIT_VISITORS] = " ".join(problems[:2]) + (" (and others)" if len(problems) > 2 else "")
    lead = _person(session, data.lead_reviewer)
    if data.lead_reviewer not in data.visitors:
        errors[ids.VISIT_LEAD] = "The lead reviewer must be one of the visitors: add them to the visitors first."
    elif lead is None:
        errors[ids.VISIT_LEAD] = "The lead reviewer is not in the QMF directory."
    activities = [a for a in data.activities if a in ACTIVITIES]
    if not activities:
        errors[ids.VISIT_ACTIVITIES] = "Choose at least one planned activity."
    if errors:
        raise InvalidInput(errors)
    assert service is not None and visit_on is not None and need and prep and lead is not None
    year = calendar.quarter(visit_on).financial_year_label
    already = visits_in_year(session, year)
    warning = None
    if already >= policy.learning_visits_per_year:
        warning = (f"{year} already had {already} learning visit(s) before this one; the framework plans "
                   f"{policy.learning_visits_per_year} a year, supported by Quality & Improvement. Please check "
                   f"with Q&I that they can support it.")
    visit = LearningVisit(
        service_id=service.id, service=service, financial_year=year, need_or_risk=need, visit_on=visit_on,
        lead_reviewer_id=lead.id, lead_reviewer=lead, commissioned_by_id=commissioner.id,
        commissioned_by=commissioner, activities=activities, preparation_notes=prep, performance_info=performance,
        status="planned",
    )
    for position, person in enumerate(visitors):
        visit.visitors.append(LearningVisitVisitor(person_id=person.id, person=person, position=position))
    session.add(visit)
    session.flush()
    record(session, actor, "create", VISIT, visit.id, service=service.key, visit_on=visit_on.isoformat(),
           visitors=[p.slack_id for p in visitors], lead_reviewer=lead.slack_id, year_count=already + 1)
    plan = visit_plan(visit)
    for person in visitors:
        _dm(session, person.slack_id, blocks.visit_preparation_message(plan, lead=person.id == lead.id),
            f"visit:{visit.id}:prep:{person.slack_id}")
    for slack_id in people_with_role(session, "quality_improvement"):
        _dm(session, slack_id, blocks.visit_support_message(plan), f"visit:{visit.id}:support:{slack_id}")
    _dm(session, actor, blocks.visit_commissioned_message(plan, warning), f"visit:{visit.id}:commissioned")
    return visit, warning


def get_visit(session: Session, visit_id: int) -> LearningVisit:
    visit = session.get(LearningVisit, visit_id)
    if visit is None:
        raise NotFound("I can't find that learning visit any more.")
    return visit


def _may_record_visit(visit: LearningVisit, slack_id: str) -> bool:
    return slack_id in (visit.lead_reviewer.slack_id, visit.commissioned_by.slack_id)


def visit_record_form(session: Session, *, actor: str, visit_id: int, today: date) -> LearningVisit:
    visit = get_visit(session, visit_id)
    if not _may_record_visit(visit, actor):
        raise NotPermitted("Only the lead reviewer (or the commissioner) records the outcome of a learning visit.")
    if visit.status == "recorded":
        raise Conflict(f"The feedback and plan from this visit were recorded on "
                       f"{blocks.short_date(visit.recorded_on or today)}.")
    if today < visit.visit_on:
        raise Conflict(f"The visit is on {blocks.nice_date(visit.visit_on)}: record the feedback and plan from "
                       f"that day.")
    return visit


def plan_actions(session: Session, visit: LearningVisit, *, drafts_only: bool = False) -> list[Action]:
    from bot.actions import service as action_plans

    found = action_plans.actions_for(session, source_kind=VISIT, source_id=visit.id, include_drafts=True)
    return [a for a in found if a.status == "draft"] if drafts_only else found


def plan_lines(found: Sequence[Action]) -> list[blocks.PlanAction]:
    return [blocks.PlanAction(owner=a.owner.slack_id, due_on=a.due_on, description=a.description) for a in found]


def add_visit_action(session: Session, *, actor: str, visit_id: int, owner: str, description: str, due_on: date,
                     today: date, policy: Policy) -> Action:
    """A drafted action of the visit's plan: its owner is told only when the plan is sent."""
    from bot.actions import service as action_plans

    visit = visit_record_form(session, actor=actor, visit_id=visit_id, today=today)
    quarter = Quarter.containing(today, policy.year_start_month).key
    return action_plans.add_action(session, source_kind=VISIT, source_id=visit.id, owner=owner,
                                   description=description, due_on=due_on, created_by=actor,
                                   service_id=visit.service_id, quarter=quarter, status="draft", today=today)


def record_visit(session: Session, *, actor: str, visit_id: int, feedback: str | None, plan_summary: str | None,
                 today: date, now: datetime, policy: Policy) -> tuple[LearningVisit, CibItem, list[Action]]:
    """The lead reviewer's direct feedback and the improvement plan: the plan's actions go live, the
    Service Manager is told, and the plan is queued for the next CIB meeting."""
    from bot.actions import service as action_plans

    ids = CommissionIds
    labels = blocks.VISIT_LABELS
    visit = visit_record_form(session, actor=actor, visit_id=visit_id, today=today)
    errors: dict[str, str] = {}
    said = _check_text(errors, ids.VISIT_FEEDBACK, feedback, labels[ids.VISIT_FEEDBACK], today, policy=policy)
    summary = _check_text(errors, ids.VISIT_PLAN, plan_summary, labels[ids.VISIT_PLAN], today, required=False,
                          policy=policy)
    if not plan_actions(session, visit):
        errors.setdefault(ids.VISIT_PLAN, f"The improvement plan needs at least one action with an owner and a due "
                                          f"date: press \"{blocks.ADD_ACTION_LABEL}\".")
    if errors:
        raise InvalidInput(errors)
    me = _me(session, actor)
    action_plans.publish_drafts(session, source_kind=VISIT, source_id=visit.id)
    visit.feedback = said
    visit.plan_summary = summary
    visit.status = "recorded"
    visit.recorded_by_id = me.id
    visit.recorded_on = today
    visit.recorded_at = now
    meeting = open_meeting(session, today)
    item = queue_for_cib(session, source_kind=VISIT, source_id=visit.id,
                         title=f"Learning visit: {visit.service.name} ({blocks.short_date(visit.visit_on)})",
                         meeting=meeting, queued_by=me, now=now)
    found = plan_actions(session, visit)
    record(session, actor, "record", VISIT, visit.id, actions=len(found), cib_item=item.id,
           meeting=meeting.meets_on.isoformat() if meeting else None)
    plan = visit_plan(visit)
    message = blocks.visit_feedback_message(plan, said or "", summary, plan_lines(found),
                                            meeting.meets_on if meeting else None)
    service_manager = visit.service.service_manager
    told = [service_manager.slack_id, visit.commissioned_by.slack_id]
    for slack_id in dict.fromkeys(s for s in told if s != actor):
        _dm(session, slack_id, message, f"visit:{visit.id}:feedback:{slack_id}")
    _dm(session, actor, blocks.visit_recorded_message(plan, len(found), meeting.meets_on if meeting else None),
        f"visit:{visit.id}:recorded")
    return visit, item, found


def _describe_visit(session: Session, source_id: int) -> str | None:
    visit = session.get(LearningVisit, source_id)
    if visit is None:
        return None
    return f"from the learning visit to {visit.service.name} on {blocks.short_date(visit.visit_on)}"


def _describe_themed(session: Session, source_id: int) -> str | None:
    audit = session.get(ThemedAudit, source_id)
    return f"from the themed audit \"{audit.theme}\"" if audit is not None else None


def _register_action_sources() -> None:
    """Tell the action-plan flow how to say where our actions came from (if it is built)."""
    try:
        from bot.actions import service as action_plans
    except ImportError:  # pragma: no cover - the action-plan flow is part of the same release
        return
    action_plans.register_source(VISIT, _describe_visit)
    action_plans.register_source(THEMED, _describe_themed)


# ---------------------------------------------------------------------------------------------
# the Continuous Improvement Board: meetings, the digest and decisions


def schedule_meeting(session: Session, *, actor: str, meets_on: date | None, today: date,
                     calendar: WorkingCalendar) -> CibMeeting:
    ids = CommissionIds
    if not can_schedule_cib(who(session, actor)):
        raise NotPermitted(SCHEDULE_REFUSAL)
    if meets_on is None:
        raise InvalidInput({ids.CIB_DATE: "Choose the date of the meeting."})
    if meets_on < today:
        raise InvalidInput({ids.CIB_DATE: "That date has passed: choose a future meeting date."})
    if not calendar.is_working_day(meets_on):
        raise InvalidInput({ids.CIB_DATE: f"{blocks.nice_date(meets_on)} is not a working day."})
    if session.scalar(select(CibMeeting.id).where(CibMeeting.meets_on == meets_on)) is not None:
        raise InvalidInput({ids.CIB_DATE: f"A meeting is already scheduled on {blocks.nice_date(meets_on)}."})
    meeting = CibMeeting(meets_on=meets_on, source="slack")
    session.add(meeting)
    session.flush()
    record(session, actor, "create", "cib_meeting", meeting.id, meets_on=meets_on.isoformat())
    return meeting


def digest_period(ctx: JobContext) -> str:
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{ctx.today.isoformat()} is not a working day")
    days = list(ctx.session.scalars(select(CibMeeting.meets_on).where(CibMeeting.meets_on >= ctx.today)))
    due = digest_due_meeting(days, ctx.today, ctx.calendar, ctx.policy.cib_digest_working_days_before)
    if due is None:
        upcoming = min(days) if days else None
        why = f"the next CIB meeting is {upcoming.isoformat()}" if upcoming else "no CIB meeting is scheduled"
        raise NotDue(f"no digest due today ({why})")
    if channel_for(ctx.session, "continuous_improvement_board") is None:
        raise NotDue("the org file names no continuous_improvement_board channel")
    return due.isoformat()


def _items_for(session: Session, meeting: CibMeeting) -> list[CibItem]:
    """Items queued for this meeting, plus any that missed an earlier digest or had no meeting yet."""
    earlier = select(CibMeeting.id).where(CibMeeting.meets_on <= meeting.meets_on)
    return list(session.scalars(
        select(CibItem).where(CibItem.digested_at.is_(None),
                              (CibItem.meeting_id.is_(None)) | (CibItem.meeting_id.in_(earlier)))
        .order_by(CibItem.queued_at, CibItem.id)))


def _dependency_lines(session: Session, module: str, since: date, until: date) -> list[str]:
    """Lines another flow contributes to the digest (learning themes, random sampling), if built."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return []
    fn = getattr(importlib.import_module(module), "digest_lines", None)
    if fn is None:
        return []
    try:
        with session.begin_nested():
            return [str(line) for line in fn(session, since, until)]
    except Exception:  # noqa: BLE001 - one flow's lines failing must not stop the Board's digest
        log.exception("cib-digest: %s.digest_lines failed", module)
        return []


def action_lines(session: Session, *, today: date, threshold: int) -> list[str]:
    """The state of every action plan, by where the actions came from, suppressed."""
    from bot.actions import service as action_plans

    lines = []
    for kind, label in ACTION_SOURCES:
        counts = action_plans.action_counts(session, today=today, source_kinds=[kind])
        if not any(counts.values()):
            lines.append(f"• {label}: no actions")
            continue
        lines.append(f"• {label}: {suppressed(counts['open'], threshold)} open "
                     f"({suppressed(counts['overdue'], threshold)} overdue), "
                     f"{suppressed(counts['done'], threshold)} done")
    return lines


def build_digest(session: Session, meeting: CibMeeting, *, today: date, policy: Policy
                 ) -> tuple[blocks.DigestContent, list[CibItem]]:
    threshold = policy.suppression_threshold
    items = _items_for(session, meeting)
    themed: list[blocks.DigestThemed] = []
    visits: list[blocks.DigestVisit] = []
    for item in items:
        if item.source_kind == THEMED:
            audit = session.get(ThemedAudit, item.source_id)
            if audit is None:
                continue
            audited = session.scalar(select(func.count(func.distinct(ThemedAuditFinding.case_id)))
                                     .where(ThemedAuditFinding.audit_id == audit.id)) or 0
            themed.append(blocks.DigestThemed(
                item_id=item.id, theme=redact_case_refs(audit.theme, policy),
                source=redact_case_refs(audit.source, policy), priority=redact_case_refs(audit.priority, policy),
                cases_audited=suppressed(int(audited), threshold),
                findings=redact_case_refs(audit.moderated_findings, policy),
                recommendations=redact_case_refs(audit.recommendations, policy),
                themes=tuple(audit.moderated_themes or ())))
        elif item.source_kind == VISIT:
            visit = session.get(LearningVisit, item.source_id)
            if visit is None:
                continue
            found = [a for a in plan_actions(session, visit) if a.status != "draft"]
            visits.append(blocks.DigestVisit(
                item_id=item.id, service_name=visit.service.name, visit_on=visit.visit_on,
                need_or_risk=redact_case_refs(visit.need_or_risk, policy),
                feedback=redact_case_refs(visit.feedback, policy),
                plan_summary=redact_case_refs(visit.plan_summary, policy) or None,
                actions=tuple((redact_case_refs(a.description, policy), a.due_on) for a in found),
                action_count=suppressed(len(found), threshold)))
    previous = _previous_meeting(session, meeting.meets_on)
    since = previous.meets_on if previous else None
    window_start = since or (meeting.meets_on - timedelta(days=91))
    content = blocks.DigestContent(
        meeting_on=meeting.meets_on, since=since, themed=tuple(themed), visits=tuple(visits),
        theme_lines=tuple(_dependency_lines(session, "bot.themes.service", window_start, today)),
        sample_lines=tuple(_dependency_lines(session, "bot.sampling.service", window_start, today)),
        action_lines=tuple(action_lines(session, today=today, threshold=threshold)),
        carried=sum(1 for i in items if i.meeting_id != meeting.id),
    )
    return content, items


@job(DIGEST_JOB, description="Send the Continuous Improvement Board its digest before each meeting",
     cron={"day_of_week": "mon-fri", "hour": 8, "minute": 30}, period=digest_period)
def cib_digest(ctx: JobContext) -> str:
    session = ctx.session
    meets_on = date.fromisoformat(digest_period(ctx))
    meeting = session.scalar(select(CibMeeting).where(CibMeeting.meets_on == meets_on))
    assert meeting is not None
    channel = channel_for(session, "continuous_improvement_board")
    assert channel is not None
    content, items = build_digest(session, meeting, today=ctx.today, policy=ctx.policy)
    text, body = blocks.digest_message(content)
    outbox.enqueue(session, channel=channel, text=text, blocks=body, dedupe_key=f"cib-digest:{meeting_key(meeting)}")
    now = ctx.now
    for item in items:
        item.digested_at = now
        item.meeting_id = meeting.id
    session.flush()
    record(session, "system", "post", "cib_digest", meeting.id, items=[i.id for i in items])
    return (f"CIB digest for {meets_on.isoformat()}: {len(content.themed)} themed audit(s), "
            f"{len(content.visits)} learning visit plan(s) posted to {channel}.")


def decision_form(session: Session, *, actor: str, item_id: int) -> CibItem:
    if not can_chair_cib(who(session, actor)):
        raise NotPermitted(CHAIR_REFUSAL)
    item = session.get(CibItem, item_id)
    if item is None:
        raise NotFound("I can't find that Board item any more.")
    if item.digested_at is None:
        when = f" for {blocks.nice_date(item.meeting.meets_on)}" if item.meeting else ""
        raise Conflict(f"This item has not been to the Board yet: it is queued{when}.")
    return item


def _commissioners(session: Session, item: CibItem) -> list[str]:
    if item.source_kind == THEMED:
        audit = session.get(ThemedAudit, item.source_id)
        return [audit.commissioned_by.slack_id] if audit else []
    visit = session.get(LearningVisit, item.source_id)
    return list(dict.fromkeys([visit.commissioned_by.slack_id, visit.lead_reviewer.slack_id])) if visit else []


def record_decision(session: Session, *, actor: str, item_id: int, received: bool, decision: str | None,
                    today: date, now: datetime, channel: str | None = None, ts: str | None = None) -> CibItem:
    """The chair marks an item received and records the Board's decisions; they go to the commissioners."""
    ids = CommissionIds
    item = decision_form(session, actor=actor, item_id=item_id)
    errors: dict[str, str] = {}
    text = _check_text(errors, ids.CIB_DECISION_TEXT, decision, blocks.CIB_LABELS[ids.CIB_DECISION_TEXT], today,
                       required=False, policy=_policy(session))
    if not received and not text:
        errors[ids.CIB_DECISION_TEXT] = "Tick \"Received by the Board\" or write the Board's decisions."
    if errors:
        raise InvalidInput(errors)
    me = _me(session, actor)
    if received and item.received_at is None:
        item.received_at = now
        item.received_by_id = me.id
    if not received:
        item.received_at = None
        item.received_by_id = None
    item.decision = text
    item.decided_at = now
    session.flush()
    record(session, actor, "decide", "cib_item", item.id, received=received)
    version = _digest(received, text)
    meeting_on = item.meeting.meets_on if item.meeting else None
    message = blocks.decision_message(item.title, received, text, meeting_on, actor)
    for slack_id in _commissioners(session, item):
        _dm(session, slack_id, message, f"cib-item:{item.id}:decision:{version}:{slack_id}")
    board = channel_for(session, "continuous_improvement_board")
    if channel and ts and channel == board:
        thread_text, thread_blocks = blocks.decision_thread_message(item.title, received, text)
        outbox.enqueue(session, channel=channel, text=thread_text, blocks=thread_blocks, thread_ts=ts,
                       dedupe_key=f"cib-item:{item.id}:thread:{version}")
    return item


def cib_listing(session: Session, *, slack_id: str, today: date) -> blocks.CibListing:
    me = who(session, slack_id)
    meetings = upcoming_meetings(session, today, limit=6)
    pending = list(session.scalars(select(CibItem).where(CibItem.digested_at.is_(None))
                                   .order_by(CibItem.queued_at, CibItem.id)))
    by_meeting: dict[int | None, list[str]] = {}
    for item in pending:
        by_meeting.setdefault(item.meeting_id, []).append(item.title)
    awaiting = list(session.scalars(select(CibItem).where(CibItem.digested_at.is_not(None),
                                                          CibItem.decided_at.is_(None))
                                    .order_by(CibItem.digested_at, CibItem.id).limit(20)))
    return blocks.CibListing(
        meetings=tuple((m.meets_on, tuple(by_meeting.get(m.id, []))) for m in meetings),
        unscheduled=tuple(by_meeting.get(None, [])),
        awaiting=tuple((i.id, i.title, i.meeting.meets_on if i.meeting else None) for i in awaiting),
        can_schedule=can_schedule_cib(me),
        can_chair=can_chair_cib(me),
    )


# ---------------------------------------------------------------------------------------------
# reminders (called by the daily send-reminders job) and App Home


def send_commission_reminders(ctx: JobContext) -> str:
    """Visitors the working day before a visit; the lead reviewer once the visit is over; auditors
    the working day before collation; and the collated findings themselves when they are due.

    Windows rather than single days, so a day the job did not run is caught up; the dedupe keys
    keep every message to once.
    """
    session, calendar, today, policy = ctx.session, ctx.calendar, ctx.today, ctx.policy
    if not calendar.is_working_day(today):
        return f"commissions: {today.isoformat()} is not a working day; nobody prompted."
    counts = {"visit": 0, "record": 0, "findings": 0, "collated": 0}
    planned = list(session.scalars(select(LearningVisit).where(LearningVisit.status == "planned")
                                   .order_by(LearningVisit.visit_on, LearningVisit.id)))
    for visit in planned:
        plan = visit_plan(visit)
        if visit.visit_on > today and calendar.previous_working_day(visit.visit_on, include_today=False) <= today:
            for visitor in visit.visitors:
                if not is_available(visitor.person, today):
                    continue
                lead = visitor.person_id == visit.lead_reviewer_id
                if _dm(session, visitor.person.slack_id, blocks.visit_reminder_message(plan, lead=lead),
                       f"visit:{visit.id}:reminder:{visitor.person.slack_id}"):
                    counts["visit"] += 1
        elif visit.visit_on < today and is_available(visit.lead_reviewer, today) and _dm(
                session, visit.lead_reviewer.slack_id, blocks.visit_record_reminder_message(plan),
                f"visit:{visit.id}:record-reminder"):
            counts["record"] += 1
    audits = list(session.scalars(select(ThemedAudit).where(ThemedAudit.status == "commissioned",
                                                            ThemedAudit.workshop_on >= today)))
    for audit in audits:
        collate_on = collation_day(calendar, audit.workshop_on, policy)
        if today >= collate_on:
            send_collated_findings(session, audit=audit, actor=None, now=ctx.now, policy=policy)
            counts["collated"] += 1
            continue
        if today >= calendar.previous_working_day(collate_on, include_today=False):
            recorded = set(session.scalars(select(Person.slack_id).join(
                ThemedAuditFinding, ThemedAuditFinding.auditor_id == Person.id)
                .where(ThemedAuditFinding.audit_id == audit.id)))
            text, body = blocks.auditor_brief_message(themed_brief(audit))
            body.insert(0, blocks.section(f":wave: A reminder: the findings for *{audit.theme}* are collated for the "
                                          f"workshop on {blocks.nice_date(collate_on)}, and none of yours are in yet."))
            for auditor in audit.auditors:
                person = auditor.person
                if person.slack_id in recorded or not is_available(person, today):
                    continue
                if _dm(session, person.slack_id, (f"Reminder: {text}", body[:blocks.MESSAGE_BLOCK_LIMIT]),
                       f"themed:{audit.id}:findings-reminder:{person.slack_id}"):
                    counts["findings"] += 1
    return (f"commissions: {counts['visit']} visit reminder(s), {counts['record']} lead reviewer reminder(s), "
            f"{counts['findings']} findings reminder(s), {counts['collated']} collation(s) sent")


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """Findings to record, workshops to write up, visits to record and Board decisions to make."""
    me = _person(session, slack_id)
    if me is None:
        return []
    out: list[Todo] = []
    ids = CommissionIds
    mine = list(session.scalars(select(ThemedAudit).join(ThemedAuditAuditor)
                                .where(ThemedAuditAuditor.person_id == me.id, ThemedAudit.status == "commissioned")))
    for audit in mine:
        done = set(session.scalars(select(ThemedAuditFinding.case_id).where(
            ThemedAuditFinding.audit_id == audit.id, ThemedAuditFinding.auditor_id == me.id)))
        open_cases = [c for c in audit.cases if c.id not in done]
        for case in open_cases[:10]:
            out.append(Todo(due=audit.workshop_on, kind="themed_findings",
                            text=f"*Themed audit* {audit.theme}: record your findings on {case.case_ref}",
                            button_label=blocks.RECORD_FINDINGS_LABEL, action_id=ids.RECORD_FINDINGS.value,
                            value=f"{audit.id}:{case.id}"))
        if not audit.cases:
            out.append(Todo(due=audit.workshop_on, kind="themed_findings",
                            text=f"*Themed audit* {audit.theme}: record your findings on each case you audit",
                            button_label=blocks.ANOTHER_CASE_LABEL, action_id=ids.RECORD_FINDINGS.value,
                            value=f"{audit.id}:new"))
    commissioned = session.scalars(select(ThemedAudit).where(ThemedAudit.commissioned_by_id == me.id,
                                                             ThemedAudit.status != "moderated",
                                                             ThemedAudit.workshop_on <= today))
    for audit in commissioned:
        out.append(Todo(due=audit.workshop_on, kind="themed_workshop",
                        text=f"*Themed audit* {audit.theme}: record the moderated findings from the workshop",
                        button_label=blocks.RECORD_MODERATED_LABEL, action_id=ids.RECORD_MODERATED.value,
                        value=str(audit.id)))
    visits = session.scalars(select(LearningVisit).where(LearningVisit.lead_reviewer_id == me.id,
                                                         LearningVisit.status == "planned",
                                                         LearningVisit.visit_on <= today))
    for visit in visits:
        out.append(Todo(due=visit.visit_on, kind="learning_visit",
                        text=f"*Learning visit* to {visit.service.name}: record the feedback and action plan",
                        button_label=blocks.RECORD_VISIT_LABEL, action_id=ids.RECORD_VISIT.value,
                        value=str(visit.id)))
    if can_chair_cib(who(session, slack_id)):
        awaiting = session.scalars(select(CibItem).where(CibItem.digested_at.is_not(None),
                                                         CibItem.decided_at.is_(None)).order_by(CibItem.id).limit(10))
        for item in awaiting:
            meeting_on = item.meeting.meets_on if item.meeting else None
            if meeting_on and meeting_on > today:
                continue  # decisions are made at the meeting
            out.append(Todo(due=meeting_on, kind="cib_decision",
                            text=f"*CIB* {item.title}: mark received and record the Board's decisions",
                            button_label=blocks.RECORD_DECISION_LABEL, action_id=ids.CIB_RECORD_DECISION.value,
                            value=str(item.id)))
    return out


_register_action_sources()
