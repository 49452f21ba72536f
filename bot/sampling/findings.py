"""The findings go back to the people who learn from them: once a sampled case is moderated, its case
holder and team manager hear the agreed grade, what was strong, what to develop and what the child or
family said, strengths first, with a button to talk it through with the auditors.

One message per person per morning: a pair often moderates several cases of one team in a sitting, so
the findings wait for the daily reminders run (``send_findings_due``), which gives each person ONE DM
covering every case moderated since they were last told. An agreed Inadequate is urgent: its findings
go at once, one message per person (the team manager's carries the alert), as before.

Who has been told which case is kept without a new table: the audit log's ``sample_findings`` entries
(one per case and person, written with the combined DM), and the per-case outbox key of a message sent
at once (``sample-findings:<case>:<person>``).

Only the agreed grade leaves the pair: the blind grades and the auditors' reasons for them are the
pair's working, and stay with them (``bot.sampling.grading.blind_grades`` is the only way they reach
anyone). The notes are the auditors' own words, already checked for identifying details when typed,
and go only to the two people whose case it is, by DM.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.errors import Conflict, NotPermitted
from bot.core.grades import Grade
from bot.core.jobs import JobContext
from bot.core.policy import Policy
from bot.sampling import messages as blocks
from bot.sampling import sections as practice
from bot.sampling.service import audits_of, get_case, quarter_of, slack_id_of
from bot.sampling.types import Findings, Plan
from storage.models import AuditLogEntry, OutboxMessage, Person
from storage.models.sampling import SampledCase, SampleModeration

TOLD = "sample_findings"  # the audit log's entity for "this person was sent this case's findings"
LOOK_BACK_DAYS = 100  # findings older than a quarter and a bit are not sent late (e.g. after an upgrade)


def _distinct(items: list[str | None]) -> list[str]:
    """Both auditors' notes, Q&I's first, without saying the same thing twice."""
    return list(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def findings_of(session: Session, case: SampledCase, *, policy: Policy, plan: Plan | None = None) -> Findings:
    """The moderated case's findings for its case holder and team manager (never the blind grades)."""
    assert case.moderation is not None, "findings are shared only once the case is moderated"
    audits = audits_of(case)
    ordered = [audits[r] for r in ("qi", "pc") if r in audits]
    holder = slack_id_of(session, case.case_holder_id)
    return Findings(
        case_id=case.id, case_ref=case.case_ref, quarter_label=quarter_of(case.quarter, policy).label,
        grade=Grade(case.moderation.agreed_grade),
        strengths=_distinct([a.strengths for a in ordered]),
        to_develop=_distinct([a.areas_for_improvement for a in ordered]),
        feedback=_distinct([a.service_user_feedback for a in ordered]),
        qi=case.qi.slack_id, pc=case.pc.slack_id, case_holder=holder or "",
        team_manager=case.team_manager.slack_id, reviewing_officer=slack_id_of(session, case.reviewing_officer_id),
        plan=plan,
        sections=tuple(practice.loaded(case.moderation.section_grades).items()),
    )


def recipients(session: Session, case: SampledCase) -> list[str]:
    """The case holder and the team manager, once each, while they are still in the directory."""
    people = [session.get(Person, case.case_holder_id), case.team_manager]
    return list(dict.fromkeys(p.slack_id for p in people if p is not None and p.active))


def _key(case_id: int, person: str) -> str:
    return f"sample-findings:{case_id}:{person}"


def send_findings(session: Session, case: SampledCase, *, policy: Policy, plan: Plan | None = None) -> list[str]:
    """At moderation: an agreed Inadequate's findings go at once, one DM each to the case holder and the
    team manager (the team manager's is also the urgent alert); any other grade waits for the morning's
    combined DM (``send_findings_due``), so a person hears of several cases in one message."""
    assert case.moderation is not None
    if Grade(case.moderation.agreed_grade) is not Grade.INADEQUATE:
        return []
    findings = findings_of(session, case, policy=policy, plan=plan)
    told = []
    for person in recipients(session, case):
        text, message = blocks.findings_message([findings], reader=person)
        if outbox.enqueue(session, channel=person, text=text, blocks=message, dedupe_key=_key(case.id, person)):
            told.append(person)
    return told


