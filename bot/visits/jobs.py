"""Learning visits' part of the daily ``send-reminders`` job."""

from __future__ import annotations

from sqlalchemy import select

from bot.cib import service as board
from bot.core.directory import is_available
from bot.core.jobs import JobContext
from bot.visits import messages as blocks
from bot.visits.service import visit_plan
from storage.models.commissions import LearningVisit


def send_visit_reminders(ctx: JobContext) -> str:
    """Visitors the working day before a visit, and the lead reviewer once the visit is over.

    Windows rather than single days, so a day the job did not run is caught up; the dedupe keys
    keep every message to once.
    """
    session, calendar, today = ctx.session, ctx.calendar, ctx.today
    if not calendar.is_working_day(today):
        return f"learning visits: {today.isoformat()} is not a working day; nobody prompted."
    counts = {"visit": 0, "record": 0}
    planned = list(session.scalars(select(LearningVisit).where(LearningVisit.status == "planned")
                                   .order_by(LearningVisit.visit_on, LearningVisit.id)))
    for visit in planned:
        plan = visit_plan(visit)
        if visit.visit_on > today and calendar.previous_working_day(visit.visit_on, include_today=False) <= today:
            for visitor in visit.visitors:
                if not is_available(visitor.person, today):
                    continue
                lead = visitor.person_id == visit.lead_reviewer_id
                slack_id = visitor.person.slack_id
                if board.dm(session, slack_id, blocks.visit_reminder_message(plan, lead=lead, reader=slack_id),
                            f"visit:{visit.id}:reminder:{slack_id}"):
                    counts["visit"] += 1
        elif visit.visit_on < today and is_available(visit.lead_reviewer, today) and board.dm(
                session, visit.lead_reviewer.slack_id, blocks.visit_record_reminder_message(plan),
                f"visit:{visit.id}:record-reminder:{visit.lead_reviewer.slack_id}"):
            counts["record"] += 1
    return f"learning visits: {counts['visit']} visit reminder(s), {counts['record']} lead reviewer reminder(s)"
