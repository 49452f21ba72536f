"""The learning audits' scheduled work: the allocation job (step 4), the daily reminders the
``send-reminders`` job asks for, and the to-dos App Home shows.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.core import directory, outbox
from bot.core.amendments import amendable_until
from bot.core.calendar import WorkingCalendar
from bot.core.council import calendar_of, policy_of
from bot.core.jobs import JobContext, JobSpec, NotDue
from bot.core.privacy import escape
from bot.core.todo import Todo
from bot.learning_audits import messages as blocks
from bot.learning_audits.allocation import allocate
from bot.learning_audits.allocation_run import (
    audits_due,
    away_through,
    build_auditors,
    candidates_for,
    live_proposals,
    store_allocation,
)
from bot.learning_audits.notify import notify_allocation, report_shortfalls
from bot.learning_audits.service import case_card, meeting_when
from bot.learning_audits.types import LearningIds
from storage.models import LearningAudit, LearningRound, Person

SEED_BITS = 31


# ---------------------------------------------------------------------------------------------
# step 4: the allocation job


def _allocation_period(ctx: JobContext) -> str:
    """Due on the first working day after the proposal deadline, once per quarter."""
    found = ctx.session.get(LearningRound, ctx.quarter.key)
    if found is None:
        raise NotDue(f"no learning-audit round for {ctx.quarter.label}: proposals have not been opened")
    opens = ctx.calendar.next_working_day(found.deadline, include_today=False)
    if ctx.today < opens:
        raise NotDue(
            f"proposals for {ctx.quarter.label} close on {blocks.nice_date(found.deadline)}; "
            f"allocation is due on {blocks.nice_date(opens)}"
        )
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{ctx.today.isoformat()} is not a working day")
    return ctx.quarter.key


def _seed(ctx: JobContext) -> int:
    """A fresh random seed, recorded with the round so the plan can be replayed; a given one for replays."""
    given = ctx.options.get("seed")
    if given is not None:
        return int(given)
    return secrets.randbelow(2**SEED_BITS)


def allocate_learning_audits(ctx: JobContext) -> str:
    """Solve the quarter's allocation, store it, and tell everyone concerned.

    A dry run only shows the plan (the runner rolls the transaction back anyway).
    """
    quarter = ctx.quarter
    learning_round = ctx.session.get(LearningRound, quarter.key)
    assert learning_round is not None  # the period function checked
    if learning_round.allocated_at is not None:  # item-level guard: a round is allocated once
        if ctx.dry_run and learning_round.allocation_explanation:
            return learning_round.allocation_explanation
        return (
            f"{quarter.label} was already allocated (seed {learning_round.allocation_seed}); nothing changed."
        )
    proposals = live_proposals(ctx.session, quarter)
    away = away_through(ctx.session, audits_due(learning_round, ctx.calendar, ctx.policy, ctx.today),
                        today=ctx.today)
    auditors = build_auditors(ctx.session, quarter, away=list(away))
    plan = allocate(
        auditors,
        candidates_for(ctx.session, proposals),
        per_auditor=ctx.policy.learning_audits_per_manager,
        seed=_seed(ctx),
    )
    for person, reason in away.items():  # reported with the others short of their cases
        plan.short[person] = reason
        plan.allocated_counts[person] = 0
    if ctx.dry_run:
        return plan.explain()
    result = store_allocation(
        ctx.session,
        learning_round,
        plan,
        proposals,
        calendar=ctx.calendar,
        policy=ctx.policy,
        today=ctx.today,
        now=ctx.now,
    )
    notify_allocation(ctx.session, result, quarter=quarter, calendar=ctx.calendar, policy=ctx.policy)
    report_shortfalls(ctx.session, result, quarter=quarter, today=ctx.today)
    return result.summary()


ALLOCATE_LEARNING_AUDITS_JOB = JobSpec(
    name="allocate-learning-audits",
    description="Allocate each Service Manager their independent learning-audit cases",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 0},
    period=_allocation_period,
    run=allocate_learning_audits,
)


# ---------------------------------------------------------------------------------------------
# reminders (called by the daily send-reminders job) and to-dos (App Home)


def _open_audits(session: Session) -> list[LearningAudit]:
    return list(
        session.scalars(
            select(LearningAudit)
            .where(LearningAudit.status == "allocated")
            .options(
                selectinload(LearningAudit.auditor),
                selectinload(LearningAudit.case_holder),
                selectinload(LearningAudit.team_manager),
                selectinload(LearningAudit.service),
                selectinload(LearningAudit.team),
                selectinload(LearningAudit.reflection),
            )
            .order_by(LearningAudit.id)
        )
    )


def _reminder_kind(calendar: WorkingCalendar, today: date, due: date, days_before: int) -> str | None:
    """ "due" on the due day; "before" from N working days before (so someone back from leave still hears)."""
    due_day = calendar.previous_working_day(due)
    if today == due_day:
        return "due"
    first = calendar.add_working_days(due_day, -days_before) if days_before > 0 else due_day
    if first <= today < due_day:
        return "before"
    return None


def _meeting_reminder(ctx: JobContext, learning_audit: LearningAudit) -> int:
    """The group DM hears of its meeting on the working day before it, once per time set."""
    if learning_audit.meeting_at is None or learning_audit.meeting_channel is None:
        return 0
    meeting_day = ctx.calendar.today(learning_audit.meeting_at)
    if ctx.calendar.previous_working_day(meeting_day, include_today=False) != ctx.today:
        return 0
    card = case_card(learning_audit, ctx.policy, ctx.calendar)
    when = meeting_when(ctx.calendar, learning_audit.meeting_at, learning_audit.meeting_minutes or 60)
    text, body = blocks.meeting_reminder(card, when=when, place=escape(learning_audit.meeting_place or ""))
    return int(outbox.enqueue(
        ctx.session, channel=learning_audit.meeting_channel, text=text, blocks=body,
        dedupe_key=f"learning-meeting-reminder:{learning_audit.id}:{learning_audit.meeting_at.isoformat()}",
    ))


def send_learning_reminders(ctx: JobContext) -> str:
    """Case holders without a reflection and auditors without a record: once before, once on the due day."""
    today = ctx.today
    if not ctx.calendar.is_working_day(today):
        return "learning audits: not a working day, no reminders"
    sent = 0
    for learning_audit in _open_audits(ctx.session):
        sent += _meeting_reminder(ctx, learning_audit)
        if learning_audit.due_on is None:
            continue
        kind = _reminder_kind(
            ctx.calendar, today, learning_audit.due_on, ctx.policy.action_reminder_working_days_before
        )
        if kind is None:
            continue
        card = case_card(learning_audit, ctx.policy)
        if learning_audit.reflection is None and directory.is_available(learning_audit.case_holder, today):
            text, body = blocks.reflection_reminder(card, due_today=kind == "due")
            sent += outbox.enqueue(
                ctx.session,
                channel=card.case_holder,
                text=text,
                blocks=body,
                dedupe_key=f"learning-reminder:{learning_audit.id}:reflection:{kind}",
            )
        if directory.is_available(learning_audit.auditor, today):
            text, body = blocks.audit_reminder(
                card, due_today=kind == "due", meeting_set_up=learning_audit.meeting_channel is not None
            )
            sent += outbox.enqueue(
                ctx.session,
                channel=card.auditor,
                text=text,
                blocks=body,
                dedupe_key=f"learning-reminder:{learning_audit.id}:audit:{kind}:{card.auditor}",
            )
    return f"learning audits: {sent} reminder{'' if sent == 1 else 's'} sent"


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """Reflections to write, meetings to set up and audits to record, due on the round's audit date."""
    person = session.scalar(select(Person).where(Person.slack_id == slack_id))
    if person is None:
        return []
    rows = session.scalars(
        select(LearningAudit)
        .where(LearningAudit.status == "allocated")
        .where((LearningAudit.case_holder_id == person.id) | (LearningAudit.auditor_id == person.id))
        .options(selectinload(LearningAudit.reflection), selectinload(LearningAudit.service))
        .order_by(LearningAudit.id)
    ).all()
    todos: list[Todo] = []
    for learning_audit in rows:
        ref = learning_audit.case_ref
        if learning_audit.case_holder_id == person.id and learning_audit.reflection is None:
            todos.append(
                Todo(
                    due=learning_audit.due_on,
                    kind="reflection",
                    text=f"Write your reflection for the learning audit of case *{ref}*",
                    button_label=blocks.START_REFLECTION_LABEL,
                    action_id=LearningIds.REFLECTION.value,
                    value=str(learning_audit.id),
                )
            )
        if learning_audit.auditor_id == person.id:
            if learning_audit.meeting_channel is None:
                todos.append(
                    Todo(
                        due=learning_audit.due_on,
                        kind="learning_audit",
                        text=f"Set up the learning-audit meeting for case *{ref}* "
                        f"({learning_audit.service.name})",
                        button_label=blocks.SET_UP_MEETING_LABEL,
                        action_id=LearningIds.SET_UP_MEETING.value,
                        value=str(learning_audit.id),
                    )
                )
            else:
                todos.append(
                    Todo(
                        due=learning_audit.due_on,
                        kind="learning_audit",
                        text=f"Record the learning audit of case *{ref}* ({learning_audit.service.name})",
                        button_label=blocks.RECORD_AUDIT_LABEL,
                        action_id=LearningIds.RECORD_AUDIT.value,
                        value=str(learning_audit.id),
                    )
                )
    todos.extend(_amendable(session, person, today))
    return sorted(todos, key=lambda t: t.sort_key)


