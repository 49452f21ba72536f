"""Allocated learning audits as work someone holds (``bot.core.work``): found, re-checked, moved
to another Service Manager or closed when their case has left the register.

The independence rule is the allocation's own: the case is the ``Candidate`` the allocation built
from its proposal (``allocation_run.candidate_for``, widened by its people's places in the
directory) and the new auditor an ``Auditor`` from their ties, judged by ``allocation.conflicts``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import audit as audit_log
from bot.core import independence, outbox
from bot.core.errors import Conflict
from bot.core.formatting import mention
from bot.core.work import Handover, Move, Work, WorkKind
from bot.learning_audits import messages as blocks
from bot.learning_audits.allocation import Auditor, conflicts
from bot.learning_audits.allocation_run import candidate_for
from bot.learning_audits.service import case_card
from storage.models import LearningAudit, Person, Proposal, Service

KIND = "learning_audit"
OPEN = "allocated"
CLOSED = "closed"


def _work(found: LearningAudit) -> Work:
    return Work(kind=KIND, id=found.id, holder=found.auditor.slack_id,
                label=f"Learning audit of {found.case_ref}", due=found.due_on, case_ref=found.case_ref)


def open_work(session: Session) -> list[Work]:
    rows = session.scalars(select(LearningAudit).where(LearningAudit.status == OPEN).order_by(LearningAudit.id))
    return [_work(found) for found in rows]


def find(session: Session, audit_id: int, slot: str) -> Work | None:
    found = session.get(LearningAudit, audit_id)
    if found is None or slot or found.status != OPEN:
        return None
    return _work(found)


def problem(move: Move, work: Work, person: Person) -> str | None:
    session = move.session
    found = session.get(LearningAudit, work.id)
    if found is None:
        return "That learning audit is no longer there."
    new = person.slack_id
    manages = session.scalar(select(Service.id).where(Service.active, Service.service_manager_id == person.id).limit(1))
    if manages is None:
        return (f"{mention(new)} is not a Service Manager: learning audits are done by Service Managers "
                "independent of the case.")
    ties = independence.ties_of(session, [person])[new]
    why = conflicts(Auditor.from_ties(ties), candidate_for(found.proposal))
    if why:
        return f"{mention(new)} is not independent of {found.case_ref}: {'; '.join(why)}."
    return None


def hand_over(move: Move, work: Work, handover: Handover) -> str:
    session = move.session
    found = session.get(LearningAudit, work.id)
    assert found is not None
    new, old, key = handover.new, handover.previous, handover.key
    found.auditor_id, found.auditor = handover.person.id, handover.person
    # The group DM has the old auditor in it: the new one sets the meeting up again (its invitation
    # keeps the audit's UID and a higher SEQUENCE, so calendars replace the old time).
    group, had_time = found.meeting_channel, found.meeting_at is not None
    found.meeting_channel = None
    found.meeting_at = None
    session.flush()
    card = case_card(found, move.policy)
    text, body = blocks.auditor_message(card)
    outbox.enqueue(session, channel=new, text=text, blocks=body, dedupe_key=f"{key}:auditor")
    outbox.enqueue(session, channel=old, dedupe_key=f"{key}:previous",
                   text=(f"The learning audit of {found.case_ref} has moved to {mention(new)}, so it is no "
                         "longer yours to do. Thank you; there is nothing more for you to do on it."))
    if group is not None:
        outbox.enqueue(session, channel=group, dedupe_key=f"{key}:group",
                       text=(f"The learning audit of {found.case_ref} has moved to {mention(new)}"
                             + (", so the meeting set here is off" if had_time else "")
                             + f": {mention(new)} will set up a new meeting with you."))
    told = f"{mention(new)} now does the learning audit of {found.case_ref}, in place of {mention(old)}."
    for reader in dict.fromkeys([card.case_holder, card.team_manager]):
        outbox.enqueue(session, channel=reader, text=told, dedupe_key=f"{key}:{reader}")
    return f"The learning audit of {found.case_ref} is now {mention(new)}'s; they and {mention(old)} have been told."


def close(move: Move, work: Work, reason: str) -> str:
    session = move.session
    found = session.get(LearningAudit, work.id)
    assert found is not None
    found.status = CLOSED
    session.flush()
    audit_log.record(session, move.actor, "close", KIND, found.id, case_ref=found.case_ref, reason=reason)
    card = case_card(found, move.policy)
    text = f"The learning audit of {found.case_ref} is closed: {reason}. There is nothing more to do on it."
    for reader in dict.fromkeys([card.auditor, card.case_holder, card.team_manager]):
        outbox.enqueue(session, channel=reader, text=text, dedupe_key=f"learning-closed:{found.id}:{reader}")
    return f"The learning audit of {found.case_ref} is closed; its auditor, case holder and team manager were told."


LEARNING_AUDIT_WORK = WorkKind(kind=KIND, noun="learning audit", open_work=open_work, find=find,
                               problem=problem, hand_over=hand_over, close=close)


# ---------------------------------------------------------------------------------------------
# a proposal whose case has closed on the register: flagged before allocation

PROPOSAL_KIND = "proposal"
CASE_CLOSED = "the case closed on the register before allocation"


def _closed_refs(session: Session, refs: set[str]) -> set[str]:
    from storage.models.sampling import CaseRegisterEntry

    if not refs:
        return set()
    return set(session.scalars(select(CaseRegisterEntry.case_ref).where(
        CaseRegisterEntry.case_ref.in_(refs), CaseRegisterEntry.status == "closed")))


def _proposal_work(found: Proposal) -> Work:
    return Work(kind=PROPOSAL_KIND, id=found.id, holder=found.proposed_by.slack_id,
                label=f"Proposal of {found.case_ref} - the case has closed", due=None, case_ref=found.case_ref)


def proposal_open_work(session: Session) -> list[Work]:
    """Only the live proposals whose case has closed on the register: a proposal is its proposer's,
    never reassigned; what Q&I need to see is the one that should not be allocated."""
    live = list(session.scalars(select(Proposal).where(Proposal.status == "proposed").order_by(Proposal.id)))
    closed = _closed_refs(session, {p.case_ref for p in live})
    return [_proposal_work(p) for p in live if p.case_ref in closed]


def proposal_find(session: Session, proposal_id: int, slot: str) -> Work | None:
    found = session.get(Proposal, proposal_id)
    if found is None or slot or found.status != "proposed":
        return None
    return _proposal_work(found)


def proposal_problem(move: Move, work: Work, person: Person) -> str | None:
    return "A proposal stays with the person who made it: close it instead."


def proposal_hand_over(move: Move, work: Work, handover: Handover) -> str:
    raise Conflict("A proposal stays with the person who made it: close it instead.")


def proposal_close(move: Move, work: Work, reason: str) -> str:
    found = move.session.get(Proposal, work.id)
    assert found is not None
    found.status = "withdrawn"
    found.live_ref = None
    move.session.flush()
    audit_log.record(move.session, move.actor, "withdraw", "proposal", found.id, case_ref=found.case_ref,
                     reason=reason)
    outbox.enqueue(move.session, channel=found.proposed_by.slack_id,
                   dedupe_key=f"proposal:{found.id}:closed-by:{move.actor}",
                   text=(f"Your proposal of {found.case_ref} was withdrawn by {mention(move.actor)}: {reason}. "
                         "You may propose another case."))
    return f"The proposal of {found.case_ref} is withdrawn; its proposer was told."


PROPOSAL_WORK = WorkKind(kind=PROPOSAL_KIND, noun="proposal", open_work=proposal_open_work, find=proposal_find,
                         problem=proposal_problem, hand_over=proposal_hand_over, close=proposal_close)

