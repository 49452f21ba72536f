"""A sampled case's auditors as work someone holds (``bot.core.work``): each case has a Q&I auditor
("qi") and a Practice Consultant ("pc"), and either may be moved to someone else until they have
submitted their blind audit (and before the case is moderated).

The independence rule is the draw's own: the case as ``bot.sampling.draw.case_subject`` sees it
(its copied service, team and people, widened by their ties in the directory,
``bot.core.independence.ties_of``), judged by ``bot.core.independence.conflicts``. There is no
close(): a sampled case whose case later closes is still audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import independence, outbox
from bot.core.formatting import mention
from bot.core.independence import Tie
from bot.core.roles import Role
from bot.core.work import Handover, Move, Work, WorkKind
from bot.sampling import messages as blocks
from bot.sampling.draw import RegisterCase, case_subject
from bot.sampling.service import audits_of, quarter_of, slack_id_of
from bot.sampling.types import AssignedCase
from storage.models import Person, PersonRole
from storage.models.sampling import SampledCase

KIND = "sample_case"
SLOTS = {"qi": Role.QUALITY_IMPROVEMENT, "pc": Role.PRACTICE_CONSULTANT}
SLOT_LABELS = {"qi": "Q&I auditor", "pc": "Practice Consultant auditor"}


def _holder(case: SampledCase, slot: str) -> Person:
    return case.qi if slot == "qi" else case.pc


def _open(case: SampledCase, slot: str) -> bool:
    return slot in SLOTS and case.moderation is None and slot not in audits_of(case)


def _work(case: SampledCase, slot: str) -> Work:
    return Work(kind=KIND, id=case.id, holder=_holder(case, slot).slack_id,
                label=f"Random-sample audit of {case.case_ref} ({SLOT_LABELS[slot]})", due=case.due_on,
                slot=slot, case_ref=case.case_ref)


def open_work(session: Session) -> list[Work]:
    cases = session.scalars(select(SampledCase).order_by(SampledCase.due_on, SampledCase.id))
    return [_work(case, slot) for case in cases for slot in SLOTS if _open(case, slot)]


def find(session: Session, case_id: int, slot: str) -> Work | None:
    case = session.get(SampledCase, case_id)
    if case is None or not _open(case, slot):
        return None
    return _work(case, slot)


def subject_of(session: Session, case: SampledCase, ties: dict[str, independence.Ties]) -> independence.Subject:
    """The sampled case as the draw judged it: its copied details as a register line."""
    line = RegisterCase(case_ref=case.case_ref, service_key=case.service.key, team_key=case.team.key,
                        case_holder=slack_id_of(session, case.case_holder_id) or "",
                        team_manager=case.team_manager.slack_id,
                        reviewing_officer=slack_id_of(session, case.reviewing_officer_id), status="open")
    return case_subject(line, ties)


def _in_words(conflict: independence.Conflict) -> str:
    if conflict.tie is Tie.IS_PERSON:
        return conflict.key
    via = f" (the {'service' if conflict.tie is Tie.MANAGES_SERVICE else 'team'} of the person who {conflict.via})" \
        if conflict.via else ""
    return f"{conflict.tie.value}{via}"


def problem(move: Move, work: Work, person: Person) -> str | None:
    session = move.session
    case = session.get(SampledCase, work.id)
    if case is None or not _open(case, work.slot):
        return "That random-sample audit is no longer open: its blind audit is in or the case is moderated."
    slot_label = SLOT_LABELS[work.slot]
    new = person.slack_id
    role = SLOTS[work.slot]
    has_role = session.scalar(select(PersonRole.id).where(PersonRole.person_id == person.id,
                                                          PersonRole.role == role).limit(1))
    if has_role is None:
        needed = "in Quality & Improvement" if work.slot == "qi" else "a Practice Consultant"
        return f"{mention(new)} is not {needed}, so they can't be the {slot_label} of {case.case_ref}."
    other = "pc" if work.slot == "qi" else "qi"
    if new == _holder(case, other).slack_id:
        return (f"{mention(new)} is already the {SLOT_LABELS[other]} of {case.case_ref}: a case needs two "
                "different auditors.")
    people = [person, case.team_manager]
    holder = session.get(Person, case.case_holder_id)
    if holder is not None:
        people.append(holder)
    ties = independence.ties_of(session, {p.id: p for p in people}.values())
    why = independence.conflicts(ties.get(new, independence.Ties(person=new)), subject_of(session, case, ties))
    if why:
        return f"{mention(new)} is not independent of {case.case_ref}: {'; '.join(_in_words(c) for c in why)}."
    return None


def hand_over(move: Move, work: Work, handover: Handover) -> str:
    session = move.session
    case = session.get(SampledCase, work.id)
    assert case is not None
    person, new, old, key = handover.person, handover.new, handover.previous, handover.key
    if work.slot == "qi":
        case.qi_id, case.qi = person.id, person
    else:
        case.pc_id, case.pc = person.id, person
    session.flush()
    partner = (case.pc if work.slot == "qi" else case.qi).slack_id
    assigned = AssignedCase(case.id, case.case_ref, case.service.name, case.team.name,
                            case_holder=slack_id_of(session, case.case_holder_id) or "",
                            team_manager=case.team_manager.slack_id,
                            reviewing_officer=slack_id_of(session, case.reviewing_officer_id))
    label = quarter_of(case.quarter, move.policy).label
    text, body = blocks.allocation_message(quarter_label=label, service=case.service.name, role=work.slot,
                                           partner=partner, cases=[assigned], due=case.due_on)
    outbox.enqueue(session, channel=new, text=text, blocks=body, dedupe_key=f"{key}:auditor")
    outbox.enqueue(session, channel=old, dedupe_key=f"{key}:previous",
                   text=blocks.sample_moved_text(case_ref=case.case_ref, new=new))
    outbox.enqueue(session, channel=partner, dedupe_key=f"{key}:partner",
                   text=blocks.sample_partner_moved_text(case_ref=case.case_ref, old=old, new=new))
    return (f"The {SLOT_LABELS[work.slot]} of {case.case_ref} is now {mention(new)}; they and {mention(old)} "
            "have been told.")


SAMPLE_CASE_WORK = WorkKind(kind=KIND, noun="random-sample audit", open_work=open_work, find=find,
                            problem=problem, hand_over=hand_over)
