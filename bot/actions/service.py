"""Action plans: actions with an owner and a due date, from any kind of quality work.

Learning audits, random sampling, learning visits and themed audits all end in actions, and the
framework only improves practice if they get done, so they are tracked in one place: the owner
is told at once, reminded before and on the due date, and an overdue action goes once to their
manager. Everything a person is sent goes through the outbox with a dedupe key per action and
kind, so a double click or a job run twice never sends anything twice.

An action can be a *draft* while the record it belongs to is still being written (the learning
audit modal pushes a small modal per action); drafts tell nobody until ``publish_drafts``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from bot.actions import messages as blocks
from bot.core import outbox
from bot.core.audit import record
from bot.core.council import council_timezone
from bot.core.directory import is_available, who
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.formatting import date_only
from bot.core.privacy import free_text_problem
from bot.core.roles import Role
from bot.core.todo import Todo
from storage.models import (
    Action,
    AuditLogEntry,
    Division,
    DivisionLeader,
    LearningAudit,
    Person,
    Service,
    Team,
    TeamMember,
)
from storage.models.commissions import LearningVisit, ThemedAudit
from storage.models.sampling import SampledCase

if TYPE_CHECKING:
    from bot.core.jobs import JobContext

log = logging.getLogger(__name__)

SOURCE_KINDS = ("learning_audit", "random_sample", "learning_visit", "themed_audit")
DRAFT, OPEN, DONE = "draft", "open", "done"
ENTITY = "action"
CLOCK_KEY = "clock"  # session.info: a callable giving the current aware datetime (the runtime's clock)
TIMEZONE_KEY = "timezone"  # session.info: the council's timezone name

SourceDescriber = Callable[[Session, int], "str | None"]
_DESCRIBERS: dict[str, SourceDescriber] = {}

_GENERIC_SOURCE = {
    "learning_audit": "from a learning audit",
    "random_sample": "from a random sampling audit",
    "learning_visit": "from a learning visit",
    "themed_audit": "from a themed audit",
}
_SERVICE_SOURCE = {
    "learning_audit": "from a learning audit in {service}",
    "random_sample": "from the random sampling audit of {service}",
    "learning_visit": "from the learning visit to {service}",
    "themed_audit": "from a themed audit in {service}",
}


# ---------------------------------------------------------------------------------------------
# where an action came from


def _describe_learning_audit(session: Session, source_id: int) -> str | None:
    audit = session.get(LearningAudit, source_id)
    return f"from the learning audit of {audit.case_ref}" if audit is not None else None


def _describe_sampled_case(session: Session, source_id: int) -> str | None:
    case = session.get(SampledCase, source_id)
    return f"from the random sampling audit of {case.case_ref}" if case is not None else None


def _describe_visit(session: Session, source_id: int) -> str | None:
    visit = session.get(LearningVisit, source_id)
    if visit is None:
        return None
    return f"from the learning visit to {visit.service.name} on {date_only(visit.visit_on)}"


def _describe_themed_audit(session: Session, source_id: int) -> str | None:
    audit = session.get(ThemedAudit, source_id)
    return f"from the themed audit \"{audit.theme}\"" if audit is not None else None


# Where each kind of action comes from, said from the stored records alone: action plans need
# no other feature to describe their sources.
_DESCRIBERS.update({
    "learning_audit": _describe_learning_audit,
    "random_sample": _describe_sampled_case,
    "learning_visit": _describe_visit,
    "themed_audit": _describe_themed_audit,
})


def source_text(session: Session, action: Action) -> str:
    """The phrase naming where an action came from, for the person who has to do it."""
    describe = _DESCRIBERS.get(action.source_kind)
    if describe is not None:
        try:
            phrase = describe(session, action.source_id)
        except Exception:  # noqa: BLE001 - a flow's describer failing must not stop a reminder
            log.exception("could not describe the source of action %s", action.id)
            phrase = None
        if phrase:
            return phrase
    if action.service_id is not None:
        service = session.get(Service, action.service_id)
        if service is not None:
            template = _SERVICE_SOURCE.get(action.source_kind, "from {service}")
            return template.format(service=service.name)
    return _GENERIC_SOURCE.get(action.source_kind, "from the quality framework")


# ---------------------------------------------------------------------------------------------
# time and people


def _now(session: Session) -> datetime:
    """The runtime's clock when the session carries one, so the sandbox and the demo can move time."""
    clock = session.info.get(CLOCK_KEY)
    moment = clock() if callable(clock) else datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _local_date(session: Session, moment: datetime) -> date:
    tz = ZoneInfo(session.info.get(TIMEZONE_KEY) or council_timezone())
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(tz).date()


