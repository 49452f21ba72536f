"""The proposals' scheduled work: the job that opens the quarter and asks every Service and Team
Manager for cases (suggesting a team manager's cases to re-visit after an Inadequate random sample),
the reminder the daily ``send-reminders`` job asks for, and the App Home to-do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import directory, outbox
from bot.core.blocks import section
from bot.core.calendar import Quarter
from bot.core.council import policy_of
from bot.core.grades import Grade
from bot.core.jobs import JobContext, JobSpec, NotDue
from bot.core.roles import Role
from bot.core.todo import Todo
from bot.learning_audits.proposal_messages import (
    invitation_message,
    nice_date,
    quarter_words,
    reminder_message,
)
from bot.learning_audits.proposals import live_proposals, proposals_of
from bot.learning_audits.rounds import current_round, ensure_round, round_dates
from bot.learning_audits.types import ProposalIds
from storage.models import LearningAudit, Person, Proposal, Service
from storage.models.sampling import CaseRegisterEntry, SampledCase, SampleDraw, SampleModeration

MANAGER_ROLES = (Role.SERVICE_MANAGER, Role.TEAM_MANAGER)
"""Who is asked, reminded and shown a to-do: only the managers the framework names."""


# ---------------------------------------------------------------------------------------------
# who is asked


@dataclass
class Manager:
    """A Service or Team Manager and the services they are part of (for "your service has N so far")."""

    person: Person
    services: list[Service] = field(default_factory=list)

    def add(self, service: Service) -> None:
        if all(s.id != service.id for s in self.services):
            self.services.append(service)


def managers(session: Session) -> list[Manager]:
    """Every active Service and Team Manager of an active service or team, once each."""
    found: dict[int, Manager] = {}
    for service in directory.active_services(session):
        people = [service.service_manager] + [t.team_manager for t in service.teams if t.active]
        for person in people:
            if person.active:
                found.setdefault(person.id, Manager(person)).add(service)
    return list(found.values())



# ---------------------------------------------------------------------------------------------
# cases to re-visit: the framework asks for cases once judged Inadequate to be re-visited


@dataclass(frozen=True)
class Revisit:
    case_ref: str
    quarter_label: str


def cases_to_revisit(session: Session, person: Person, quarter: Quarter, year_start_month: int) -> list[Revisit]:
    """The team manager's cases moderated Inadequate in a random sample of an earlier quarter, with no
    learning audit allocated since, not proposed this quarter and not closed in the register.

    Read from the sampling tables directly (features never import each other)."""
    rows = session.execute(
        select(SampledCase.case_ref, SampleDraw.quarter, SampleModeration.moderated_at)
        .join(SampleDraw, SampleDraw.id == SampledCase.draw_id)
        .join(SampleModeration, SampleModeration.case_id == SampledCase.id)
        .where(SampledCase.team_manager_id == person.id, SampleModeration.agreed_grade == int(Grade.INADEQUATE),
               SampleDraw.quarter_index < quarter.index())
        .order_by(SampleDraw.quarter_index, SampledCase.case_ref)
    ).all()
    if not rows:
        return []
    refs = [r.case_ref for r in rows]
    audited: dict[str, list[datetime]] = {}
    for ref, when in session.execute(select(LearningAudit.case_ref, LearningAudit.allocated_at)
                                     .where(LearningAudit.case_ref.in_(refs))):
        audited.setdefault(ref, []).append(when)
    proposed = set(session.scalars(select(Proposal.live_ref).where(Proposal.quarter == quarter.key,
                                                                   Proposal.live_ref.in_(refs))))
    closed = set(session.scalars(select(CaseRegisterEntry.case_ref).where(CaseRegisterEntry.case_ref.in_(refs),
                                                                          CaseRegisterEntry.status == "closed")))
    found: dict[str, Revisit] = {}
    for ref, sample_quarter, moderated_at in rows:
        if ref in proposed or ref in closed or any(_after(when, moderated_at) for when in audited.get(ref, [])):
            continue
        found[ref] = Revisit(ref, Quarter.parse(sample_quarter, year_start_month).label)
    return list(found.values())


def _after(a: datetime, b: datetime) -> bool:
    """SQLite hands datetimes back without a zone; compare as UTC either way."""
    return (a if a.tzinfo else a.replace(tzinfo=UTC)) >= (b if b.tzinfo else b.replace(tzinfo=UTC))


def revisit_text(revisits: list[Revisit], *, markup: bool) -> str:
    star = "*" if markup else ""
    cases = ", ".join(f"{star}{r.case_ref}{star} ({r.quarter_label} random sample)" for r in revisits)
    one = len(revisits) == 1
    return (f"{'A case' if one else 'Cases'} in your team {'was' if one else 'were'} graded Inadequate in a random "
            f"sample and {'has' if one else 'have'} not had a learning audit since: {cases}. The framework asks "
            f"us to re-visit cases once they have been judged Inadequate: you could propose "
            f"{'it' if one else 'them'} with {star}Propose a case{star} and tick "
            f"\u201cPreviously graded Inadequate\u201d.")


# ---------------------------------------------------------------------------------------------
# the job that opens the quarter, the reminder and the to-do


def _live_counts(session: Session, quarter_key: str) -> Counter[int]:
    return Counter(p.service_id for p in live_proposals(session, quarter_key))


def _open_period(ctx: JobContext) -> str:
    quarter = ctx.quarter
    dates = round_dates(ctx.calendar, ctx.policy, quarter)
    existing = current_round(ctx.session, quarter.key)
    deadline = existing.deadline if existing else dates.deadline
    opens_at = ctx.calendar.at(dates.opens, ctx.policy.working_day_start_hour)
    if ctx.now < opens_at:
        raise NotDue(f"proposals for {quarter.label} open at {opens_at:%H:%M} on {nice_date(dates.opens)}")
    if ctx.today > deadline:
        raise NotDue(f"the proposal deadline for {quarter.label} passed on {nice_date(deadline)}")
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{nice_date(ctx.today)} is not a working day")
    return quarter.key


def open_proposals(ctx: JobContext) -> str:
    quarter = ctx.quarter
    round_ = ensure_round(ctx.session, calendar=ctx.calendar, policy=ctx.policy, quarter=quarter, now=ctx.now)
    counts = _live_counts(ctx.session, quarter.key)
    words = quarter_words(quarter.label, quarter.months_label)
    asked = away = before = 0
    for manager in managers(ctx.session):
        if not directory.is_available(manager.person, ctx.today):
            away += 1
            continue
        text, blocks = invitation_message(
            quarter=words, deadline=round_.deadline, quarter_key=quarter.key,
            service_counts=[(s.name, counts[s.id]) for s in manager.services],
        )
        revisits = cases_to_revisit(ctx.session, manager.person, quarter, ctx.policy.year_start_month)
        if revisits:
            text += " " + revisit_text(revisits, markup=False)
            blocks.insert(len(blocks) - 1, section(revisit_text(revisits, markup=True)))  # above the button
        if outbox.enqueue(ctx.session, channel=manager.person.slack_id, text=text, blocks=blocks,
                          dedupe_key=f"open-proposals:{quarter.key}:{manager.person.slack_id}"):
            asked += 1
        else:
            before += 1
    summary = (f"{quarter.label} open for proposals until {nice_date(round_.deadline)}: asked {asked} "
               f"manager{'' if asked == 1 else 's'}")
    if away:
        summary += f"; {away} away, not asked"
    if before:
        summary += f"; {before} asked before"
    return summary + "."


OPEN_PROPOSALS_JOB = JobSpec(
    name="open-proposals",
    description="Ask every Service and Team Manager to propose learning-audit cases "
     "for the quarter",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 0},
    period=_open_period,
    run=open_proposals,
)


def send_proposal_reminders(ctx: JobContext) -> str:
    """One reminder per manager who has no live proposal, a set number of working days before the deadline.

    Called daily by ``send-reminders``. The reminder window runs from that day to the deadline, so a
    day the job missed is made up on the next working day, and a manager away on the day is reminded
    when back; the per-person dedupe key means nobody is reminded twice.
    """
    quarter = ctx.quarter
    round_ = current_round(ctx.session, quarter.key)
    if round_ is None:
        return f"Proposal reminders: {quarter.label} has not opened for proposals."
    if round_.allocated_at is not None:
        return f"Proposal reminders: {quarter.label} is already allocated."
    if not ctx.calendar.is_working_day(ctx.today):
        return "Proposal reminders: not a working day."
    before = ctx.policy.reminder_working_days_before_deadline
    remind_from = ctx.calendar.add_working_days(round_.deadline, -before) if before else round_.deadline
    if ctx.today < remind_from:
        return f"Proposal reminders: due on {nice_date(remind_from)}."
    if ctx.today > round_.deadline:
        return f"Proposal reminders: the deadline passed on {nice_date(round_.deadline)}."
    proposed = {p.proposed_by_id for p in live_proposals(ctx.session, quarter.key)}
    words = quarter_words(quarter.label, quarter.months_label)
    sent = away = 0
    for manager in managers(ctx.session):
        if manager.person.id in proposed:
            continue
        if not directory.is_available(manager.person, ctx.today):
            away += 1
            continue
        text, blocks = reminder_message(quarter=words, deadline=round_.deadline, quarter_key=quarter.key)
        if outbox.enqueue(ctx.session, channel=manager.person.slack_id, text=text, blocks=blocks,
                          dedupe_key=f"proposal-reminder:{quarter.key}:{manager.person.slack_id}"):
            sent += 1
    summary = f"Proposal reminders: {sent} sent (deadline {nice_date(round_.deadline)})"
    return summary + (f"; {away} away." if away else ".")


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """A manager with no live proposal while the quarter's round is open has a case to propose."""
    policy = policy_of(session)
    quarter = Quarter.containing(today, policy.year_start_month)
    round_ = current_round(session, quarter.key)
    if round_ is None or round_.allocated_at is not None:
        return []
    who = directory.who(session, slack_id)
    if not (who.known and who.has(*MANAGER_ROLES)):
        return []
    if any(p.status != "withdrawn" for p in proposals_of(session, slack_id, quarter.key)):
        return []
    return [Todo(
        due=round_.deadline,
        kind="proposal",
        text=f"Propose a case for *{quarter.label}* learning audits by {nice_date(round_.deadline)}.",
        button_label="Propose a case",
        action_id=ProposalIds.PROPOSE.value,
        value=quarter.key,
    )]
