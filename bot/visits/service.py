"""Learning visits: commission, the visitors' preparation, and the lead reviewer's feedback and
improvement plan, which goes back to the service that was observed (its Service Manager, the team
managers of the teams observed and, with no names, its channel) and is queued for the next
Continuous Improvement Board (``bot.cib``).

Permissions (re-checked on the server for every submission and click): members of the visited
service's Divisional Leadership Team commission; visitors must be independent of the service
(``bot.core.independence``); the lead reviewer (or the commissioner) records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.actions import service as action_plans
from bot.cib import service as board
from bot.cib.messages import nice_date
from bot.cib.types import VISIT
from bot.core import outbox
from bot.core.amendments import amendable_until, changed_fields, refuse_after_window
from bot.core.audit import record
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.council import calendar_of, policy_of
from bot.core.directory import Who, people_with_role, service_by_key, who
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.formatting import date_only
from bot.core.independence import Tie, conflicts, service_subject, ties_of
from bot.core.policy import Policy
from bot.core.privacy import outbound
from bot.core.roles import Role
from bot.core.todo import Todo
from bot.visits import messages as blocks
from bot.visits.types import ACTIVITIES, PlanAction, VisitFeedback, VisitIds, VisitInput, VisitPlan
from storage.models import Action, OutboxMessage, Person, Service, Team
from storage.models.commissions import CibItem, LearningVisit, LearningVisitVisitor

VISIT_REFUSAL = ("Only members of a Divisional Leadership Team can commission a learning visit (the framework "
                 "asks the visited service's DLT to commission it). Nothing was changed.")


def can_commission_visit(me: Who) -> bool:
    return me.known and me.has(Role.DLT)


def commissionable_services(session: Session, me: Who) -> list[Service]:
    """The services in the divisions whose leadership team the person is on."""
    division_ids = {d.id for d in me.divisions_led}
    if not division_ids:
        return []
    return list(session.scalars(select(Service).where(Service.active, Service.division_id.in_(division_ids))
                                .order_by(Service.position, Service.id)))


def person_label(person: Person) -> str:
    """How an inline error names a visitor: Slack shows it as plain text, where a mention is a raw id,
    so by their directory name, or else by where they stand ("one of the visitors you chose")."""
    return person.display_name or "One of the visitors you chose"


def independence_problem(session: Session, service: Service, person: Person) -> str | None:
    """Why this person is not independent of the service, or None: the independence rule
    (``bot.core.independence``), in the words of the visit modal."""
    ties = ties_of(session, [person])[person.slack_id]
    found = conflicts(ties, service_subject(session, service))
    if not found:
        return None
    first = found[0]
    name = person_label(person)
    tail = "so can't be a visitor: visitors must be independent of the service."
    if first.tie is Tie.MANAGES_SERVICE:
        return f"{name} is the Service Manager of {service.name}, {tail}"
    team = session.scalar(select(Team.name).where(Team.key == first.key)) or first.key
    if first.tie is Tie.MANAGES_TEAM:
        return f"{name} is the Team Manager of {team} in {service.name}, {tail}"
    return f"{name} is a practitioner in {team} ({service.name}), {tail}"


def visit_plan(visit: LearningVisit) -> VisitPlan:
    return VisitPlan(
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
    ids = VisitIds
    labels = blocks.VISIT_LABELS
    check = board.check_text
    me = who(session, actor)
    if not can_commission_visit(me):
        raise NotPermitted(VISIT_REFUSAL)
    commissioner = board.acting_person(session, actor)
    errors: dict[str, str] = {}
    service = service_by_key(session, data.service_key or "")
    if service is None:
        errors[ids.VISIT_SERVICE] = "Choose the service to visit."
    elif service.division_id not in {d.id for d in me.divisions_led}:
        errors[ids.VISIT_SERVICE] = (f"You are not on the leadership team of {service.division.name}, which "
                                     f"{service.name} is in: ask one of its DLT members to commission this visit.")
    need = check(errors, ids.VISIT_NEED, data.need_or_risk, labels[ids.VISIT_NEED], today, policy=policy)
    prep = check(errors, ids.VISIT_PREP, data.preparation_notes, labels[ids.VISIT_PREP], today)
    performance = check(errors, ids.VISIT_PERFORMANCE, data.performance_info, labels[ids.VISIT_PERFORMANCE],
                        today, required=False)
    visit_on = data.visit_on
    if visit_on is None:
        errors[ids.VISIT_DATE] = "Choose the date of the visit."
    elif visit_on < today:
        errors[ids.VISIT_DATE] = "That date has passed: choose the day of the visit."
    elif not calendar.is_working_day(visit_on):
        errors[ids.VISIT_DATE] = f"{nice_date(visit_on)} is not a working day."
    visitors: list[Person] = []
    problems: list[str] = []
    for slack_id in dict.fromkeys(data.visitors):
        person = board.active_person(session, slack_id)
        if person is None:
            problems.append("One of the people you chose is not in the QMF directory, so can't be a visitor: "
                            "choose someone who is, or ask a QMF admin to add them.")
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
    lead = board.active_person(session, data.lead_reviewer)
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
        board.dm(session, person.slack_id,
                 blocks.visit_preparation_message(plan, lead=person.id == lead.id, reader=person.slack_id),
                 f"visit:{visit.id}:prep:{person.slack_id}")
    for slack_id in people_with_role(session, Role.QUALITY_IMPROVEMENT):
        board.dm(session, slack_id, blocks.visit_support_message(plan, slack_id), f"visit:{visit.id}:support:{slack_id}")
    board.dm(session, actor, blocks.visit_commissioned_message(plan, warning), f"visit:{visit.id}:commissioned")
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
                       f"{date_only(visit.recorded_on or today)}.")
    if today < visit.visit_on:
        raise Conflict(f"The visit is on {nice_date(visit.visit_on)}: record the feedback and plan from "
                       f"that day.")
    return visit


def plan_actions(session: Session, visit: LearningVisit, *, drafts_only: bool = False) -> list[Action]:
    found = action_plans.actions_for(session, source_kind=VISIT, source_id=visit.id, include_drafts=True)
    return [a for a in found if a.status == "draft"] if drafts_only else found


def plan_lines(found: Sequence[Action]) -> list[PlanAction]:
    return [PlanAction(owner=a.owner.slack_id, due_on=a.due_on, description=a.description) for a in found]


def add_visit_action(session: Session, *, actor: str, visit_id: int, owner: str, description: str, due_on: date,
                     today: date, policy: Policy) -> Action:
    """A drafted action of the visit's plan: its owner is told only when the plan is sent."""
    visit = visit_record_form(session, actor=actor, visit_id=visit_id, today=today)
    quarter = Quarter.containing(today, policy.year_start_month).key
    return action_plans.add_action(session, source_kind=VISIT, source_id=visit.id, owner=owner,
                                   description=description, due_on=due_on, created_by=actor,
                                   service_id=visit.service_id, quarter=quarter, status="draft", today=today)