def _today(session: Session) -> date:
    return _local_date(session, _now(session))


def _person(session: Session, slack_id: str | None, *, active_only: bool = True) -> Person | None:
    if not slack_id:
        return None
    query = select(Person).where(Person.slack_id == slack_id)
    if active_only:
        query = query.where(Person.active)
    return session.scalar(query)


def direct_managers(session: Session, person: Person) -> list[Person]:
    """Who manages this person: their team manager(s); for a Team Manager, their Service Manager;
    for a Service Manager, their division's leadership team. Nearest first, never themselves."""
    team_managers = list(session.scalars(
        select(Person)
        .join(Team, Team.team_manager_id == Person.id)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .join(Service, Service.id == Team.service_id)
        .where(TeamMember.person_id == person.id, Team.active, Service.active, Person.active,
               Person.id != person.id)
        .order_by(Service.position, Team.position)
    ))
    if team_managers:
        return _unique(team_managers)
    service_managers = list(session.scalars(
        select(Person)
        .join(Service, Service.service_manager_id == Person.id)
        .join(Team, Team.service_id == Service.id)
        .where(Team.team_manager_id == person.id, Team.active, Service.active, Person.active,
               Person.id != person.id)
        .order_by(Service.position, Team.position)
    ))
    if service_managers:
        return _unique(service_managers)
    leaders = list(session.scalars(
        select(Person)
        .join(DivisionLeader, DivisionLeader.person_id == Person.id)
        .join(Division, Division.id == DivisionLeader.division_id)
        .join(Service, Service.division_id == Division.id)
        .where(Service.service_manager_id == person.id, Service.active, Division.active, Person.active,
               Person.id != person.id)
        .order_by(Service.position, DivisionLeader.position)
    ))
    return _unique(leaders)


def _unique(people: list[Person]) -> list[Person]:
    seen: set[int] = set()
    out: list[Person] = []
    for p in people:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


def _manager_role(session: Session, manager: Person, owner: Person) -> str:
    if session.scalar(select(Team.id).join(TeamMember, TeamMember.team_id == Team.id).where(
            Team.team_manager_id == manager.id, TeamMember.person_id == owner.id).limit(1)) is not None:
        return "their team manager"
    if session.scalar(select(Service.id).join(Team, Team.service_id == Service.id).where(
            Service.service_manager_id == manager.id, Team.team_manager_id == owner.id).limit(1)) is not None:
        return "their Service Manager"
    return "their manager"


def may_mark_done(session: Session, action: Action, actor: str) -> bool:
    """The owner, the owner's (team) manager or an admin; checked on the server for every click."""
    if action.owner.slack_id == actor:
        return True
    me = who(session, actor)
    if not me.known:
        return False
    if me.has(Role.ADMIN):
        return True
    return any(m.slack_id == actor for m in direct_managers(session, action.owner))


# ---------------------------------------------------------------------------------------------
# create, publish, delete


