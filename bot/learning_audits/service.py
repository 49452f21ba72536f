"""Learning audits once the proposals close: independent allocation, the notifications, the case
holder's reflection, the auditor's record, the individual feedback, reminders and to-dos.

The framework asks for two things that shape this module. Auditors must be *entirely independent*
of their cases, so who is independent of what is read from the directory here and the choice is
left to the pure solver in ``bot.learning_audits.allocation``. And the process is for learning, not performance
management, so nothing here grades anything, and what goes to a channel never carries a case
reference (those stay in DMs to the people concerned).

Every permission is checked here, on the server, from the database: a button's value or a
modal's private_metadata only says *which* audit, never *who may*.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from bot.core import audit as audit_log
from bot.core import directory, outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem
from bot.core.todo import Todo
from bot.learning_audits import messages as blocks
from bot.learning_audits.allocation import AllocationPlan, Auditor, Candidate, allocate
from bot.learning_audits.messages import AuditField, CaseCard, DraftAction, Learning, ReflectionField
from schedules.jobs import JobContext, NotDue, job
from storage.models import (
    LearningAudit,
    LearningRound,
    Person,
    Proposal,
    Reflection,
    Service,
    Team,
    TeamMember,
    ThemeTag,
    utcnow,
)

if TYPE_CHECKING:
    from slack_sdk.models.views import View

SOURCE_KIND = "learning_audit"
JOB_ACTOR = "qmf-bot:allocate-learning-audits"
SEED_BITS = 31


# ---------------------------------------------------------------------------------------------
# small shared helpers


def _actions() -> ModuleType | None:
    """The action-plan module, if it is installed: the audit records actions through it."""
    try:
        from bot.actions import service as actions
    except ImportError:
        return None
    return actions


def quarter_label(key: str, policy: Policy) -> str:
    try:
        return Quarter.parse(key, policy.year_start_month).label
    except ValueError:
        return key


def case_card(audit: LearningAudit, policy: Policy) -> CaseCard:
    return CaseCard(
        audit_id=audit.id,
        case_ref=audit.case_ref,
        quarter_label=quarter_label(audit.quarter, policy),
        service_name=audit.service.name,
        team_name=audit.team.name,
        auditor=audit.auditor.slack_id,
        case_holder=audit.case_holder.slack_id,
        team_manager=audit.team_manager.slack_id,
        due_on=audit.due_on,
    )


def _get_audit(session: Session, audit_id: int) -> LearningAudit:
    found = session.get(LearningAudit, audit_id)
    if found is None:
        raise NotFound("Sorry, I can't find that learning audit. It may have been removed.")
    return found


def audit_for_auditor(session: Session, audit_id: int, actor: str) -> LearningAudit:
    """The audit, if ``actor`` is the Service Manager allocated to it."""
    found = _get_audit(session, audit_id)
    if found.auditor.slack_id != actor:
        raise NotPermitted(
            "Sorry, only the Service Manager allocated to this learning audit can do that. If you think "
            "it should be yours, ask the Quality & Improvement team."
        )
    return found


def audit_for_case_holder(session: Session, audit_id: int, actor: str) -> LearningAudit:
    """The audit, if ``actor`` holds its case: only they may write its reflection."""
    found = _get_audit(session, audit_id)
    if found.case_holder.slack_id != actor:
        raise NotPermitted(
            "Sorry, only the case holder for this learning audit can open or save its reflection. If you "
            "think it should be yours, ask the Quality & Improvement team."
        )
    return found


def _refuse_if_recorded(found: LearningAudit, calendar: WorkingCalendar | None = None) -> None:
    if found.status == "recorded":
        raise Conflict(
            f"This learning audit was already recorded{_on(found, calendar)}; nothing was changed."
        )


def _on(found: LearningAudit, calendar: WorkingCalendar | None) -> str:
    if found.recorded_at is None:
        return ""
    day = calendar.today(found.recorded_at) if calendar else found.recorded_at.date()
    return f" on {blocks.nice_date(day)}"


def _check_text(
    errors: dict[str, str], block_id: str, label: str, text: str, today: date, *, required: bool
) -> None:
    if not text.strip():
        if required:
            errors[block_id] = f"Please answer “{label.rstrip('?')}”."
        return
    problem = free_text_problem(text, label, today)
    if problem:
        errors[block_id] = problem


def _check_themes(errors: dict[str, str], block_id: str, chosen: Sequence[str], policy: Policy) -> list[str]:
    unknown = [t for t in chosen if t not in policy.learning_themes]
    if unknown:
        errors[block_id] = "Choose themes from the council's list."
    return [t for t in dict.fromkeys(chosen) if t in policy.learning_themes]


# ---------------------------------------------------------------------------------------------
# step 4: who could audit what, from the directory


def build_auditors(session: Session, quarter: Quarter, *, away: Sequence[str] = ()) -> list[Auditor]:
    """Every active Service Manager, with the services and teams they are not independent of,
    except those in ``away`` (Slack ids).

    A Service Manager who also manages or belongs to a team elsewhere is not independent of that
    team; last quarter's services are a preference the solver weighs, not a rule.
    """
    managed: dict[int, set[str]] = defaultdict(set)
    for person_id, key in session.execute(
        select(Service.service_manager_id, Service.key).where(Service.active)
    ):
        managed[person_id].add(key)
    if not managed:
        return []
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(managed), Person.active))}
    teams: dict[int, set[str]] = defaultdict(set)
    live_team = (Team.active, Service.active)
    for person_id, key in session.execute(
        select(Team.team_manager_id, Team.key).join(Service, Team.service_id == Service.id).where(*live_team)
    ):
        teams[person_id].add(key)
    for person_id, key in session.execute(
        select(TeamMember.person_id, Team.key)
        .join(Team, TeamMember.team_id == Team.id)
        .join(Service, Team.service_id == Service.id)
        .where(*live_team)
    ):
        teams[person_id].add(key)
    last: dict[int, set[str]] = defaultdict(set)
    for person_id, key in session.execute(
        select(LearningAudit.auditor_id, Service.key)
        .join(Service, LearningAudit.service_id == Service.id)
        .where(LearningAudit.quarter == quarter.previous().key)
    ):
        last[person_id].add(key)
    return [
        Auditor(
            person_id=person.slack_id,
            service_keys=frozenset(managed[person.id]),
            team_keys=frozenset(teams.get(person.id, ())),
            last_quarter_service_keys=frozenset(last.get(person.id, ())),
        )
        for person in sorted(people.values(), key=lambda p: p.slack_id)
        if person.slack_id not in away
    ]


def away_through(session: Session, until: date) -> dict[str, str]:
    """Active Service Managers marked away until ``until`` or later (Slack id -> why they are left
    out): they could not audit before the audits are due, so allocating them cases would only
    leave those cases undone."""
    rows = session.scalars(
        select(Person)
        .join(Service, Service.service_manager_id == Person.id)
        .where(Service.active, Person.active, Person.away_until >= until)
    ).unique()
    return {
        p.slack_id: (f"marked away until {blocks.nice_date(p.away_until)}, past the audits' due date "
                     f"of {blocks.nice_date(until)}: not allocated this quarter")
        for p in rows if p.away_until is not None
    }


def live_proposals(session: Session, quarter: Quarter) -> list[Proposal]:
    """The quarter's proposals still waiting for allocation (not withdrawn, not yet decided)."""
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.quarter == quarter.key, Proposal.status == "proposed")
            .options(
                selectinload(Proposal.service),
                selectinload(Proposal.team),
                selectinload(Proposal.case_holder),
                selectinload(Proposal.team_manager),
                selectinload(Proposal.proposed_by),
            )
            .order_by(Proposal.id)
        )
    )