def service_teams(session: Session, visit: LearningVisit) -> list[Team]:
    """The visited service's active teams, in the directory's order: the teams a visit can observe."""
    return list(session.scalars(select(Team).where(Team.service_id == visit.service_id, Team.active)
                                .order_by(Team.position, Team.id)))


def record_visit(session: Session, *, actor: str, visit_id: int, feedback: str | None, plan_summary: str | None,
                 today: date, now: datetime, policy: Policy, teams: Sequence[str] = ()
                 ) -> tuple[LearningVisit, CibItem, list[Action]]:
    """The lead reviewer's direct feedback and the improvement plan: the plan's actions go live, the
    feedback reaches the service (``tell_the_service``), and the plan is queued for the next CIB meeting.

    ``teams`` are the keys of the teams observed; none chosen means the visit saw every team."""
    ids = VisitIds
    labels = blocks.VISIT_LABELS
    visit = visit_record_form(session, actor=actor, visit_id=visit_id, today=today)
    errors: dict[str, str] = {}
    said = board.check_text(errors, ids.VISIT_FEEDBACK, feedback, labels[ids.VISIT_FEEDBACK], today, policy=policy)
    summary = board.check_text(errors, ids.VISIT_PLAN, plan_summary, labels[ids.VISIT_PLAN], today, required=False,
                               policy=policy)
    known = service_teams(session, visit)
    observed = [t for t in known if t.key in set(teams)] or known
    if any(key not in {t.key for t in known} for key in teams):
        errors[ids.VISIT_TEAMS] = f"Choose teams of {visit.service.name}, or leave it empty for every team."
    if not plan_actions(session, visit):
        errors.setdefault(ids.VISIT_PLAN, f"The improvement plan needs at least one action with an owner and a due "
                                          f"date: press \"{blocks.ADD_ACTION_LABEL}\".")
    if errors:
        raise InvalidInput(errors)
    me = board.acting_person(session, actor)
    action_plans.publish_drafts(session, source_kind=VISIT, source_id=visit.id)
    visit.feedback = said
    visit.plan_summary = summary
    visit.status = "recorded"
    visit.recorded_by_id = me.id
    visit.recorded_on = today
    visit.recorded_at = now
    meeting = board.open_meeting(session, today)
    item = board.queue_for_cib(session, source_kind=VISIT, source_id=visit.id,
                               title=f"Learning visit: {visit.service.name} ({date_only(visit.visit_on)})",
                               meeting=meeting, queued_by=me, now=now)
    found = plan_actions(session, visit)
    record(session, actor, "record", VISIT, visit.id, actions=len(found), cib_item=item.id,
           meeting=meeting.meets_on.isoformat() if meeting else None, teams=[t.key for t in observed])
    told, posted = tell_the_service(session, visit, actor=actor, teams=observed, policy=policy, found=VisitFeedback(
        feedback=said or "", plan_summary=summary, actions=tuple(plan_lines(found)),
        teams=tuple(t.name for t in observed) if len(observed) < len(known) else (),
        meeting_on=meeting.meets_on if meeting else None))
    until = amendable_until(calendar_of(session), now, policy.amend_window_working_days)
    board.dm(session, actor, blocks.visit_recorded_message(visit_plan(visit), len(found),
                                                           meeting.meets_on if meeting else None, reader=actor,
                                                           told=told, posted=posted, amend_until=until),
             f"visit:{visit.id}:recorded")
    return visit, item, found


