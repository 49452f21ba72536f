"""The learning-audit allocation run: the quarter's Service Managers and proposals read from the
directory, the plan solved (by the pure ``bot.learning_audits.allocation``) and stored.

Who is independent of what is read from the directory through ``bot.core.independence.ties_of``,
so a case's claimed team cannot hide a real tie; last quarter's services are a preference the
solver weighs, not a rule. The job that runs this each quarter is in ``jobs``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, selectinload

from bot.core import audit as audit_log
from bot.core import independence
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.policy import Policy
from bot.learning_audits import messages as blocks
from bot.learning_audits.allocation import AllocationPlan, Auditor, Candidate
from storage.models import LearningAudit, LearningRound, Person, Proposal, Service

JOB_ACTOR = "qmf-bot:allocate-learning-audits"


# ---------------------------------------------------------------------------------------------
# who could audit what, from the directory


def build_auditors(session: Session, quarter: Quarter, *, away: Sequence[str] = ()) -> list[Auditor]:
    """Every active Service Manager, with what they are not independent of (their ``Ties``),
    except those in ``away`` (Slack ids).

    A Service Manager who also manages or belongs to a team elsewhere is not independent of that
    team; last quarter's services are a preference the solver weighs, not a rule.
    """
    managers = session.scalars(
        select(Person).where(
            Person.active, Person.id.in_(select(Service.service_manager_id).where(Service.active))
        )
    ).all()
    if not managers:
        return []
    ties = independence.ties_of(session, managers)
    last: dict[int, set[str]] = defaultdict(set)
    for person_id, key in session.execute(
        select(LearningAudit.auditor_id, Service.key)
        .join(Service, LearningAudit.service_id == Service.id)
        .where(LearningAudit.quarter == quarter.previous().key)
    ):
        last[person_id].add(key)
    return [
        Auditor.from_ties(ties[person.slack_id], last_quarter_service_keys=frozenset(last.get(person.id, ())))
        for person in sorted(managers, key=lambda p: p.slack_id)
        if person.slack_id not in away
    ]


def away_through(session: Session, until: date, *, today: date | None = None) -> dict[str, str]:
    """Active Service Managers marked away from ``today`` (or before) until ``until`` or later
    (Slack id -> why they are left out): they could not audit before the audits are due, so
    allocating them cases would only leave those cases undone. Someone whose time away starts
    later is allocated as usual: they can audit before they go."""
    rows = session.scalars(
        select(Person)
        .join(Service, Service.service_manager_id == Person.id)
        .where(Service.active, Person.active, Person.away_until >= until)
    ).unique()
    return {
        p.slack_id: (f"marked away until {blocks.nice_date(p.away_until)}, past the audits' due date "
                     f"of {blocks.nice_date(until)}: not allocated this quarter")
        for p in rows if p.away_until is not None
        and (today is None or p.away_from is None or p.away_from <= today)
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


def _people(proposal: Proposal) -> tuple[Person, Person, Person]:
    return proposal.proposed_by, proposal.case_holder, proposal.team_manager


def candidate_for(proposal: Proposal, ties: Mapping[str, independence.Ties] | None = None) -> Candidate:
    """The proposal as the allocation sees it, with its people's places in the directory (``ties``
    by Slack id, from ``ties_of``), which the case covers as well as the team it claims. Without
    ``ties`` they are read here, so no caller can judge a case by its claim alone."""
    if ties is None:
        session = object_session(proposal)
        ties = independence.ties_of(session, dict.fromkeys(_people(proposal))) if session is not None else {}
    return Candidate(
        proposal_id=proposal.id,
        case_ref=proposal.case_ref,
        service_key=proposal.service.key,
        team_key=proposal.team.key,
        proposed_by=proposal.proposed_by.slack_id,
        case_holder=proposal.case_holder.slack_id,
        team_manager=proposal.team_manager.slack_id,
        flagged=proposal.flagged,
        people_ties=tuple(ties[p.slack_id] for p in dict.fromkeys(_people(proposal)) if p.slack_id in ties),
    )


CASE_CLOSED = "the case closed on the register before allocation"


def closed_on_register(session: Session, proposals: Sequence[Proposal]) -> set[int]:
    """The proposals whose case has closed on the case register: flagged, never allocated."""
    from storage.models.sampling import CaseRegisterEntry

    refs = {p.case_ref for p in proposals}
    if not refs:
        return set()
    closed = set(session.scalars(select(CaseRegisterEntry.case_ref).where(
        CaseRegisterEntry.case_ref.in_(refs), CaseRegisterEntry.status == "closed")))
    return {p.id for p in proposals if p.case_ref in closed}


def candidates_for(session: Session, proposals: Sequence[Proposal]) -> list[Candidate]:
    """The proposals as candidates, their people's ties read from the directory in one go; a case
    closed on the register is left out (``store_allocation`` says why)."""
    closed = closed_on_register(session, proposals)
    proposals = [p for p in proposals if p.id not in closed]
    people = {p.id: p for proposal in proposals for p in _people(proposal)}
    ties = independence.ties_of(session, people.values())
    return [candidate_for(p, ties) for p in proposals]


def build_candidates(session: Session, quarter: Quarter) -> list[Candidate]:
    return candidates_for(session, live_proposals(session, quarter))


# ---------------------------------------------------------------------------------------------
# storing the plan


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
        why = plan.why.get(proposal_id)  # kept in the proposer's words: it is shown to them
        proposal.not_allocated_reason = blocks.why_for_proposer(why) if why is not None else reason
        not_allocated.append(proposal)
    closed = closed_on_register(session, [p for p in proposals if p.status == "proposed"])
    for proposal in proposals:
        if proposal.id in closed:
            proposal.status = "not_allocated"
            proposal.not_allocated_reason = CASE_CLOSED
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