def _amendable(session: Session, person: Person, today: date) -> list[Todo]:
    """Recorded audits (for their auditor) and reflections (for their case holder) still in the council's
    amendment window, each with its *Amend* button until the last day."""
    policy = policy_of(session)
    calendar = calendar_of(session)
    rows = session.scalars(
        select(LearningAudit)
        .where(LearningAudit.status == "recorded", LearningAudit.recorded_at.is_not(None))
        .where((LearningAudit.case_holder_id == person.id) | (LearningAudit.auditor_id == person.id))
        .options(selectinload(LearningAudit.reflection))
        .order_by(LearningAudit.id)
    ).all()
    todos: list[Todo] = []
    for learning_audit in rows:
        assert learning_audit.recorded_at is not None
        until = amendable_until(calendar, learning_audit.recorded_at, policy.amend_window_working_days)
        if today > until:
            continue
        ref, when = learning_audit.case_ref, blocks.nice_date(until)
        if learning_audit.auditor_id == person.id:
            todos.append(Todo(
                due=until, kind="amend",
                text=f"Recorded learning audit of *{ref}*: you can amend it until {when}",
                button_label=blocks.AMEND_LABEL, action_id=LearningIds.AMEND_AUDIT.value,
                value=str(learning_audit.id)))
        if learning_audit.case_holder_id == person.id and learning_audit.reflection is not None:
            todos.append(Todo(
                due=until, kind="amend",
                text=f"Your reflection for the learning audit of *{ref}*: you can amend it until {when}",
                button_label=blocks.AMEND_REFLECTION_ONLY_LABEL, action_id=LearningIds.REFLECTION.value,
                value=str(learning_audit.id)))
    return todos