def tell_the_service(session: Session, visit: LearningVisit, *, actor: str, teams: Sequence[Team],
                     found: VisitFeedback, policy: Policy) -> tuple[list[str], bool]:
    """The feedback reaches the people who learn from it: one DM each to the Service Manager, the team
    managers of the teams observed and the commissioner (a person in two of those parts gets one), and
    a post to the service's channel with no names and no case references, every text through the
    outbound gate. Returns (who was sent a DM, whether the channel post went)."""
    plan = visit_plan(visit)
    roles: dict[str, dict[str, list[str]]] = {}
    sm = visit.service.service_manager
    if sm.active:
        roles.setdefault(sm.slack_id, {}).setdefault("service", [])
    for team in teams:
        if team.team_manager.active:
            roles.setdefault(team.team_manager.slack_id, {}).setdefault("teams", []).append(team.name)
    roles.setdefault(visit.commissioned_by.slack_id, {})
    told = [slack_id for slack_id in roles if slack_id != actor]
    for slack_id in told:
        parts = roles[slack_id]
        board.dm(session, slack_id, blocks.visit_feedback_message(
            plan, found, reader=slack_id, service_manager="service" in parts, teams_managed=parts.get("teams", ())),
            f"visit:{visit.id}:feedback:{slack_id}")
    channel = visit.service.channel
    if channel:
        shared = VisitFeedback(
            feedback=outbound(found.feedback, policy),
            plan_summary=outbound(found.plan_summary, policy) if found.plan_summary else None,
            actions=tuple(PlanAction(owner="", due_on=a.due_on, description=outbound(a.description, policy))
                          for a in found.actions),
            teams=found.teams, meeting_on=found.meeting_on)
        outbox.enqueue(session, channel=channel, dedupe_key=f"visit:{visit.id}:service-post",
                       **_post(blocks.visit_service_post(plan, shared)))
    return told, bool(channel)


# ---------------------------------------------------------------------------------------------
# amending the recorded feedback (issue 16 item 4)

_AMENDABLE = {"feedback": VisitIds.VISIT_FEEDBACK, "plan_summary": VisitIds.VISIT_PLAN}


def _may_amend_visit(session: Session, visit: LearningVisit, slack_id: str) -> bool:
    """The author: whoever recorded it (the lead reviewer or the commissioner)."""
    if visit.recorded_by_id is not None:
        return session.scalar(select(Person.slack_id).where(Person.id == visit.recorded_by_id)) == slack_id
    return _may_record_visit(visit, slack_id)


def visit_amend_form(session: Session, *, actor: str, visit_id: int, calendar: WorkingCalendar, policy: Policy,
                     now: datetime) -> LearningVisit:
    """The recorded visit, for its author while the council's amendment window is open."""
    visit = get_visit(session, visit_id)
    if not _may_amend_visit(session, visit, actor):
        raise NotPermitted("Sorry, only the person who recorded this visit's feedback can amend it. Nothing was "
                           "changed.")
    if visit.status != "recorded":
        raise Conflict("This visit's feedback is not recorded yet: press *Record visit feedback* first.")
    refuse_after_window(calendar, visit.recorded_at, policy.amend_window_working_days, now,
                        "the feedback from this learning visit")
    return visit