def add_action(session: Session, *, source_kind: str, source_id: int, owner: str, description: str,
               due_on: date, created_by: str | None, service_id: int | None, quarter: str | None,
               status: str = OPEN, today: date | None = None, notify: bool = True) -> Action:
    """Store an action; an open one is DMed to its owner in the same transaction, unless ``notify``
    is False because a message sent at the same moment already carries it with its "Mark done".

    ``today`` defaults to the council-local date of the session's clock (see CLOCK_KEY).
    Inline errors use the block ids of ``bot.actions.messages.action_input_blocks``.
    """
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {source_kind!r}; expected one of {SOURCE_KINDS}")
    if status not in (DRAFT, OPEN):
        raise ValueError(f"a new action is 'draft' or 'open', not {status!r}")
    now = _now(session)
    today = today or _local_date(session, now)
    errors: dict[str, str] = {}
    owner_person = _person(session, owner)
    if owner_person is None:
        errors[blocks.ActionIds.OWNER] = (
            f"<@{owner}> is not in the QMF directory, so they can't own an action. "
            "Choose someone who is, or ask an admin to add them." if owner else "Choose who owns this action."
        )
    if due_on < today:
        errors[blocks.ActionIds.DUE] = f"That date has passed: choose {blocks.day_label(today)} or later."
    text = (description or "").strip()
    if not text:
        errors[blocks.ActionIds.DESCRIPTION] = "Say what needs to happen."
    elif len(text) > blocks.DESCRIPTION_MAX:
        errors[blocks.ActionIds.DESCRIPTION] = f"Please keep it under {blocks.DESCRIPTION_MAX} characters."
    else:
        problem = free_text_problem(text, "What needs to happen", today)
        if problem:
            errors[blocks.ActionIds.DESCRIPTION] = problem
    if errors:
        raise InvalidInput({str(k): v for k, v in errors.items()})
    assert owner_person is not None
    creator = _person(session, created_by, active_only=False)
    action = Action(
        source_kind=source_kind, source_id=source_id, service_id=service_id, quarter=quarter,
        owner_id=owner_person.id, owner=owner_person, created_by_id=creator.id if creator else None,
        description=text, due_on=due_on, status=status, created_at=now,
    )
    session.add(action)
    session.flush()
    record(session, created_by or "system", "create", ENTITY, action.id, source_kind=source_kind,
           source_id=source_id, status=status, owner=owner, due_on=due_on.isoformat())
    if status == OPEN and notify:
        _notify_assigned(session, action)
    return action


def _notify_assigned(session: Session, action: Action) -> bool:
    text, message = blocks.assigned_message(action, source_text(session, action))
    return outbox.enqueue(session, channel=action.owner.slack_id, text=text, blocks=message,
                          dedupe_key=f"action:{action.id}:assigned")


def publish_drafts(session: Session, *, source_kind: str, source_id: int) -> list[Action]:
    """The record was submitted: its drafted actions go live and each owner is told."""
    drafts = list(session.scalars(
        select(Action).options(joinedload(Action.owner))
        .where(Action.source_kind == source_kind, Action.source_id == source_id, Action.status == DRAFT)
        .order_by(Action.due_on, Action.id)
    ))
    for action in drafts:
        action.status = OPEN
    session.flush()
    for action in drafts:
        record(session, "system", "publish", ENTITY, action.id, source_kind=source_kind, source_id=source_id)
        _notify_assigned(session, action)
    return drafts


def actions_for(session: Session, *, source_kind: str, source_id: int, include_drafts: bool = True) -> list[Action]:
    statuses = (DRAFT, OPEN, DONE) if include_drafts else (OPEN, DONE)
    return list(session.scalars(
        select(Action).options(joinedload(Action.owner))
        .where(Action.source_kind == source_kind, Action.source_id == source_id, Action.status.in_(statuses))
        .order_by(Action.due_on, Action.id)
    ))


def _get(session: Session, action_id: int) -> Action:
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound("I can't find that action any more: it may have been removed.")
    return action


def delete_draft(session: Session, action_id: int, actor: str) -> None:
    """Only the person drafting the record may remove one of its drafted actions."""
    action = _get(session, action_id)
    if action.status != DRAFT:
        raise Conflict("That action has already been shared with its owner, so it can't be removed.")
    creator = session.get(Person, action.created_by_id) if action.created_by_id else None
    if creator is None or creator.slack_id != actor:
        raise NotPermitted("Only the person who drafted this action can remove it.")
    record(session, actor, "delete", ENTITY, action.id, source_kind=action.source_kind, source_id=action.source_id)
    session.delete(action)
    session.flush()


# ---------------------------------------------------------------------------------------------
# done