def candidate_for(proposal: Proposal) -> Candidate:
    return Candidate(
        proposal_id=proposal.id,
        case_ref=proposal.case_ref,
        service_key=proposal.service.key,
        team_key=proposal.team.key,
        proposed_by=proposal.proposed_by.slack_id,
        case_holder=proposal.case_holder.slack_id,
        team_manager=proposal.team_manager.slack_id,
        flagged=proposal.flagged,
    )


def build_candidates(session: Session, quarter: Quarter) -> list[Candidate]:
    return [candidate_for(p) for p in live_proposals(session, quarter)]


# ---------------------------------------------------------------------------------------------
# step 4: the job


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


@dataclass
class AllocationResult:
    plan: AllocationPlan
    audits: list[LearningAudit]
    not_allocated: list[Proposal]

    def summary(self) -> str:
        plan = self.plan
        cases = _plural(len(plan.assignments), "case")
        managers = _plural(len({a.auditor_id for a in plan.assignments}), "Service Manager")
        short = _plural(len(plan.short), "Service Manager")
        return (
            f"{cases} allocated to {managers}; {len(plan.unallocated)} not allocated; "
            f"{short} short of {plan.per_auditor} (seed {plan.seed})."
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@job(
    "allocate-learning-audits",
    description="Allocate each Service Manager their independent learning-audit cases",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 0},
    period=_allocation_period,
)
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
    away = away_through(ctx.session, audits_due(learning_round, ctx.calendar, ctx.policy, ctx.today))
    auditors = build_auditors(ctx.session, quarter, away=list(away))
    plan = allocate(
        auditors,
        [candidate_for(p) for p in proposals],
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
    for learning_audit in result.audits:
        notify_allocation(ctx.session, learning_audit, ctx.policy)
    report_shortfalls(ctx.session, result, quarter=quarter, today=ctx.today)
    return result.summary()


def audits_due(learning_round: LearningRound, calendar: WorkingCalendar, policy: Policy, today: date) -> date:
    """The round's due date, or the audit window counted from allocation day if it has none."""
    return learning_round.audits_due or calendar.add_working_days(today, policy.audit_window_working_days)


def store_allocation(
    session: Session,
    learning_round: LearningRound,
    plan: AllocationPlan,
    proposals: Sequence[Proposal],
    *,
    calendar: WorkingCalendar,
    policy: Policy,
    today: date,
    now: datetime,
) -> AllocationResult:
    """LearningAudit rows for the plan, every live proposal decided, the seed and reasons kept."""
    learning_round.audits_due = audits_due(learning_round, calendar, policy, today)
    by_id = {p.id: p for p in proposals}
    people = {
        p.slack_id: p
        for p in session.scalars(
            select(Person).where(Person.slack_id.in_({a.auditor_id for a in plan.assignments}))
        )
    }
    created: list[LearningAudit] = []
    for assignment in plan.assignments:
        proposal = by_id[assignment.proposal_id]
        learning_audit = LearningAudit(
            quarter=proposal.quarter,
            proposal_id=proposal.id,
            auditor_id=people[assignment.auditor_id].id,
            case_ref=proposal.case_ref,
            service_id=proposal.service_id,
            team_id=proposal.team_id,
            case_holder_id=proposal.case_holder_id,
            team_manager_id=proposal.team_manager_id,
            status="allocated",
            allocated_at=now,
            due_on=learning_round.audits_due,
        )
        session.add(learning_audit)
        proposal.status = "allocated"
        proposal.not_allocated_reason = None
        created.append(learning_audit)
    not_allocated: list[Proposal] = []
    for proposal_id, reason in plan.unallocated.items():
        proposal = by_id[proposal_id]
        proposal.status = "not_allocated"
        proposal.not_allocated_reason = reason
        not_allocated.append(proposal)
    learning_round.allocated_at = now
    learning_round.allocation_seed = plan.seed
    learning_round.allocation_explanation = plan.explain()
    session.flush()
    for learning_audit in created:
        audit_log.record(
            session,
            JOB_ACTOR,
            "create",
            "learning_audit",
            learning_audit.id,
            case_ref=learning_audit.case_ref,
            auditor=learning_audit.auditor.slack_id,
            seed=plan.seed,
        )
    return AllocationResult(plan=plan, audits=created, not_allocated=not_allocated)


def notify_allocation(session: Session, learning_audit: LearningAudit, policy: Policy) -> None:
    """Step 5: the auditor, the case holder and the team manager each hear what is theirs to do."""
    card = case_card(learning_audit, policy)
    key = f"learning-allocated:{learning_audit.quarter}:{learning_audit.proposal_id}"
    text, body = blocks.auditor_message(card)
    outbox.enqueue(session, channel=card.auditor, text=text, blocks=body, dedupe_key=f"{key}:auditor")
    text, body = blocks.case_holder_message(card)
    outbox.enqueue(session, channel=card.case_holder, text=text, blocks=body, dedupe_key=f"{key}:case-holder")
    if card.team_manager != card.case_holder:
        text, body = blocks.team_manager_message(card)
        outbox.enqueue(
            session, channel=card.team_manager, text=text, blocks=body, dedupe_key=f"{key}:team-manager"
        )


def _short_reason(reason: str) -> str:
    """The reason without its parenthesised list of people, for a channel summary."""
    return reason.split(" (", 1)[0]


def report_shortfalls(session: Session, result: AllocationResult, *, quarter: Quarter, today: date) -> None:
    """Tell Q&I about cases left over and SMs short: counts by service in the channel, detail by DM."""
    plan = result.plan
    if not plan.unallocated and not plan.short:
        return
    unallocated: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for proposal in sorted(result.not_allocated, key=lambda p: (p.service.position, p.service.name)):
        unallocated[proposal.service.name][_short_reason(proposal.not_allocated_reason or "")] += 1
    services_of: dict[str, list[str]] = defaultdict(list)
    for service in directory.active_services(session):
        services_of[service.service_manager.slack_id].append(service.name)
    short = [
        (
            " and ".join(services_of.get(person, [])) or "A",
            plan.allocated_counts.get(person, 0),
            _short_reason(reason),
        )
        for person, reason in sorted(plan.short.items())
    ]
    channel = directory.channel_for(session, "quality_improvement")
    if channel:
        text, body = blocks.shortfall_channel_message(
            quarter_label=quarter.label,
            allocated=len(plan.assignments),
            auditors=len({a.auditor_id for a in plan.assignments}),
            unallocated_by_service={k: dict(v) for k, v in unallocated.items()},
            short_by_service=short,
            per_auditor=plan.per_auditor,
        )
        outbox.enqueue(
            session,
            channel=channel,
            text=text,
            blocks=body,
            dedupe_key=f"learning-shortfall:{quarter.key}:channel",
        )
    detail = _shortfall_detail(plan)
    text, body = blocks.shortfall_detail_message(quarter_label=quarter.label, detail=detail)
    for person in _available(session, directory.people_with_role(session, "quality_improvement"), today):
        outbox.enqueue(
            session,
            channel=person,
            text=text,
            blocks=body,
            dedupe_key=f"learning-shortfall:{quarter.key}:{person}",
        )


def _shortfall_detail(plan: AllocationPlan) -> str:
    lines = [f"Seed {plan.seed}; {len(plan.assignments)} allocated.", "", "*Cases not allocated:*"]
    lines += [
        f"- {plan.case_refs.get(pid, '?')}: {reason}" for pid, reason in sorted(plan.unallocated.items())
    ]
    if not plan.unallocated:
        lines.append("(none)")
    lines += ["", f"*Service Managers with fewer than {plan.per_auditor}:*"]
    lines += [
        f"- <@{person}> ({plan.allocated_counts.get(person, 0)} of {plan.per_auditor}): {reason}"
        for person, reason in sorted(plan.short.items())
    ]
    if not plan.short:
        lines.append("(none)")
    return "\n".join(lines)


def _available(session: Session, slack_ids: Sequence[str], today: date) -> list[str]:
    if not slack_ids:
        return []
    people = session.scalars(select(Person).where(Person.slack_id.in_(slack_ids)))
    ok = {p.slack_id for p in people if directory.is_available(p, today)}
    return [s for s in slack_ids if s in ok]


# ---------------------------------------------------------------------------------------------
# step 5: the meeting


def meeting_people(learning_audit: LearningAudit) -> list[str]:
    """The three people who meet (two when the team manager holds the case)."""
    return list(
        dict.fromkeys(
            [
                learning_audit.auditor.slack_id,
                learning_audit.team_manager.slack_id,
                learning_audit.case_holder.slack_id,
            ]
        )
    )


def record_meeting(session: Session, *, audit_id: int, actor: str, channel: str, policy: Policy) -> bool:
    """Remember the group DM and post the meeting's purpose there once; False if already set up."""
    learning_audit = audit_for_auditor(session, audit_id, actor)
    first = learning_audit.meeting_channel is None
    if first:
        learning_audit.meeting_channel = channel
        audit_log.record(session, actor, "edit", "learning_audit", audit_id, meeting_channel=channel)
    text, body = blocks.meeting_message(case_card(learning_audit, policy))
    posted = outbox.enqueue(
        session,
        channel=learning_audit.meeting_channel or channel,
        text=text,
        blocks=body,
        dedupe_key=f"learning-meeting:{audit_id}",
    )
    return first and posted


# ---------------------------------------------------------------------------------------------
# step 6: the reflection


class _Answers(BaseModel):
    """Parsed modal state keyed by block id: empty answers are "" and empty selections []."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            annotation = cls.model_fields[info.field_name].annotation
            return [] if annotation == list[str] else ""
        if isinstance(value, str):
            return value.strip()
        return value


class ReflectionAnswers(_Answers):
    trying_to_achieve: str = Field("", validation_alias=ReflectionField.TRYING.value)
    difference_made: str = Field("", validation_alias=ReflectionField.DIFFERENCE.value)
    child_family_said: str = Field("", validation_alias=ReflectionField.FAMILY_SAID.value)
    do_differently: str = Field("", validation_alias=ReflectionField.DIFFERENTLY.value)
    support_needed: str = Field("", validation_alias=ReflectionField.SUPPORT.value)
    themes: list[str] = Field(default_factory=list, validation_alias=ReflectionField.THEMES.value)


_REFLECTION_TEXT = {
    ReflectionField.TRYING: "trying_to_achieve",
    ReflectionField.DIFFERENCE: "difference_made",
    ReflectionField.FAMILY_SAID: "child_family_said",
    ReflectionField.DIFFERENTLY: "do_differently",
    ReflectionField.SUPPORT: "support_needed",
}


def reflection_answers(reflection: Reflection | None) -> dict[str, Any] | None:
    if reflection is None:
        return None
    out: dict[str, Any] = {key: getattr(reflection, key) for key in _REFLECTION_TEXT.values()}
    out["themes"] = list(reflection.themes or [])
    return out


def save_reflection(
    session: Session, *, audit_id: int, actor: str, answers: ReflectionAnswers, policy: Policy, today: date
) -> tuple[Reflection, bool]:
    """Store (or amend) the case holder's reflection; (reflection, amended)."""
    learning_audit = audit_for_case_holder(session, audit_id, actor)
    if learning_audit.status == "recorded":
        raise NotPermitted(
            f"The learning audit of case {learning_audit.case_ref} has been recorded, "
            "so its reflection can no longer be changed. Nothing was saved."
        )
    answers.themes = themes_from_values_or_same(answers.themes, policy)
    errors: dict[str, str] = {}
    for field_id, key in _REFLECTION_TEXT.items():
        _check_text(
            errors,
            field_id,
            blocks.REFLECTION_LABELS[field_id],
            getattr(answers, key),
            today,
            required=field_id not in blocks.REFLECTION_OPTIONAL,
        )
    themes = _check_themes(errors, ReflectionField.THEMES, answers.themes, policy)
    if errors:
        raise InvalidInput(errors)
    reflection = learning_audit.reflection
    amended = reflection is not None
    old_support = reflection.support_needed if reflection is not None else None
    if reflection is None:
        reflection = Reflection(
            audit_id=learning_audit.id,
            case_holder_id=learning_audit.case_holder_id,
            trying_to_achieve="",
            difference_made="",
            child_family_said="",
            do_differently="",
        )
        session.add(reflection)
        learning_audit.reflection = reflection
    for key in _REFLECTION_TEXT.values():
        setattr(reflection, key, getattr(answers, key))
    reflection.support_needed = answers.support_needed or None
    reflection.themes = themes
    reflection.updated_at = utcnow()
    session.execute(
        delete(ThemeTag).where(ThemeTag.audit_id == learning_audit.id, ThemeTag.source == "reflection")
    )
    for theme in themes:
        session.add(
            ThemeTag(
                quarter=learning_audit.quarter,
                service_id=learning_audit.service_id,
                audit_id=learning_audit.id,
                source="reflection",
                kind="improve",
                theme=theme,
            )
        )
    session.flush()
    audit_log.record(
        session,
        actor,
        "edit" if amended else "create",
        "reflection",
        reflection.id,
        audit_id=learning_audit.id,
    )
    card = case_card(learning_audit, policy)
    # The first save brings the "View or amend reflection" button; amending needs no new message.
    text, body = blocks.reflection_saved_message(card)
    outbox.enqueue(
        session, channel=actor, text=text, blocks=body, dedupe_key=f"learning-reflection:{audit_id}:saved"
    )
    text, body = blocks.reflection_ready_message(card)
    outbox.enqueue(
        session,
        channel=card.auditor,
        text=text,
        blocks=body,
        dedupe_key=f"learning-reflection:{audit_id}:auditor",
    )
    support = reflection.support_needed
    if support and support != old_support and card.team_manager != card.case_holder:
        digest = hashlib.sha256(support.encode()).hexdigest()[:16]
        text, body = blocks.meeting_support_for_team_manager(card, support)
        outbox.enqueue(
            session,
            channel=card.team_manager,
            text=text,
            blocks=body,
            dedupe_key=f"learning-reflection:{audit_id}:support:{digest}",
        )
    return reflection, amended


def themes_from_values_or_same(values: Sequence[str], policy: Policy) -> list[str]:
    return blocks.themes_from_values(values, policy.learning_themes)


# ---------------------------------------------------------------------------------------------
# step 7: the audit record


class AuditAnswers(_Answers):
    outcomes: str = Field("", validation_alias=AuditField.OUTCOMES.value)
    service_user_feedback: str = Field("", validation_alias=AuditField.FEEDBACK.value)
    feedback_source: str = Field("", validation_alias=AuditField.FEEDBACK_SOURCE.value)
    worker_impact: str = Field("", validation_alias=AuditField.WORKER_IMPACT.value)
    needed_to_improve: str = Field("", validation_alias=AuditField.NEEDED.value)
    good_practice: str = Field("", validation_alias=AuditField.GOOD_PRACTICE.value)
    wider_learning: str = Field("", validation_alias=AuditField.WIDER.value)
    improve_themes: list[str] = Field(default_factory=list, validation_alias=AuditField.IMPROVE_THEMES.value)
    good_practice_themes: list[str] = Field(default_factory=list, validation_alias=AuditField.GOOD_THEMES.value)


_AUDIT_TEXT = {
    AuditField.OUTCOMES: "outcomes",
    AuditField.FEEDBACK: "service_user_feedback",
    AuditField.FEEDBACK_SOURCE: "feedback_source",
    AuditField.WORKER_IMPACT: "worker_impact",
    AuditField.NEEDED: "needed_to_improve",
    AuditField.GOOD_PRACTICE: "good_practice",
    AuditField.WIDER: "wider_learning",
}


def drafts_for(session: Session, audit_id: int) -> list[DraftAction]:
    """The audit's actions so far (drafts while it is open), as the modal lists them."""
    actions = _actions()
    if actions is None:
        return []
    rows = actions.actions_for(session, source_kind=SOURCE_KIND, source_id=audit_id, include_drafts=True)
    return [
        DraftAction(id=a.id, owner=a.owner.slack_id, due_on=a.due_on, description=a.description) for a in rows
    ]


def audit_modal_for(
    session: Session,
    *,
    audit_id: int,
    actor: str,
    policy: Policy,
    calendar: WorkingCalendar | None = None,
    values: dict[str, Any] | None = None,
    opening: bool = True,
) -> View:
    """The audit modal for the allocated auditor, with the reflection summary and drafted actions.

    Opening it shows the auditor part of the reflection, so that is logged; a refresh is not.
    """
    learning_audit = audit_for_auditor(session, audit_id, actor)
    _refuse_if_recorded(learning_audit, calendar)
    reflection = reflection_answers(learning_audit.reflection)
    if reflection is not None and opening and learning_audit.reflection is not None:
        audit_log.record(
            session,
            actor,
            "view",
            "reflection",
            learning_audit.reflection.id,
            audit_id=audit_id,
            summary_only=True,
        )
    return blocks.audit_modal(
        card=case_card(learning_audit, policy),
        themes=policy.learning_themes,
        reflection=reflection,
        drafts=drafts_for(session, audit_id),
        values=values,
        actions_available=_actions() is not None,
    )


def add_draft_action(
    session: Session, *, audit_id: int, actor: str, owner: str, due_on: date, description: str, today: date
) -> Any:
    """A draft individual action, sent to its owner only when the audit is recorded."""
    learning_audit = audit_for_auditor(session, audit_id, actor)
    _refuse_if_recorded(learning_audit)
    actions = _actions()
    if actions is None:
        raise Conflict("Actions cannot be added yet.")
    # add_action checks the owner, the date and the words, with the pushed modal's block ids.
    return actions.add_action(
        session,
        source_kind=SOURCE_KIND,
        source_id=learning_audit.id,
        owner=owner,
        description=description,
        due_on=due_on,
        created_by=actor,
        service_id=learning_audit.service_id,
        quarter=learning_audit.quarter,
        status="draft",
        today=today,
    )


def remove_draft_action(session: Session, *, audit_id: int, actor: str, action_id: int) -> None:
    learning_audit = audit_for_auditor(session, audit_id, actor)
    _refuse_if_recorded(learning_audit)
    actions = _actions()
    if actions is None:
        raise NotFound("There is no such action.")
    mine = {a.id for a in actions.actions_for(session, source_kind=SOURCE_KIND, source_id=audit_id)}
    if action_id not in mine:
        raise NotFound("That action is not part of this learning audit.")
    actions.delete_draft(session, action_id, actor)


def record_audit(
    session: Session,
    *,
    audit_id: int,
    actor: str,
    answers: AuditAnswers,
    policy: Policy,
    calendar: WorkingCalendar,
    now: datetime,
) -> LearningAudit:
    """Validate and store the record, its themes and actions, and send the individual feedback."""
    learning_audit = audit_for_auditor(session, audit_id, actor)
    _refuse_if_recorded(learning_audit, calendar)
    today = calendar.today(now)
    answers.improve_themes = themes_from_values_or_same(answers.improve_themes, policy)
    answers.good_practice_themes = themes_from_values_or_same(answers.good_practice_themes, policy)
    errors: dict[str, str] = {}
    for field_id, key in _AUDIT_TEXT.items():
        _check_text(
            errors,
            field_id,
            blocks.AUDIT_LABELS[field_id],
            getattr(answers, key),
            today,
            required=field_id not in blocks.AUDIT_OPTIONAL,
        )
    improve = _check_themes(errors, AuditField.IMPROVE_THEMES, answers.improve_themes, policy)
    good = _check_themes(errors, AuditField.GOOD_THEMES, answers.good_practice_themes, policy)
    if errors:
        raise InvalidInput(errors)
    for key in _AUDIT_TEXT.values():
        setattr(learning_audit, key, getattr(answers, key) or None)
    learning_audit.improve_themes = improve
    learning_audit.good_practice_themes = good
    learning_audit.status = "recorded"
    learning_audit.recorded_at = now
    session.execute(
        delete(ThemeTag).where(ThemeTag.audit_id == learning_audit.id, ThemeTag.source == "audit")
    )
    for kind, chosen in (("improve", improve), ("good", good)):
        for theme in chosen:
            session.add(
                ThemeTag(
                    quarter=learning_audit.quarter,
                    service_id=learning_audit.service_id,
                    audit_id=learning_audit.id,
                    source="audit",
                    kind=kind,
                    theme=theme,
                )
            )
    actions = _actions()
    published = []
    if actions is not None:
        actions.publish_drafts(session, source_kind=SOURCE_KIND, source_id=learning_audit.id)
        published = actions.actions_for(
            session, source_kind=SOURCE_KIND, source_id=learning_audit.id, include_drafts=False
        )
    session.flush()
    audit_log.record(
        session,
        actor,
        "create",
        "learning_audit_record",
        learning_audit.id,
        case_ref=learning_audit.case_ref,
        actions=len(published),
    )
    send_feedback(session, learning_audit, published, policy)
    return learning_audit


def send_feedback(
    session: Session, learning_audit: LearningAudit, published: Sequence[Any], policy: Policy
) -> None:
    """Step 9: the learning and their own actions to the case holder and the team manager."""
    card = case_card(learning_audit, policy)
    learning = Learning(
        outcomes=learning_audit.outcomes or "",
        good_practice=learning_audit.good_practice or "",
        needed_to_improve=learning_audit.needed_to_improve or "",
        wider_learning=learning_audit.wider_learning or "",
    )
    for person in dict.fromkeys([card.case_holder, card.team_manager]):
        own = [
            DraftAction(id=a.id, owner=a.owner.slack_id, due_on=a.due_on, description=a.description)
            for a in published
            if a.owner.slack_id == person
        ]
        text, body = blocks.feedback_message(card, learning, own, recipient=person)
        outbox.enqueue(
            session,
            channel=person,
            text=text,
            blocks=body,
            dedupe_key=f"learning-feedback:{learning_audit.id}:{person}",
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


def send_learning_reminders(ctx: JobContext) -> str:
    """Case holders without a reflection and auditors without a record: once before, once on the due day."""
    today = ctx.today
    if not ctx.calendar.is_working_day(today):
        return "learning audits: not a working day, no reminders"
    sent = 0
    for learning_audit in _open_audits(ctx.session):
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
                dedupe_key=f"learning-reminder:{learning_audit.id}:audit:{kind}",
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
                    action_id=blocks.LearningIds.REFLECTION.value,
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
                        action_id=blocks.LearningIds.SET_UP_MEETING.value,
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
                        action_id=blocks.LearningIds.RECORD_AUDIT.value,
                        value=str(learning_audit.id),
                    )
                )
    return sorted(todos, key=lambda t: t.sort_key)