def amend_modal(session: Session, *, actor: str, visit_id: int, calendar: WorkingCalendar, policy: Policy,
                now: datetime) -> Any:
    visit = visit_amend_form(session, actor=actor, visit_id=visit_id, calendar=calendar, policy=policy, now=now)
    assert visit.recorded_at is not None
    record(session, actor, "view", VISIT, visit.id, purpose="amend")
    return blocks.visit_amend_modal(plan=visit_plan(visit), feedback=visit.feedback, plan_summary=visit.plan_summary,
                                    amend_until=amendable_until(calendar, visit.recorded_at,
                                                                policy.amend_window_working_days),
                                    amended_on=calendar.today(visit.amended_at) if visit.amended_at else None)


def feedback_recipients(session: Session, visit: LearningVisit) -> list[str]:
    """Who was sent the feedback when it was recorded (``tell_the_service``'s DMs), from the outbox."""
    prefix = f"visit:{visit.id}:feedback:"
    keys = session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(f"{prefix}%"))
                           .order_by(OutboxMessage.id))
    return list(dict.fromkeys(str(k)[len(prefix):] for k in keys if k))


def amend_visit(session: Session, *, actor: str, visit_id: int, feedback: str | None, plan_summary: str | None,
                calendar: WorkingCalendar, policy: Policy, now: datetime) -> list[str]:
    """Store an amendment of the recorded feedback: the fields changed ([] when nothing was).

    The same checks as recording; the previous values go to the audit log (action "amend"); the people
    who received the feedback are told what changed, with the new words through the outbound gate. The
    service's channel is not posted to again."""
    visit = visit_amend_form(session, actor=actor, visit_id=visit_id, calendar=calendar, policy=policy, now=now)
    today = calendar.today(now)
    labels = blocks.VISIT_LABELS
    errors: dict[str, str] = {}
    said = board.check_text(errors, VisitIds.VISIT_FEEDBACK, feedback, labels[VisitIds.VISIT_FEEDBACK], today,
                            policy=policy)
    summary = board.check_text(errors, VisitIds.VISIT_PLAN, plan_summary, labels[VisitIds.VISIT_PLAN], today,
                               required=False, policy=policy)
    if errors:
        raise InvalidInput(errors)
    before = {"feedback": visit.feedback, "plan_summary": visit.plan_summary}
    after = {"feedback": said, "plan_summary": summary}
    changed = changed_fields(before, after)
    if not changed:
        return []
    visit.feedback, visit.plan_summary = said, summary
    visit.amended_at = now
    record(session, actor, "amend", VISIT, visit.id, fields=changed, previous={k: before[k] for k in changed})
    texts = [(labels[_AMENDABLE[k]], outbound(after[k], policy) if after[k] else "") for k in changed]
    plan = visit_plan(visit)
    for slack_id in feedback_recipients(session, visit):
        if slack_id == actor:
            continue
        board.dm(session, slack_id, blocks.visit_amended_message(plan, author=actor, reader=slack_id, changed=texts),
                 f"visit:{visit.id}:amended:{now.isoformat()}:{slack_id}")
    return changed


def _post(message: tuple[str, list[Any]]) -> dict[str, Any]:
    text, body = message
    return {"text": text, "blocks": body}


# ---------------------------------------------------------------------------------------------
# App Home, and where an action came from


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """Visits the person led that are over and still to be written up."""
    me = board.active_person(session, slack_id)
    if me is None:
        return []
    visits = session.scalars(select(LearningVisit).where(LearningVisit.lead_reviewer_id == me.id,
                                                         LearningVisit.status == "planned",
                                                         LearningVisit.visit_on <= today))
    todos = [Todo(due=visit.visit_on, kind="learning_visit",
                  text=f"*Learning visit* to {visit.service.name}: record the feedback and action plan",
                  button_label=blocks.RECORD_VISIT_LABEL, action_id=VisitIds.RECORD_VISIT.value,
                  value=str(visit.id))
             for visit in visits]
    recorded = session.scalars(select(LearningVisit).where(LearningVisit.recorded_by_id == me.id,
                                                           LearningVisit.status == "recorded",
                                                           LearningVisit.recorded_at.is_not(None)))
    calendar, window = calendar_of(session), policy_of(session).amend_window_working_days
    for visit in recorded:
        assert visit.recorded_at is not None
        until = amendable_until(calendar, visit.recorded_at, window)
        if today <= until:
            todos.append(Todo(due=until, kind="amend",
                              text=f"Recorded feedback from the *learning visit* to {visit.service.name}: you can "
                                   f"amend it until {nice_date(until)}",
                              button_label=blocks.AMEND_LABEL, action_id=VisitIds.AMEND_VISIT.value,
                              value=str(visit.id)))
    return todos
