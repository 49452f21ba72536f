"""The Continuous Improvement Board (CIB): its meetings, the items queued for them, the digest
posted before each meeting, and the Board's decisions.

Commissioned work (themed audits, learning visits) is not paced by the quarter: each piece ends at
a pre-scheduled CIB meeting. What reaches the Board goes through one ``CibItem`` per source (a
database constraint), marked when a digest carries it. Re-running the digest job, a double click
or findings re-recorded before the meeting can therefore never put the same item in front of the
Board twice.

Everything posted to the CIB channel is aggregated and anonymised: counts under the council's
suppression threshold are shown as "fewer than N", free text that goes there is refused if it
carries identifiers or case references, and owners of actions are never named.

Permissions (re-checked on the server for every submission and click): admins and Q&I schedule
meetings; admins, board leads and Q&I record decisions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.actions import service as action_plans
from bot.cib import messages as blocks
from bot.cib.types import THEMED, VISIT, CibIds, CibListing, DigestContent, DigestThemed, DigestVisit
from bot.core import outbox
from bot.core.audit import record
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.council import policy_of
from bot.core.directory import Who, channel_for, who
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.features import DigestSource
from bot.core.grade_trend import enqueue_trend_chart
from bot.core.policy import Policy
from bot.core.privacy import SmallCounts, case_refs_in, free_text_problem, outbound
from bot.core.roles import Channel, Role
from bot.core.todo import Todo
from storage.models import CibMeeting, JobRun, Person
from storage.models.commissions import CibItem, LearningVisit, ThemedAudit, ThemedAuditFinding

log = logging.getLogger(__name__)

DIGEST_JOB = "cib-digest"
BOARD_CHANNEL = Channel.BOARD
ACTION_SOURCES: tuple[tuple[str, str], ...] = (
    ("learning_audit", "Learning audits"),
    ("random_sample", "Random sampling audits"),
    (THEMED, "Themed audits"),
    (VISIT, "Learning visits"),
)


# ---------------------------------------------------------------------------------------------
# who may do what


def can_schedule_cib(me: Who) -> bool:
    return me.known and me.has(Role.ADMIN, Role.QUALITY_IMPROVEMENT)


def can_chair_cib(me: Who) -> bool:
    return me.known and me.has(Role.ADMIN, Role.BOARD_LEAD, Role.QUALITY_IMPROVEMENT)


SCHEDULE_REFUSAL = "Only admins and Quality & Improvement can schedule Continuous Improvement Board meetings."
CHAIR_REFUSAL = "Only the Board's chair (admins and board leads) or Quality & Improvement can record decisions."


# ---------------------------------------------------------------------------------------------
# helpers the work that reports to the Board shares


def active_person(session: Session, slack_id: str | None) -> Person | None:
    if not slack_id:
        return None
    return session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))


def acting_person(session: Session, slack_id: str) -> Person:
    """The person acting, who must be in the directory to change anything."""
    person = active_person(session, slack_id)
    if person is None:
        raise NotPermitted("You are not in the QMF directory yet: ask a QMF admin to add you.")
    return person


def check_text(errors: dict[str, str], block_id: str, text: str | None, label: str, today: date, *,
               required: bool = True, policy: Policy | None = None, max_length: int | None = None) -> str | None:
    """Free-text checks shared by every field: present, short enough, no identifiers, and (for text
    that goes to the Board's channel, when ``policy`` is given) no case references."""
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


def dm(session: Session, slack_id: str, message: tuple[str, list[Any]], key: str) -> bool:
    text, body = message
    return outbox.enqueue(session, channel=slack_id, text=text, blocks=body, dedupe_key=key)


def content_key(*parts: object) -> str:
    """A short stable key of what was said, so a changed answer is a new message and a repeat is not."""
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# meetings and the items queued for them


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


def not_yet_digested(session: Session, kind: str, source_id: int) -> None:
    """Refuse a change to something a digest has already put in front of the Board."""
    item = session.scalar(select(CibItem).where(CibItem.source_kind == kind, CibItem.source_id == source_id))
    if item is not None and item.digested_at is not None:
        raise Conflict("This has already gone to the Continuous Improvement Board, so it can't be changed now.")


def schedule_meeting(session: Session, *, actor: str, meets_on: date | None, today: date,
                     calendar: WorkingCalendar) -> CibMeeting:
    ids = CibIds
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


# ---------------------------------------------------------------------------------------------
# the digest


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


def _items_for(session: Session, meeting: CibMeeting) -> list[CibItem]:
    """Items queued for this meeting, plus any that missed an earlier digest or had no meeting yet."""
    earlier = select(CibMeeting.id).where(CibMeeting.meets_on <= meeting.meets_on)
    return list(session.scalars(
        select(CibItem).where(CibItem.digested_at.is_(None),
                              (CibItem.meeting_id.is_(None)) | (CibItem.meeting_id.in_(earlier)))
        .order_by(CibItem.queued_at, CibItem.id)))


def _section_lines(session: Session, sources: Sequence[DigestSource], since: date, until: date) -> list[str]:
    """Lines other features contribute to the digest (learning themes, random sampling), from the
    feature registry; one feature's lines failing must not stop the Board's digest."""
    lines: list[str] = []
    for fn in sources:
        try:
            with session.begin_nested():
                lines += [str(line) for line in fn(session, since, until)]
        except Exception:  # noqa: BLE001 - logged with its traceback; the rest of the digest still goes
            log.exception("cib-digest: %s failed", getattr(fn, "__qualname__", fn))
    return lines


def action_lines(session: Session, *, today: date, threshold: int) -> list[str]:
    """The state of every action plan, by where the actions came from, suppressed."""
    shown = SmallCounts(threshold)
    lines = []
    for kind, label in ACTION_SOURCES:
        counts = action_plans.action_counts(session, today=today, source_kinds=[kind])
        if not any(counts.values()):
            lines.append(f"• {label}: no actions")
            continue
        lines.append(f"• {label}: {shown.count(counts['open'])} open "
                     f"({shown.count(counts['overdue'])} overdue), "
                     f"{shown.count(counts['done'])} done")
    return lines


def _themed_entry(session: Session, item: CibItem, policy: Policy, shown: SmallCounts) -> DigestThemed | None:
    audit = session.get(ThemedAudit, item.source_id)
    if audit is None:
        return None
    audited = session.scalar(select(func.count(func.distinct(ThemedAuditFinding.case_id)))
                             .where(ThemedAuditFinding.audit_id == audit.id)) or 0
    return DigestThemed(
        item_id=item.id, theme=outbound(audit.theme, policy),
        source=outbound(audit.source, policy), priority=outbound(audit.priority, policy),
        cases_audited=shown.count(int(audited)),
        findings=outbound(audit.moderated_findings, policy),
        recommendations=outbound(audit.recommendations, policy),
        themes=tuple(audit.moderated_themes or ()))


def _visit_entry(session: Session, item: CibItem, policy: Policy, shown: SmallCounts) -> DigestVisit | None:
    visit = session.get(LearningVisit, item.source_id)
    if visit is None:
        return None
    found = action_plans.actions_for(session, source_kind=VISIT, source_id=visit.id, include_drafts=False)
    return DigestVisit(
        item_id=item.id, service_name=visit.service.name, visit_on=visit.visit_on,
        need_or_risk=outbound(visit.need_or_risk, policy),
        feedback=outbound(visit.feedback, policy),
        plan_summary=outbound(visit.plan_summary, policy) or None,
        actions=tuple((outbound(a.description, policy), a.due_on) for a in found),
        action_count=shown.count(len(found)))


def build_digest(session: Session, meeting: CibMeeting, *, today: date, policy: Policy,
                 sections: Mapping[str, Sequence[DigestSource]] | None = None,
                 ) -> tuple[DigestContent, list[CibItem]]:
    """``sections``: the "themes" and "sample" lines' sources (``rt.features.digest(...)``)."""
    sections = sections or {}
    threshold = policy.suppression_threshold
    shown = SmallCounts(threshold)
    items = _items_for(session, meeting)
    themed: list[DigestThemed] = []
    visits: list[DigestVisit] = []
    for item in items:
        if item.source_kind == THEMED:
            entry = _themed_entry(session, item, policy, shown)
            if entry is not None:
                themed.append(entry)
        elif item.source_kind == VISIT:
            plan = _visit_entry(session, item, policy, shown)
            if plan is not None:
                visits.append(plan)
    previous = _previous_meeting(session, meeting.meets_on)
    since = previous.meets_on if previous else None
    window_start = since or (meeting.meets_on - timedelta(days=91))
    content = DigestContent(
        meeting_on=meeting.meets_on, since=since, themed=tuple(themed), visits=tuple(visits),
        theme_lines=tuple(_section_lines(session, sections.get("themes", ()), window_start, today)),
        sample_lines=tuple(_section_lines(session, sections.get("sample", ()), window_start, today)),
        action_lines=tuple(action_lines(session, today=today, threshold=threshold)),
        carried=sum(1 for i in items if i.meeting_id != meeting.id),
    )
    return content, items


def post_digest(session: Session, meeting: CibMeeting, *, channel: str, today: date, now: datetime,
                policy: Policy, sections: Mapping[str, Sequence[DigestSource]] | None = None) -> DigestContent:
    """Post the digest once and mark every item it carries, so none reaches the Board twice."""
    content, items = build_digest(session, meeting, today=today, policy=policy, sections=sections)
    text, body = blocks.digest_message(content)
    outbox.enqueue(session, channel=channel, text=text, blocks=body, dedupe_key=f"cib-digest:{meeting_key(meeting)}")
    enqueue_trend_chart(session, channel=channel, last=Quarter.containing(today, policy.year_start_month),
                        shown=SmallCounts(policy.suppression_threshold), key=f"cib-digest-trend:{meeting_key(meeting)}")
    for item in items:
        item.digested_at = now
        item.meeting_id = meeting.id
    session.flush()
    record(session, "system", "post", "cib_digest", meeting.id, items=[i.id for i in items])
    return content


# ---------------------------------------------------------------------------------------------
# decisions and the listing


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
    ids = CibIds
    item = decision_form(session, actor=actor, item_id=item_id)
    errors: dict[str, str] = {}
    text = check_text(errors, ids.CIB_DECISION_TEXT, decision, blocks.CIB_LABELS[ids.CIB_DECISION_TEXT], today,
                      required=False, policy=policy_of(session))
    if not received and not text:
        errors[ids.CIB_DECISION_TEXT] = "Tick \"Received by the Board\" or write the Board's decisions."
    if errors:
        raise InvalidInput(errors)
    me = acting_person(session, actor)
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
    version = content_key(received, text)
    meeting_on = item.meeting.meets_on if item.meeting else None
    message = blocks.decision_message(item.title, received, text, meeting_on, actor)
    for slack_id in _commissioners(session, item):
        dm(session, slack_id, message, f"cib-item:{item.id}:decision:{version}:{slack_id}")
    board = channel_for(session, BOARD_CHANNEL)
    if channel and ts and channel == board:
        policy = policy_of(session)
        thread_text, thread_blocks = blocks.decision_thread_message(
            outbound(item.title, policy), received, outbound(text, policy) or None)
        outbox.enqueue(session, channel=channel, text=thread_text, blocks=thread_blocks, thread_ts=ts,
                       dedupe_key=f"cib-item:{item.id}:thread:{version}")
    return item


def cib_listing(session: Session, *, slack_id: str, today: date) -> CibListing:
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
    return CibListing(
        meetings=tuple((m.meets_on, tuple(by_meeting.get(m.id, []))) for m in meetings),
        unscheduled=tuple(by_meeting.get(None, [])),
        awaiting=tuple((i.id, i.title, i.meeting.meets_on if i.meeting else None) for i in awaiting),
        can_schedule=can_schedule_cib(me),
        can_chair=can_chair_cib(me),
    )


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """For the Board's chair: items that went to a meeting which has happened, awaiting a decision."""
    if active_person(session, slack_id) is None or not can_chair_cib(who(session, slack_id)):
        return []
    out: list[Todo] = []
    awaiting = session.scalars(select(CibItem).where(CibItem.digested_at.is_not(None),
                                                     CibItem.decided_at.is_(None)).order_by(CibItem.id).limit(10))
    for item in awaiting:
        meeting_on = item.meeting.meets_on if item.meeting else None
        if meeting_on and meeting_on > today:
            continue  # decisions are made at the meeting
        out.append(Todo(due=meeting_on, kind="cib_decision",
                        text=f"*CIB* {item.title}: mark received and record the Board's decisions",
                        button_label=blocks.RECORD_DECISION_LABEL, action_id=CibIds.CIB_RECORD_DECISION.value,
                        value=str(item.id)))
    return out