def already_told(session: Session, cases: list[SampledCase]) -> set[tuple[int, str]]:
    """(case id, person) pairs told before: by a combined DM (the audit log) or at once (the outbox)."""
    ids = [str(c.id) for c in cases]
    told: set[tuple[int, str]] = set()
    for entity_id, detail in session.execute(select(AuditLogEntry.entity_id, AuditLogEntry.detail)
                                             .where(AuditLogEntry.entity == TOLD, AuditLogEntry.entity_id.in_(ids))):
        if entity_id is not None and isinstance(detail, dict) and detail.get("to"):
            told.add((int(entity_id), str(detail["to"])))
    prefix = "sample-findings:"
    keys = session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(
        [_key(c.id, p) for c in cases for p in recipients(session, c)])))
    for key in keys:
        case_id, _, person = (key or "").removeprefix(prefix).partition(":")
        told.add((int(case_id), person))
    return told


def send_findings_due(ctx: JobContext) -> str:
    """The morning's findings: each case holder and team manager gets ONE DM with the findings of every
    case moderated since they were last told (oldest first). Someone away hears when they are back; a
    message too long for Slack carries what fits, and the rest comes the next morning."""
    session, today = ctx.session, ctx.today
    since = ctx.now - timedelta(days=LOOK_BACK_DAYS)
    cases = list(session.scalars(
        select(SampledCase).join(SampleModeration, SampleModeration.case_id == SampledCase.id)
        .where(SampleModeration.moderated_at >= since, SampleModeration.moderated_at <= ctx.now)
        .order_by(SampleModeration.moderated_at, SampledCase.case_ref)))
    if not cases:
        return "random sample findings: none to send"
    told = already_told(session, cases)
    due: dict[str, list[SampledCase]] = {}
    for case in cases:
        for person in recipients(session, case):
            if (case.id, person) not in told:
                due.setdefault(person, []).append(case)
    sent = away = 0
    for person, theirs in due.items():
        row = session.scalar(select(Person).where(Person.slack_id == person))
        if row is None or not directory.is_available(row, today):
            away += 1
            continue
        items = [findings_of(session, c, policy=ctx.policy) for c in theirs]
        text, message = blocks.findings_message(items, reader=person)
        while len(items) > 1 and len(message) > blocks.MESSAGE_BLOCK_LIMIT:
            items = items[:-1]
            text, message = blocks.findings_message(items, reader=person)
        if not outbox.enqueue(session, channel=person, text=text, blocks=message,
                              dedupe_key=f"sample-findings-day:{today.isoformat()}:{person}"):
            continue  # already had today's; the rest come tomorrow
        for f in items:
            audit.record(session, "bot", "send", TOLD, f.case_id, to=person, case=f.case_ref)
        sent += 1
    return f"random sample findings: {sent} message(s) sent" + (f", {away} person(s) away" if away else "")


def request_talk(session: Session, *, case_id: int, slack_id: str, policy: Policy) -> str:
    """"Talk it through": the case holder or team manager asks the auditors to get in touch. Once per
    person per case; a second press says they have already asked."""
    case = get_case(session, case_id)
    holder = slack_id_of(session, case.case_holder_id)
    if slack_id not in (holder, case.team_manager.slack_id):
        raise NotPermitted(f"Only the case holder and team manager of {case.case_ref} can ask its auditors to "
                           "talk the findings through.")
    if case.moderation is None:
        raise Conflict(f"The auditors have not agreed a grade for {case.case_ref} yet; you will hear from them "
                       "when they have.")
    qi, pc = case.qi.slack_id, case.pc.slack_id
    text, message = blocks.talk_request_message(case_ref=case.case_ref,
                                                quarter_label=quarter_of(case.quarter, policy).label,
                                                requester=slack_id, holds=slack_id == holder)
    sent = [outbox.enqueue(session, channel=auditor, text=text, blocks=message,
                           dedupe_key=f"sample-talk:{case.id}:{slack_id}:{auditor}") for auditor in (qi, pc)]
    if any(sent):
        audit.record(session, slack_id, "create", "sample_talk_request", case.id, case=case.case_ref)
    return blocks.talk_requested_text(case_ref=case.case_ref, qi=qi, pc=pc, again=not any(sent))
