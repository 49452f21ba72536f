"""Random sampling audits: the quarter's draw, blind audits, moderation, alerts, reminders and the report.

Each quarter a different service is sampled: every Q&I auditor is paired with a Practice
Consultant and the pair audits a few cases drawn at random from the service's open cases. Both
audit on their own and grade blind, then moderate. Blindness is enforced on the server, for
every path a grade could leak through (a replayed button, the moderation button, the report): a
grade is shown to the other auditor only once both are in, and the report counts only moderated
cases. The originals are never overwritten: an audit row is written once, and the agreed grade
is a separate row.

The flow, by responsibility:

- ``bot.sampling.draw``: the pure choices (which service, who pairs with whom, which cases);
- ``bot.sampling.draw_run``: the draw run against the database, stored, explained, announced;
- ``bot.sampling.grading``: the blind audits and the moderated grade;
- ``bot.sampling.alerts``: the Inadequate alert and the improvement-plan action;
- ``bot.sampling.results``: the quarter's figures, the Q&I channel's report, the CIB digest;
- ``bot.sampling.reminders``: reminders before the due date and the App Home to-do;
- this module: the lookups they share (the draw, a sampled case, the pair's roles in it).

Everyone is told through the outbox in the same transaction as the change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.calendar import Quarter
from bot.core.errors import NotFound, NotPermitted
from bot.core.policy import Policy
from storage.models import Person
from storage.models.sampling import SampleAudit, SampledCase, SampleDraw


def active_person(session: Session, slack_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))


def slack_id_of(session: Session, person_id: int | None) -> str | None:
    """A sampled case's case holder or IRO (kept as ids on the case, copied from the register)."""
    person = session.get(Person, person_id) if person_id is not None else None
    return person.slack_id if person is not None else None


def quarter_of(key: str, policy: Policy) -> Quarter:
    return Quarter.parse(key, policy.year_start_month)


def draw_for(session: Session, quarter_key: str) -> SampleDraw | None:
    return session.scalar(select(SampleDraw).where(SampleDraw.quarter == quarter_key))


def latest_draw(session: Session) -> SampleDraw | None:
    return session.scalar(select(SampleDraw).order_by(SampleDraw.quarter_index.desc()).limit(1))


def get_case(session: Session, case_id: int, *, for_update: bool = False) -> SampledCase:
    query = select(SampledCase).where(SampledCase.id == case_id)
    if for_update:
        query = query.with_for_update()  # two auditors submitting at once: one sees the other's row
    case = session.scalar(query)
    if case is None:
        raise NotFound("That sampled case no longer exists.")
    return case


def role_of(case: SampledCase, slack_id: str) -> str | None:
    """The person's part in auditing the case ("qi" or "pc"), or None when they are not its auditor.

    The case's own auditors (``SampledCase.qi``/``pc``), not its pair: an auditor may be reassigned."""
    if case.qi.slack_id == slack_id:
        return "qi"
    if case.pc.slack_id == slack_id:
        return "pc"
    return None


def partner_of(case: SampledCase, role: str) -> str:
    return case.pc.slack_id if role == "qi" else case.qi.slack_id


def audits_of(case: SampledCase) -> dict[str, SampleAudit]:
    return {a.role: a for a in case.audits}


def members(case: SampledCase) -> tuple[str, str]:
    return case.qi.slack_id, case.pc.slack_id


def require_pair_member(case: SampledCase, slack_id: str, doing: str) -> str:
    role = role_of(case, slack_id)
    if role is None:
        raise NotPermitted(f"Only the two auditors of {case.case_ref} can {doing}.")
    return role


# ---------------------------------------------------------------------------------------------
# the action-plan flow: what an action opened from a sampled case is called
