"""Themed audits: commission, findings per case, the workshop, and the moderated findings that go
to the Continuous Improvement Board.

Unlike learning audits and random sampling, a themed audit is not paced by the quarter: a board,
programme or Divisional Leadership Team commissions it when there is a need, so it carries its
own dates, and it ends at a pre-scheduled CIB meeting (``bot.cib`` queues it there, once).

Permissions (re-checked on the server for every submission and click): DLT members, Quality &
Improvement and board leads commission; auditors record findings; the commissioner (or Q&I)
attaches workshop material, sends the collated findings and records the moderated findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cib import service as board
from bot.cib.messages import nice_date
from bot.cib.types import THEMED
from bot.core import independence
from bot.core.audit import record
from bot.core.calendar import WorkingCalendar
from bot.core.directory import Who, who
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.formatting import date_only
from bot.core.independence import Tie
from bot.core.policy import Policy
from bot.core.privacy import parse_case_refs
from bot.core.roles import Role
from bot.core.todo import Todo
from bot.themed_audits import messages as blocks
from bot.themed_audits.feedback import send_findings_back
from bot.themed_audits.types import (
    Collation,
    FindingLine,
    FindingPrefill,
    ThemedAuditIds,
    ThemedAuditInput,
    ThemedBrief,
)
from storage.models import CibMeeting, Person, Service, Team
from storage.models.commissions import (
    CibItem,
    ThemedAudit,
    ThemedAuditAuditor,
    ThemedAuditCase,
    ThemedAuditFinding,
)

COLLATION_WORKING_DAYS = 2
"""Working days before the workshop that the collated findings go to the auditors unless the
commissioner sends them sooner (a council may set ``themed_collation_working_days`` in its policy)."""

THEMED_REFUSAL = ("Only members of a Divisional Leadership Team, Quality & Improvement and board leads can "
                  "commission a themed audit. Nothing was changed.")
MANAGER_REFUSAL = "Only the commissioner of this themed audit (or Quality & Improvement)"


def can_commission_themed(me: Who) -> bool:
    return me.known and me.has(Role.DLT, Role.QUALITY_IMPROVEMENT, Role.BOARD_LEAD)


def independence_problems(session: Session, auditors: Sequence[Person], case_refs: Sequence[str], *,
                          reader: str | None = None) -> list[str]:
    """Why any auditor is not independent of a case in the sample, one sentence each, for an inline
    error. Slack shows those as plain text, where a mention is a raw id, so an auditor is named by
    their directory name, as "you" to the reader, or else as "one of the auditors you chose".

    A themed audit names its cases by reference only; those the case register knows are judged by
    the independence rule (``bot.core.independence``), on the people's real teams and services, as
    learning audits and the random sample are. A case the register does not know cannot be judged."""
    cases = independence.registered_cases(session, case_refs)
    if not cases or not auditors:
        return []
    ties = independence.ties_of(session, auditors)
    names: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for person in auditors:
        for ref, subject in sorted(cases.items()):
            found = independence.conflicts(ties[person.slack_id], subject)
            if found:
                you = person.slack_id == reader
                who = "You" if you else person.display_name or "One of the auditors you chose"
                problems.append(f"{who} {_why(session, found[0], ref, names, you=you)}, so can't audit it: "
                                f"auditors must be independent of the cases.")
    return problems


_PARTS = {independence.HOLDS: "holds", independence.MANAGES: "manages",
          independence.REVIEWS: "is the reviewing officer of", independence.PROPOSED: "proposed"}
_TIES = {Tie.MANAGES_SERVICE: "is the Service Manager of", Tie.MANAGES_TEAM: "manages", Tie.IN_TEAM: "is in"}
_TO_YOU = {"holds": "hold", "manages": "manage", "is the reviewing officer of": "are the reviewing officer of",
           "is the Service Manager of": "are the Service Manager of", "is in": "are in"}


def _why(session: Session, conflict: independence.Conflict, ref: str, names: dict[tuple[str, str], str], *,
         you: bool = False) -> str:
    """The conflict in words, naming the case: "holds CIC-1001", "is in CiC North, where ..."
    ("hold", "are in" when said to the auditor themself)."""
    if conflict.tie is Tie.IS_PERSON:
        verb = _PARTS.get(conflict.key, conflict.key)
        return f"{_TO_YOU.get(verb, verb) if you else verb} {ref}"
    kind = "service" if conflict.tie is Tie.MANAGES_SERVICE else "team"
    if (kind, conflict.key) not in names:
        model = Service if kind == "service" else Team
        found = session.scalar(select(model.name).where(model.key == conflict.key))
        names[(kind, conflict.key)] = found or conflict.key
    verb = _TIES[conflict.tie]
    return f"{_TO_YOU.get(verb, verb) if you else verb} {names[(kind, conflict.key)]}, where {ref} is held or managed"


# ---------------------------------------------------------------------------------------------
# pure rules


def collate(lines: Iterable[FindingLine], *, performance_notes: str | None = None,
            service_user_feedback: str | None = None, theme_order: Sequence[str] = ()) -> Collation:
    """Group findings by theme, most-raised first (ties in the council's theme order).

    A finding that speaks to two themes appears under both: the workshop discusses themes.
    """
    all_lines = list(lines)
    by_theme: dict[str, list[FindingLine]] = {}
    unthemed: list[FindingLine] = []
    for line in all_lines:
        if not line.themes:
            unthemed.append(line)
        for theme in line.themes:
            by_theme.setdefault(theme, []).append(line)
    rank = {t: i for i, t in enumerate(theme_order)}
    ordered = sorted(by_theme.items(), key=lambda kv: (-len(kv[1]), rank.get(kv[0], len(rank)), kv[0]))
    return Collation(
        by_theme=tuple((theme, tuple(found)) for theme, found in ordered),
        unthemed=tuple(unthemed),
        cases=len({line.case_ref for line in all_lines}),
        findings=len(all_lines),
        performance_notes=performance_notes,
        service_user_feedback=service_user_feedback,
    )


def collation_day(calendar: WorkingCalendar, workshop_on: date, policy: Policy) -> date:
    days = int(getattr(policy, "themed_collation_working_days", COLLATION_WORKING_DAYS))
    return calendar.add_working_days(workshop_on, -max(days, 1))


# ---------------------------------------------------------------------------------------------
# commission


def themed_brief(audit: ThemedAudit) -> ThemedBrief:
    return ThemedBrief(
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
    ids = ThemedAuditIds
    labels = blocks.THEMED_LABELS
    check = board.check_text
    me = who(session, actor)
    if not can_commission_themed(me):
        raise NotPermitted(THEMED_REFUSAL)
    commissioner = board.acting_person(session, actor)
    errors: dict[str, str] = {}
    theme = check(errors, ids.THEMED_THEME, data.theme, labels[ids.THEMED_THEME], today, policy=policy,
                  max_length=150)
    theory = check(errors, ids.THEMED_THEORY, data.theory, labels[ids.THEMED_THEORY], today, policy=policy)
    priority = check(errors, ids.THEMED_PRIORITY, data.priority, labels[ids.THEMED_PRIORITY], today,
                     policy=policy, max_length=300)
    focus = check(errors, ids.THEMED_FOCUS, data.sampling_focus, labels[ids.THEMED_FOCUS], today, policy=policy)
    other = check(errors, ids.THEMED_SOURCE_OTHER, data.source_other, labels[ids.THEMED_SOURCE_OTHER],
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
    unknown = [s for s in data.auditors if board.active_person(session, s) is None]
    if not data.auditors:
        errors[ids.THEMED_AUDITORS] = "Choose at least one auditor."
    elif unknown:
        errors[ids.THEMED_AUDITORS] = ("One of the people you chose is not in the QMF directory, so they can't be "
                                       "an auditor. Choose someone who is, or ask a QMF admin to add them.")
    else:
        auditors = [p for p in (board.active_person(session, s) for s in dict.fromkeys(data.auditors))
                    if p is not None]
        problems = independence_problems(session, auditors, refs)
        if problems:
            errors[ids.THEMED_AUDITORS] = " ".join(problems[:2]) + (" (and others)" if len(problems) > 2 else "")
    workshop = data.workshop_on
    if workshop is None:
        errors[ids.THEMED_WORKSHOP] = "Choose the date of the workshop."
    elif workshop < today:
        errors[ids.THEMED_WORKSHOP] = "That date has passed: choose the day of the workshop."
    elif not calendar.is_working_day(workshop):
        errors[ids.THEMED_WORKSHOP] = f"{nice_date(workshop)} is not a working day."
    meeting = session.get(CibMeeting, data.cib_meeting_id) if data.cib_meeting_id else None
    if meeting is None:
        errors[ids.THEMED_CIB] = "Choose the Continuous Improvement Board meeting it reports to."
    elif workshop is not None and ids.THEMED_WORKSHOP not in errors:
        digest_day = calendar.add_working_days(meeting.meets_on, -policy.cib_digest_working_days_before) \
            if policy.cib_digest_working_days_before > 0 else meeting.meets_on
        if meeting.meets_on < workshop:
            errors[ids.THEMED_CIB] = "That meeting is before the workshop: choose a later one."
        elif digest_day < workshop or board.digest_sent(session, meeting):
            errors[ids.THEMED_CIB] = (f"The Board's digest for that meeting goes out on {nice_date(digest_day)},"
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
        board.dm(session, person.slack_id, blocks.auditor_brief_message(brief, person.slack_id),
                 f"themed:{audit.id}:brief:{person.slack_id}")
    board.dm(session, actor, blocks.themed_commissioned_message(brief, collation_day(calendar, workshop, policy)),
             f"themed:{audit.id}:commissioned")
    return audit


# ---------------------------------------------------------------------------------------------
# findings per case


def _is_auditor(audit: ThemedAudit, slack_id: str) -> bool:
    return any(a.person.slack_id == slack_id for a in audit.auditors)


def _may_manage(session: Session, audit: ThemedAudit, slack_id: str) -> bool:
    return audit.commissioned_by.slack_id == slack_id or who(session, slack_id).has(Role.QUALITY_IMPROVEMENT)


def _open_for_findings(audit: ThemedAudit, actor: str) -> None:
    if not _is_auditor(audit, actor):
        raise NotPermitted("Only the auditors of this themed audit can record findings on it.")
    if audit.status == "moderated":
        raise Conflict("The workshop has moderated these findings already, so they can't be changed.")


def _case_of(session: Session, audit: ThemedAudit, case_id: int) -> ThemedAuditCase:
    case = session.get(ThemedAuditCase, case_id)
    if case is None or case.audit_id != audit.id:
        raise NotFound("That case is not in this themed audit's sample.")
    return case


def finding_form(session: Session, *, actor: str, audit_id: int, case_id: int | None
                 ) -> tuple[ThemedBrief, int | None, FindingPrefill]:
    """What the findings modal opens with: the auditor's own earlier findings on the case, if any."""
    audit = get_themed_audit(session, audit_id)
    _open_for_findings(audit, actor)
    if case_id is None:
        return themed_brief(audit), None, FindingPrefill()
    case = _case_of(session, audit, case_id)
    me = board.acting_person(session, actor)
    mine = session.scalar(select(ThemedAuditFinding).where(ThemedAuditFinding.case_id == case.id,
                                                           ThemedAuditFinding.auditor_id == me.id))
    if mine is None:
        return themed_brief(audit), case.id, FindingPrefill(case_ref=case.case_ref)
    record(session, actor, "view", "themed_audit_finding", mine.id)
    return themed_brief(audit), case.id, FindingPrefill(
        case_ref=case.case_ref, against_theory=mine.against_theory, evidence=mine.evidence,
        service_user_views=mine.service_user_views, themes=tuple(mine.themes or ()))


def record_finding(session: Session, *, actor: str, audit_id: int, case_id: int | None, case_ref: str | None,
                   against_theory: str | None, evidence: str | None, service_user_views: str | None,
                   themes: Sequence[str], today: date, policy: Policy) -> tuple[ThemedAuditFinding, bool]:
    """Save (or update) one auditor's findings on one case; returns (finding, edited)."""
    ids = ThemedAuditIds
    labels = blocks.FINDINGS_LABELS
    check = board.check_text
    audit = get_themed_audit(session, audit_id)
    _open_for_findings(audit, actor)
    me = board.acting_person(session, actor)
    errors: dict[str, str] = {}
    case: ThemedAuditCase | None = None
    if case_id is not None:
        case = _case_of(session, audit, case_id)
    else:
        refs, bad = parse_case_refs(case_ref, policy)
        if bad or len(refs) != 1:
            errors[ids.FINDINGS_CASE] = (f"Enter one case reference, e.g. {policy.case_reference_example} "
                                         f"(the case-management reference only).")
        else:
            case = next((c for c in audit.cases if c.case_ref == refs[0]), None)
            if case is None and len(audit.cases) >= max(audit.sample_size, blocks.MAX_LISTED_CASES):
                errors[ids.FINDINGS_CASE] = f"The sample already has {len(audit.cases)} cases."
            elif problems := independence_problems(session, [me], refs, reader=actor):
                errors[ids.FINDINGS_CASE] = problems[0]
    found = check(errors, ids.FINDINGS_FOUND, against_theory, labels[ids.FINDINGS_FOUND], today)
    shown = check(errors, ids.FINDINGS_EVIDENCE, evidence, labels[ids.FINDINGS_EVIDENCE], today)
    views = check(errors, ids.FINDINGS_VIEWS, service_user_views, labels[ids.FINDINGS_VIEWS], today,
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


def finding_lines(session: Session, audit: ThemedAudit) -> list[FindingLine]:
    rows = session.execute(
        select(ThemedAuditFinding, ThemedAuditCase.case_ref, Person.slack_id)
        .join(ThemedAuditCase, ThemedAuditCase.id == ThemedAuditFinding.case_id)
        .join(Person, Person.id == ThemedAuditFinding.auditor_id)
        .where(ThemedAuditFinding.audit_id == audit.id)
        .order_by(ThemedAuditCase.id, ThemedAuditFinding.id)
    ).all()
    return [FindingLine(case_ref=ref, auditor=slack, against_theory=f.against_theory, evidence=f.evidence,
                        service_user_views=f.service_user_views, themes=tuple(f.themes or ()))
            for f, ref, slack in rows]


def collation_of(session: Session, audit: ThemedAudit, policy: Policy) -> Collation:
    return collate(finding_lines(session, audit), performance_notes=audit.performance_notes,
                   service_user_feedback=audit.service_user_feedback, theme_order=policy.learning_themes)


# ---------------------------------------------------------------------------------------------
# the workshop


def material_form(session: Session, *, actor: str, audit_id: int) -> ThemedAudit:
    audit = get_themed_audit(session, audit_id)
    if not _may_manage(session, audit, actor):
        raise NotPermitted(f"{MANAGER_REFUSAL} can do that.")
    if audit.status == "moderated":
        raise Conflict("The workshop has already moderated this audit's findings.")
    return audit


def attach_material(session: Session, *, actor: str, audit_id: int, performance_notes: str | None,
                    service_user_feedback: str | None, today: date) -> ThemedAudit:
    """The performance data analysis and service-user feedback the workshop needs."""
    ids = ThemedAuditIds
    audit = material_form(session, actor=actor, audit_id=audit_id)
    errors: dict[str, str] = {}
    notes = board.check_text(errors, ids.MATERIAL_PERFORMANCE, performance_notes,
                             blocks.MATERIAL_LABELS[ids.MATERIAL_PERFORMANCE], today, required=False)
    feedback = board.check_text(errors, ids.MATERIAL_FEEDBACK, service_user_feedback,
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
        raise NotPermitted(f"{MANAGER_REFUSAL} can send the collated findings.")
    if audit.status != "commissioned":
        when = f" on {date_only(audit.collated_at.date())}" if audit.collated_at else ""
        raise Conflict(f"The collated findings were already sent to the auditors{when}.")
    collation = collation_of(session, audit, policy)
    brief = themed_brief(audit)
    people = [a.person.slack_id for a in audit.auditors if a.person.active]
    people.append(audit.commissioned_by.slack_id)
    sent = 0
    for slack_id in dict.fromkeys(people):
        if board.dm(session, slack_id, blocks.collated_message(brief, collation, slack_id),
                    f"themed:{audit.id}:collated:{slack_id}"):
            sent += 1
    audit.status = "collated"
    audit.collated_at = now
    session.flush()
    record(session, actor or "system", "collate", THEMED, audit.id, findings=collation.findings,
           cases=collation.cases)
    return sent


def moderated_form(session: Session, *, actor: str, audit_id: int, policy: Policy
                   ) -> tuple[ThemedAudit, Collation, list[str]]:
    audit = get_themed_audit(session, audit_id)
    if not _may_manage(session, audit, actor):
        raise NotPermitted(f"{MANAGER_REFUSAL} can record the moderated findings.")
    board.not_yet_digested(session, THEMED, audit.id)
    collation = collation_of(session, audit, policy)
    chosen = list(audit.moderated_themes or [t for t, _ in collation.by_theme[:5]])
    return audit, collation, chosen


def record_moderated_findings(session: Session, *, actor: str, audit_id: int, findings: str | None,
                              recommendations: str | None, themes: Sequence[str], today: date, now: datetime,
                              policy: Policy) -> tuple[CibItem, bool]:
    """The workshop's agreed findings and recommendations, queued for the named CIB meeting, and each
    audited case's findings back to its case holder and team manager (``bot.themed_audits.feedback``).

    Returns (item, moved): moved when that meeting's digest had already gone (or the meeting
    has passed), so the item waits for the next meeting instead of being lost.
    """
    ids = ThemedAuditIds
    labels = blocks.MODERATED_LABELS
    audit, _, _ = moderated_form(session, actor=actor, audit_id=audit_id, policy=policy)
    errors: dict[str, str] = {}
    agreed = board.check_text(errors, ids.MODERATED_FINDINGS, findings, labels[ids.MODERATED_FINDINGS], today,
                              policy=policy)
    recs = board.check_text(errors, ids.MODERATED_RECOMMENDATIONS, recommendations,
                            labels[ids.MODERATED_RECOMMENDATIONS], today, policy=policy)
    if errors:
        raise InvalidInput(errors)
    me = board.acting_person(session, actor)
    assert agreed and recs
    corrected = audit.status == "moderated"
    audit.moderated_findings = agreed
    audit.recommendations = recs
    audit.moderated_themes = [t for t in themes if t in policy.learning_themes]
    audit.moderated_by_id = me.id
    audit.moderated_at = now
    audit.status = "moderated"
    named = audit.cib_meeting
    meeting = named
    moved = False
    if named is None or named.meets_on < today or board.digest_sent(session, named):
        meeting = board.open_meeting(session, today)
        moved = named is not None
    item = board.queue_for_cib(session, source_kind=THEMED, source_id=audit.id, title=f"Themed audit: {audit.theme}",
                               meeting=meeting, queued_by=me, now=now)
    brief = themed_brief(audit)
    told, unknown = send_findings_back(session, brief, finding_lines(session, audit), moderated_findings=agreed,
                                       recommendations=recs, updated=corrected)
    record(session, actor, "moderate", THEMED, audit.id, cib_item=item.id,
           meeting=meeting.meets_on.isoformat() if meeting else None, findings_back_to=told,
           not_in_register=unknown)
    board.dm(session, actor,
             blocks.moderated_saved_message(brief, meeting.meets_on if meeting else None, moved, told=told,
                                            not_registered=unknown),
             f"themed:{audit.id}:moderated:{board.content_key(agreed, recs)}")
    return item, moved


# ---------------------------------------------------------------------------------------------
# App Home, and where an action came from


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """Findings to record (auditors) and workshops to write up (commissioners)."""
    me = board.active_person(session, slack_id)
    if me is None:
        return []
    out: list[Todo] = []
    ids = ThemedAuditIds
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
    return out
