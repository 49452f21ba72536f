"""Carrying a case that was not allocated into next quarter: the "Propose again next quarter" button.

Each Service Manager audits a set number of cases a quarter, so some proposals are left over. Their
proposer is told why (``notify.notify_allocation``) and can carry the case on with one press: a
new proposal for the following quarter, with the same team, people, reason and flags, made by the
same proposer. It is an ordinary live proposal of that quarter from then on: its service's count
in the quarter's invitations includes it, its proposer is not reminded to propose, they can edit or
withdraw it from ``/qmf proposals`` once that quarter opens, and its allocation treats it like any
other.

Pressing twice, or from the DM and the list both, makes one proposal: ``Proposal.carried_from_id``
is unique. Only the proposer or the Quality & Improvement team may press it, checked here on the
server whatever the button says; every carry is in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import directory, outbox
from bot.core.audit import record
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, NotFound, NotPermitted
from bot.core.formatting import day, mention
from bot.learning_audits.proposals import OVERSEER_ROLES, carried_into, outsiders
from bot.learning_audits.rounds import ProposalsClosed, current_round
from storage.models import Proposal

__all__ = ["carry_forward"]


def _original(session: Session, who: directory.Who, proposal_id: int | None) -> Proposal:
    """The proposal to carry, if this person may: its proposer, or Q&I (and admins) for them."""
    original = session.get(Proposal, proposal_id) if proposal_id is not None else None
    if original is None:
        raise NotFound("I can't find that proposal any more, so nothing was proposed.")
    if not who.known:
        raise NotPermitted("You are not in the QMF directory at the moment, so you can't propose cases. "
                           "Ask a QMF admin to add you.")
    if original.proposed_by.slack_id != who.slack_id and not who.has(*OVERSEER_ROLES):
        raise NotPermitted("Only the person who proposed this case (or the Quality & Improvement team) can "
                           "propose it again. Nothing was changed.")
    return original


def _refuse_unless_left_over(original: Proposal, quarter: Quarter) -> None:
    if original.status == "not_allocated":
        return
    if original.status == "allocated":
        raise Conflict(f"{original.case_ref} was allocated for a learning audit in {quarter.label}, so there "
                       "is nothing to carry over. Nothing was changed.")
    raise Conflict(f"Only a case that was not allocated can be proposed again next quarter, and "
                   f"{original.case_ref} has not been through {quarter.label}'s allocation. Nothing was changed.")


def _what_stops_it(session: Session, original: Proposal) -> str | None:
    """Why the case can't be carried as it stands (its team closed, its people moved on), or None."""
    team, holder, manager = original.team, original.case_holder, original.team_manager
    if not (team.active and original.service.active):
        return f"team {team.name} is no longer open"
    if not holder.active:
        return f"its case holder, {mention(holder.slack_id)}, is no longer in the QMF directory"
    if not manager.active:
        return f"its team manager, {mention(manager.slack_id)}, is no longer in the QMF directory"
    if outsiders(session, team, holder=holder, manager=manager):
        return f"its case holder or team manager is no longer in team {team.name}"
    return None


def carry_forward(session: Session, *, actor: str, proposal_id: int | None, now: datetime,
                  calendar: WorkingCalendar) -> str:
    """Propose a case left unallocated again for the following quarter, once; the words to answer with.

    A second press (or a race with one) finds the carried proposal and changes nothing; a race
    that both insert is stopped by the unique ``carried_from_id`` and answered on the retry.
    """
    who = directory.who(session, actor)
    original = _original(session, who, proposal_id)
    quarter = Quarter.parse(original.quarter, calendar.year_start_month)
    target = quarter.next()
    opens = day(calendar.first_working_day(target))
    _refuse_unless_left_over(original, quarter)

    carried = carried_into(session, [original.id]).get(original.id)
    if carried is not None:
        if carried.status == "withdrawn":
            return (f"{original.case_ref} was proposed again for {target.label} and then withdrawn, so I "
                    f"haven't proposed it again. To audit it after all, propose it with `/propose-case` "
                    f"while proposals for {target.label} are open.")
        return (f"{original.case_ref} is already proposed again for {target.label}; nothing more to do. You can "
                f"edit or withdraw it from `/qmf proposals` once proposals for {target.label} open on {opens}.")

    round_ = current_round(session, target.key)
    if (round_ is not None and round_.allocated_at is not None) or calendar.quarter(now).index() > target.index():
        following = target.next()
        raise ProposalsClosed(
            f"Proposals for {target.label} have closed, so {original.case_ref} can't be carried into it. "
            f"Propose it for {following.label} with `/propose-case` once proposals open on "
            f"{day(calendar.first_working_day(following))}.")
    clash = session.scalar(select(Proposal).where(Proposal.quarter == target.key,
                                                  Proposal.live_ref == original.case_ref))
    if clash is not None:
        by = "you" if clash.proposed_by.slack_id == actor else mention(clash.proposed_by.slack_id)
        return f"{original.case_ref} is already proposed for {target.label} (by {by}); nothing more to do."
    problem = _what_stops_it(session, original)
    if problem is not None:
        raise Conflict(f"{original.case_ref} can't be proposed again as it stands: {problem}. Propose it "
                       f"afresh with `/propose-case` once proposals for {target.label} open on {opens}, "
                       f"naming who holds it now.")

    proposal = Proposal(
        quarter=target.key, case_ref=original.case_ref, live_ref=original.case_ref,
        service_id=original.service_id, team_id=original.team_id, case_holder_id=original.case_holder_id,
        team_manager_id=original.team_manager_id, proposed_by_id=original.proposed_by_id,
        reason=original.reason, previously_inadequate=original.previously_inadequate,
        lots_of_learning=original.lots_of_learning, revisit=original.revisit, status="proposed",
        carried_from_id=original.id, created_at=now, updated_at=now,
    )
    session.add(proposal)
    session.flush()
    record(session, actor, "carry", "proposal", proposal.id, quarter=target.key, case_ref=proposal.case_ref,
           carried_from=original.id)
    proposer = original.proposed_by.slack_id
    if proposer != actor:
        outbox.enqueue(
            session, channel=proposer,
            text=(f"{mention(actor)} proposed your case {original.case_ref} again for {target.label} learning "
                  f"audits, after it was not allocated in {quarter.label}. You can edit or withdraw it from "
                  f"`/qmf proposals` once proposals for {target.label} open on {opens}."),
            dedupe_key=f"proposal:{proposal.id}:carried-by:{actor}",
        )
    return (f"Done: {original.case_ref} is proposed again for *{target.label}* learning audits, with the same "
            f"team, case holder and reason. It will be considered when {target.label}'s cases are allocated. "
            f"You can edit or withdraw it from `/qmf proposals` once proposals for {target.label} open on {opens}.")