def mark_done(session: Session, action_id: int, actor: str) -> Action:
    """Mark an action done; a second press (or a double click) changes nothing and sends nothing."""
    action = _get(session, action_id)
    if action.status == DRAFT:
        raise Conflict("That action is still a draft: it goes live when its record is submitted.")
    if not may_mark_done(session, action, actor):
        raise NotPermitted(
            f"Sorry, only <@{action.owner.slack_id}>, their team manager or a QMF admin can mark this "
            "action done. Nothing was changed."
        )
    if action.status == DONE:
        return action
    now = _now(session)
    # A conditional update, so two presses at once still mark it done (and tell the creator) once.
    changed = session.execute(
        update(Action).where(Action.id == action.id, Action.status == OPEN).values(status=DONE, done_at=now)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(action)
    if not changed:
        return action
    record(session, actor, "done", ENTITY, action.id)
    creator = session.get(Person, action.created_by_id) if action.created_by_id else None
    if creator is not None and creator.active and creator.slack_id != actor:
        text, message = blocks.done_for_creator_message(action, source_text(session, action), actor)
        outbox.enqueue(session, channel=creator.slack_id, text=text, blocks=message,
                       dedupe_key=f"action:{action.id}:done")
    return action


def done_by(session: Session, action: Action) -> str | None:
    """Who first marked it done (kept in the audit log, which already records every edit)."""
    return session.scalar(
        select(AuditLogEntry.actor)
        .where(AuditLogEntry.entity == ENTITY, AuditLogEntry.entity_id == str(action.id),
               AuditLogEntry.action == "done")
        .order_by(AuditLogEntry.id).limit(1)
    )


def done_on(session: Session, action: Action) -> date | None:
    return _local_date(session, action.done_at) if action.done_at else None


# ---------------------------------------------------------------------------------------------
# reading


def open_actions(session: Session, owner: str) -> list[Action]:
    return list(session.scalars(
        select(Action).join(Person, Person.id == Action.owner_id).options(joinedload(Action.owner))
        .where(Person.slack_id == owner, Action.status == OPEN)
        .order_by(Action.due_on, Action.id)
    ))


def action_counts(session: Session, *, today: date, service_id: int | None = None, quarter: str | None = None,
                  source_kinds: Collection[str] | None = None) -> dict[str, int]:
    """Open, done and overdue actions, counted by the database (drafts are not counted).

    "overdue" is the part of "open" whose due date has passed, so open >= overdue.
    """
    is_open = Action.status == OPEN
    query = select(
        func.coalesce(func.sum(case((is_open, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Action.status == DONE, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(is_open, Action.due_on < today), 1), else_=0)), 0),
    ).where(Action.status.in_((OPEN, DONE)))
    if service_id is not None:
        query = query.where(Action.service_id == service_id)
    if quarter is not None:
        query = query.where(Action.quarter == quarter)
    if source_kinds is not None:
        query = query.where(Action.source_kind.in_(list(source_kinds)))
    opened, done, overdue = session.execute(query).one()
    return {"open": int(opened), "done": int(done), "overdue": int(overdue)}


def action_counts_by_source(session: Session, *, today: date, source_kind: str,
                            source_ids: Collection[int] | None = None) -> dict[int, dict[str, int]]:
    """The same counts per record (one GROUP BY), e.g. the state of each learning visit's action plan.

    Records with no open or done actions are absent from the result.
    """
    is_open = Action.status == OPEN
    query = (
        select(
            Action.source_id,
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((Action.status == DONE, 1), else_=0)),
            func.sum(case((and_(is_open, Action.due_on < today), 1), else_=0)),
        )
        .where(Action.source_kind == source_kind, Action.status.in_((OPEN, DONE)))
        .group_by(Action.source_id)
    )
    if source_ids is not None:
        query = query.where(Action.source_id.in_(list(source_ids)))
    return {
        int(source_id): {"open": int(opened), "done": int(done), "overdue": int(overdue)}
        for source_id, opened, done, overdue in session.execute(query)
    }


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """The person's open actions for App Home, each with the same "Mark done" as the DMs."""
    out: list[Todo] = []
    for action in open_actions(session, slack_id):
        when = blocks.day_label(action.due_on)
        state = f":warning: overdue since {when}" if action.due_on < today else f"due {when}"
        text = f"*Action* {source_text(session, action)}, {state}: {' '.join(action.description.split())}"
        out.append(Todo(due=action.due_on, kind="action", text=text[:2900], button_label="Mark done",
                        action_id=blocks.ActionIds.MARK_DONE.value, value=str(action.id)))
    return out


