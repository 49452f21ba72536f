"""The quarter's learning-audit round: when proposals open and close and when the audits are due.

A round is created on the quarter's first working day (or by its first proposal) and closes to
proposals once its cases are allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict
from bot.core.policy import Policy
from bot.learning_audits.proposal_messages import nice_date
from storage.models import LearningRound


class ProposalsClosed(Conflict):
    """The quarter's cases have been allocated, so its proposals can no longer change."""


@dataclass(frozen=True)
class RoundDates:
    quarter: Quarter
    opens: date
    deadline: date
    audits_due: date


def round_dates(calendar: WorkingCalendar, policy: Policy, quarter: Quarter) -> RoundDates:
    """Deadlines count working days, so a bank-holiday week does not shorten anyone's window."""
    opens = calendar.first_working_day(quarter)
    deadline = calendar.add_working_days(opens, policy.proposal_window_working_days)
    audits_due = calendar.add_working_days(deadline, policy.audit_window_working_days)
    return RoundDates(quarter=quarter, opens=opens, deadline=deadline, audits_due=audits_due)


def current_round(session: Session, quarter_key: str) -> LearningRound | None:
    return session.get(LearningRound, quarter_key)


def ensure_round(session: Session, *, calendar: WorkingCalendar, policy: Policy, quarter: Quarter,
                 now: datetime) -> LearningRound:
    """The quarter's round, created on first use; the job and an early proposer may race to create it,
    so the insert yields to whoever was first instead of failing."""
    found = current_round(session, quarter.key)
    if found is not None:
        return found
    dates = round_dates(calendar, policy, quarter)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LearningRound)
        .values(quarter=quarter.key, opened_at=now, deadline=dates.deadline, audits_due=dates.audits_due)
        .on_conflict_do_nothing(index_elements=["quarter"])
    )
    created = current_round(session, quarter.key)
    assert created is not None
    return created


def closed_message(round_: LearningRound, quarter: Quarter, calendar: WorkingCalendar) -> str:
    allocated = calendar.today(round_.allocated_at) if round_.allocated_at else None
    next_opens = calendar.first_working_day(quarter.next())
    when = f" on {nice_date(allocated)}" if allocated else ""
    return (f"Proposals for {quarter.label} closed when the cases were allocated{when}, so they can no "
            f"longer be added, edited or withdrawn. Proposals for {quarter.next().label} open on "
            f"{nice_date(next_opens)}.")


def require_open(round_: LearningRound | None, quarter: Quarter, calendar: WorkingCalendar) -> None:
    if round_ is not None and round_.allocated_at is not None:
        raise ProposalsClosed(closed_message(round_, quarter, calendar))
