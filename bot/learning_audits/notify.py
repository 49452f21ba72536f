"""Who is told what in a learning audit: the allocation's DMs (auditor, case holder, team manager, and
each proposer's cases that were not allocated, with why and a button to propose them again next
quarter; one DM per person for the morning), the shortfalls to Q&I, what a
saved reflection sends, and the learning once the audit is recorded.

Each message is built by the feature's messages from a ``CaseCard`` and queued through the outbox
with a dedupe key, so a retried job or a second click never tells anyone twice. What goes to a
channel carries counts and reasons, never a case reference; those stay in DMs.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import directory, outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.formatting import mention
from bot.core.policy import Policy
from bot.core.roles import Channel, Role
from bot.learning_audits import messages as blocks
from bot.learning_audits import record_messages
from bot.learning_audits.allocation import AllocationPlan
from bot.learning_audits.allocation_run import AllocationResult
from bot.learning_audits.service import case_card
from bot.learning_audits.types import CaseCard, DraftAction, Learning, UnallocatedCard
from storage.models import LearningAudit, OutboxMessage, Person, Proposal, Reflection

# ---------------------------------------------------------------------------------------------
# the allocation


def notify_allocation(
    session: Session, result: AllocationResult, *, quarter: Quarter, calendar: WorkingCalendar, policy: Policy
) -> None:
    """Steps 5 and 4's leftovers: each person hears, in one DM for the morning, what is theirs.

    The auditor, the case holder and the team manager of each allocated case, and each proposer of
    cases not allocated (why, and a button to propose them again next quarter). Someone with several
    parts (a Service Manager auditing two cases who also manages a team whose case was chosen) gets
    them together; a person with one part gets the message they always did, under the same dedupe key.
    """
    cards = [case_card(learning_audit, policy) for learning_audit in result.audits]
    # The key each allocated case's messages have always had, so a lone part keeps it.
    prefix = {la.id: f"learning-allocated:{la.quarter}:{la.proposal_id}" for la in result.audits}
    auditing: dict[str, list[CaseCard]] = defaultdict(list)
    holding: dict[str, list[CaseCard]] = defaultdict(list)
    managing: dict[str, list[CaseCard]] = defaultdict(list)
    order: dict[str, None] = {}
    for card in cards:
        auditing[card.auditor].append(card)
        holding[card.case_holder].append(card)
        order.update(dict.fromkeys([card.auditor, card.case_holder]))
        if card.team_manager != card.case_holder:
            managing[card.team_manager].append(card)
            order[card.team_manager] = None
    unallocated = _not_allocated(result, quarter=quarter, calendar=calendar)
    order.update(dict.fromkeys(unallocated))
    for person in order:
        parts: list[tuple[str, tuple[str, list[Any]]]] = []
        for card in auditing.get(person, []):
            parts.append((f"{prefix[card.audit_id]}:auditor", blocks.auditor_message(card)))
        for card in holding.get(person, []):
            parts.append((f"{prefix[card.audit_id]}:case-holder", blocks.case_holder_message(card)))
        for card in managing.get(person, []):
            parts.append((f"{prefix[card.audit_id]}:team-manager", blocks.team_manager_message(card)))
        if person in unallocated:
            parts.append((f"learning-not-allocated:{quarter.key}:{person}", unallocated[person]))
        label = cards[0].quarter_label if cards else quarter.label
        messages = blocks.allocation_morning(label, [message for _, message in parts])
        for n, (text, body) in enumerate(messages, start=1):
            key = parts[0][0] if len(parts) == 1 else f"learning-allocation-morning:{quarter.key}:{person}:{n}"
            outbox.enqueue(session, channel=person, text=text, blocks=body, dedupe_key=key)


def _not_allocated(
    result: AllocationResult, *, quarter: Quarter, calendar: WorkingCalendar
) -> dict[str, tuple[str, list[Any]]]:
    """Each active proposer's message for all their cases left over: why each was not allocated,
    with a button to propose it again next quarter."""
    by_proposer: dict[str, list[Proposal]] = defaultdict(list)
    for proposal in sorted(result.not_allocated, key=lambda p: p.id):
        if proposal.proposed_by.active:
            by_proposer[proposal.proposed_by.slack_id].append(proposal)
    following = quarter.next()
    found: dict[str, tuple[str, list[Any]]] = {}
    for proposer, proposals in by_proposer.items():
        cards = [
            UnallocatedCard(
                proposal_id=p.id,
                case_ref=p.case_ref,
                why=(blocks.why_for_proposer(result.plan.why[p.id]) if p.id in result.plan.why
                     else p.not_allocated_reason or ""),
            )
            for p in proposals
        ]
        found[proposer] = blocks.not_allocated_message(
            quarter_label=quarter.label,
            next_label=following.label,
            next_opens=blocks.nice_date(calendar.first_working_day(following)),
            cards=cards,
        )
    return found


def report_shortfalls(session: Session, result: AllocationResult, *, quarter: Quarter, today: date) -> None:
    """Tell Q&I about cases left over and SMs short: counts by service in the channel, detail by DM."""
    plan = result.plan
    if not plan.unallocated and not plan.short:
        return
    unallocated: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for proposal in sorted(result.not_allocated, key=lambda p: (p.service.position, p.service.name)):
        why = plan.why.get(proposal.id)
        reason = blocks.why_in_channel(why) if why is not None else "of the allocation's limits"
        unallocated[proposal.service.name][reason] += 1
    services_of: dict[str, list[str]] = defaultdict(list)
    for service in directory.active_services(session):
        services_of[service.service_manager.slack_id].append(service.name)
    short = [
        (
            " and ".join(services_of.get(person, [])) or "A",
            plan.allocated_counts.get(person, 0),
            reason,
        )
        for person, reason in sorted(plan.short.items())
    ]
    channel = directory.channel_for(session, Channel.QUALITY_IMPROVEMENT)
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
    for person in _available(session, directory.people_with_role(session, Role.QUALITY_IMPROVEMENT), today):
        outbox.enqueue(
            session,
            channel=person,
            text=text,
            blocks=body,
            dedupe_key=f"learning-shortfall:{quarter.key}:{person}",
        )


def _shortfall_detail(plan: AllocationPlan) -> str:
    """What Q&I read by DM: each case left and each Service Manager short, people as mentions.

    No seed and no ids: those are the CLI's (``qmf-bot jobs run allocate-learning-audits --dry-run``)."""
    left = len(plan.unallocated)
    lines = [
        f"{len(plan.assignments)} case{'' if len(plan.assignments) == 1 else 's'} allocated; "
        f"{left} not allocated.",
        "",
        "*Cases not allocated:*",
    ]
    for pid in sorted(plan.unallocated):
        why = plan.why.get(pid)
        reason = blocks.why_for_qi(why) if why is not None else "see the allocation's explanation."
        lines.append(f"- {plan.case_refs.get(pid, '?')}: {reason}")
    if not plan.unallocated:
        lines.append("(none)")
    else:
        lines += ["", "Each proposer has been told why, with a button to propose the case again next quarter."]
    lines += ["", f"*Service Managers with fewer than {plan.per_auditor} cases:*"]
    lines += [
        f"- {mention(person)} ({plan.allocated_counts.get(person, 0)} of {plan.per_auditor}): {reason}"
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
# the reflection and the record


def notify_reflection(
    session: Session, learning_audit: LearningAudit, reflection: Reflection, *, old_support: str | None,
    policy: Policy,
) -> None:
    """The case holder's receipt, the auditor's "it is in", and a changed "support needed" answer to
    the team manager only (never to the auditor)."""
    audit_id = learning_audit.id
    card = case_card(learning_audit, policy)
    # The first save brings the "View or amend reflection" button; amending needs no new message.
    text, body = record_messages.reflection_saved_message(card)
    outbox.enqueue(
        session, channel=card.case_holder, text=text, blocks=body,
        dedupe_key=f"learning-reflection:{audit_id}:saved",
    )
    text, body = record_messages.reflection_ready_message(card)
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
        text, body = record_messages.meeting_support_for_team_manager(card, support)
        outbox.enqueue(
            session,
            channel=card.team_manager,
            text=text,
            blocks=body,
            dedupe_key=f"learning-reflection:{audit_id}:support:{digest}",
        )


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
        text, body = record_messages.feedback_message(card, learning, own, recipient=person)
        outbox.enqueue(
            session,
            channel=person,
            text=text,
            blocks=body,
            dedupe_key=f"learning-feedback:{learning_audit.id}:{person}",
        )


def feedback_recipients(session: Session, learning_audit: LearningAudit) -> list[str]:
    """Who was sent the learning when the audit was recorded (``send_feedback``'s DMs), from the outbox:
    the people to tell when it is amended, even if the case holder or team manager has changed since."""
    prefix = f"learning-feedback:{learning_audit.id}:"
    keys = session.scalars(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(f"{prefix}%")).order_by(OutboxMessage.id)
    )
    return list(dict.fromkeys(str(k)[len(prefix):] for k in keys if k))