# ---------------------------------------------------------------------------------------------
# reminders and escalation (called by the send-reminders job, schedules/reminders.py)


def _escalation_target(session: Session, owner: Person, creator: Person | None, today: date
                       ) -> tuple[Person, str] | None:
    """The nearest available manager: the team manager, else up the line if they are away.

    An action whose owner has no manager in the directory goes back to whoever created it.
    """
    seen = {owner.id}
    level = direct_managers(session, owner)
    for _ in range(3):
        for manager in level:
            if manager.id not in seen and is_available(manager, today):
                role = _manager_role(session, manager, owner)
                return manager, role
        seen |= {m.id for m in level}
        level = _unique([m for p in level for m in direct_managers(session, p) if m.id not in seen])
        if not level:
            break
    if creator is not None and creator.id != owner.id and is_available(creator, today):
        return creator, "the person who added it (no manager of theirs is available)"
    return None


def send_action_reminders(ctx: JobContext) -> str:
    """Remind owners before and on the due date, and tell a manager once when an action is overdue.

    Windows rather than single days, so a day the job did not run (or the owner was away) is
    caught up the next working day without anything being sent twice (the dedupe keys).
    """
    session, calendar, today = ctx.session, ctx.calendar, ctx.today
    if not calendar.is_working_day(today):
        return f"actions: {today.isoformat()} is not a working day; nobody prompted."
    before_days = ctx.policy.action_reminder_working_days_before
    horizon = calendar.add_working_days(today, max(before_days, 1))
    candidates = list(session.scalars(
        select(Action).options(joinedload(Action.owner))
        .where(Action.status == OPEN, Action.due_on <= horizon,
               or_(Action.due_on >= today, Action.escalated_at.is_(None)))
        .order_by(Action.due_on, Action.id)
    ))
    counts = {"before": 0, "due": 0, "escalated": 0, "away": 0, "nobody": 0}
    now = ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=UTC)
    for action in candidates:
        owner = action.owner
        due = action.due_on
        created = calendar.today(action.created_at) if action.created_at else today
        if due < today:
            creator = session.get(Person, action.created_by_id) if action.created_by_id else None
            target = _escalation_target(session, owner, creator, today)
            if target is None:
                counts["nobody"] += 1
                continue
            manager, role = target
            text, message = blocks.escalation_message(action, source_text(session, action), owner.slack_id, role)
            sent = outbox.enqueue(session, channel=manager.slack_id, text=text, blocks=message,
                                  dedupe_key=f"action:{action.id}:escalation")
            action.escalated_at = now
            if sent:
                counts["escalated"] += 1
                record(session, "system", "escalate", ENTITY, action.id, to=manager.slack_id)
            continue
        due_day = calendar.previous_working_day(due)  # a due date on a holiday is reminded the day before
        if today >= due_day:
            kind, left = "due", 0
        elif before_days > 0 and today >= calendar.add_working_days(due, -before_days):
            kind, left = "before", calendar.working_days_between(today, due_day)
        else:
            continue
        if created >= today:
            continue  # told today already, by the assignment DM
        if not is_available(owner, today):
            counts["away"] += 1
            continue
        text, message = blocks.reminder_message(action, source_text(session, action), left)
        if outbox.enqueue(session, channel=owner.slack_id, text=text, blocks=message,
                          dedupe_key=f"action:{action.id}:{owner.slack_id}:reminder-{kind}"):
            counts[kind] += 1
    parts = [f"{counts['before']} reminder(s) before due", f"{counts['due']} due today",
             f"{counts['escalated']} overdue escalated"]
    if counts["away"]:
        parts.append(f"{counts['away']} owner(s) away, not prompted")
    if counts["nobody"]:
        parts.append(f"{counts['nobody']} overdue with nobody available to tell")
    return "actions: " + ", ".join(parts)
