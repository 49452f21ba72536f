"""A planned learning visit's lead reviewer as work someone holds (``bot.core.work``).

Who may lead is the commission's rule: someone in the directory, independent of the service
(``service.independence_problem``), and one of the visitors (a new lead joins them if they were not).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.core.formatting import mention
from bot.core.work import Handover, Move, Work, WorkKind
from bot.visits import messages as blocks
from bot.visits.service import independence_problem, visit_plan
from storage.models import Person
from storage.models.commissions import LearningVisit, LearningVisitVisitor

KIND = "visit_lead"


def _work(visit: LearningVisit) -> Work:
    return Work(kind=KIND, id=visit.id, holder=visit.lead_reviewer.slack_id,
                label=f"Lead reviewer of the learning visit to {visit.service.name}", due=visit.visit_on)


def open_work(session: Session) -> list[Work]:
    return [_work(v) for v in session.scalars(
        select(LearningVisit).where(LearningVisit.status == "planned").order_by(LearningVisit.id))]


def find(session: Session, visit_id: int, slot: str) -> Work | None:
    visit = session.get(LearningVisit, visit_id)
    return _work(visit) if visit is not None and not slot and visit.status == "planned" else None


def problem(move: Move, work: Work, person: Person) -> str | None:
    visit = move.session.get(LearningVisit, work.id)
    if visit is None:
        return "That learning visit is no longer there."
    return independence_problem(move.session, visit.service, person)


def hand_over(move: Move, work: Work, handover: Handover) -> str:
    session = move.session
    visit = session.get(LearningVisit, work.id)
    assert visit is not None
    person, new, old = handover.person, handover.new, handover.previous
    if all(v.person_id != person.id for v in visit.visitors):
        visit.visitors.append(LearningVisitVisitor(person_id=person.id, person=person, position=len(visit.visitors)))
    visit.lead_reviewer_id, visit.lead_reviewer = person.id, person
    session.flush()
    plan = visit_plan(visit)
    text, body = blocks.visit_preparation_message(plan, lead=True, reader=new)
    outbox.enqueue(session, channel=new, text=text, blocks=body, dedupe_key=f"{handover.key}:lead")
    outbox.enqueue(session, channel=old, dedupe_key=f"{handover.key}:previous",
                   text=(f"{mention(new)} now leads the learning visit to {visit.service.name} in your place, "
                         "so recording its outcome is no longer yours to do."))
    return f"{mention(new)} now leads the learning visit to {visit.service.name}; they and {mention(old)} were told."


VISIT_LEAD_WORK = WorkKind(kind=KIND, noun="learning visit's lead", open_work=open_work, find=find,
                           problem=problem, hand_over=hand_over, entity="learning_visit")

