"""What random sampling asks of people before the due date: reminders 5 and 1 working days before
the quarter's sample is due, and the App Home to-do (an audit to record, a grade to moderate)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.core import directory, outbox
from bot.core.jobs import JobContext
from bot.core.todo import Todo
from bot.sampling import findings
from bot.sampling import messages as blocks
from bot.sampling.service import active_person, audits_of, draw_for, partner_of, role_of
from bot.sampling.types import ReminderItem, SampleIds
from storage.models.sampling import SampledCase, SampleModeration

REMINDER_WORKING_DAYS = (5, 1)


def send_sampling_reminders(ctx: JobContext) -> str:
    """The morning's random-sample messages: each person's findings of cases moderated since they were
    last told (one DM each), then the audits and moderations still to do near the due date."""
    return f"{findings.send_findings_due(ctx)}; {_due_reminders(ctx)}"


def _due_reminders(ctx: JobContext) -> str:
    """Audits and moderations not done, 5 and 1 working days before the quarter's sample is due."""
    session, today = ctx.session, ctx.today
    row = draw_for(session, ctx.quarter.key)
    if row is None:
        return "random sampling: no draw this quarter"
    days_left = ctx.calendar.working_days_between(today, row.due_on)
    if days_left not in REMINDER_WORKING_DAYS:
        return f"random sampling: no reminders today ({days_left} working day(s) to the due date)"
    todo: dict[str, list[ReminderItem]] = {}
    for case in row.cases:
        if case.moderation is not None:
            continue
        audits = audits_of(case)
        for role, member in (("qi", case.qi.slack_id), ("pc", case.pc.slack_id)):
            if len(audits) == 2:
                todo.setdefault(member, []).append(ReminderItem(case.id, case.case_ref, moderation=True))
            elif role not in audits:
                todo.setdefault(member, []).append(ReminderItem(case.id, case.case_ref, moderation=False))
    sent = away = 0
    for member, items in todo.items():
        person = active_person(session, member)
        if person is None or not directory.is_available(person, today):
            away += 1
            continue
        text, message = blocks.reminder_message(items=items, due=row.due_on, days_left=days_left)
        sent += outbox.enqueue(session, channel=member, text=text, blocks=message,
                               dedupe_key=f"sample-remind:{row.quarter}:{days_left}:{member}")
    return f"random sampling: {sent} reminder(s) sent" + (f", {away} person(s) away" if away else "")


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    person = active_person(session, slack_id)
    if person is None:
        return []
    cases = session.scalars(
        select(SampledCase)
        .outerjoin(SampleModeration, SampleModeration.case_id == SampledCase.id)
        .where(or_(SampledCase.qi_id == person.id, SampledCase.pc_id == person.id), SampleModeration.id.is_(None))
        .order_by(SampledCase.due_on, SampledCase.case_ref)
    )
    out: list[Todo] = []
    for case in cases:
        role = role_of(case, slack_id)
        assert role is not None
        partner = partner_of(case, role)
        audits = audits_of(case)
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

