"""The proposals' scheduled work: the job that opens the quarter and asks every Service and Team
Manager for cases, the reminder the daily ``send-reminders`` job asks for, and the App Home to-do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from bot.core import directory, outbox
from bot.core.calendar import Quarter
from bot.core.council import policy_of
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
from storage.models import Person, Service

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
