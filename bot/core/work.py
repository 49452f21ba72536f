"""Work someone holds, as every feature sees it, so cover and reassignment are written once.

Councils run on people who are away, leave or move, and on cases that close. Each feature says, in a
``WorkKind`` registered with it (``bot.app.features.FEATURES``), how its own open work is found, who
may take it over (the independence rule, ``bot.core.independence``, re-checked), how it is moved
(the new holder told with the same buttons the first had, the previous holder told it has moved, the
audit log written) and, where that makes sense, how it is closed when its case has left the
register. The cover feature (``bot.cover``) asks the registry for every kind and never imports a
feature: it lists to Q&I the work falling due while its holder is away, held by someone who has left
the directory, or on a case that has closed, each with a **Reassign** button.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import audit
from bot.core.calendar import WorkingCalendar
from bot.core.errors import Conflict
from bot.core.formatting import mention
from bot.core.policy import Policy
from storage.models import AuditLogEntry, Person


@dataclass(frozen=True)
class Work:
    """One piece of open work and the one person holding it."""

    kind: str
    """The ``WorkKind.kind`` it belongs to, e.g. "learning_audit"."""
    id: int
    """The row's id within its kind."""
    holder: str
    """The Slack id of the person holding it now."""
    label: str
    """What it is, for Q&I, with case references only (never a name): "Learning audit of CIN-3002"."""
    due: date | None
    slot: str = ""
    """Which holder, where one row has several (a sampled case's "qi" or "pc" auditor); "" otherwise."""
    case_ref: str | None = None
    """The case it is about, if any: so work on a case that has left the register can be found."""

    @property
    def key(self) -> str:
        """Stable and parseable: ``kind:id:slot``, the value on its Reassign and Close buttons."""
        return f"{self.kind}:{self.id}:{self.slot}"


def parse_key(key: str) -> tuple[str, int, str] | None:
    """``kind:id:slot`` back into its parts; None for anything else (a forged button value)."""
    parts = key.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


@dataclass(frozen=True)
class Move:
    """Who is moving or closing work, and when: what every kind's functions are handed."""

    session: Session
    today: date
    calendar: WorkingCalendar
    policy: Policy
    actor: str
    """The Slack id of the Q&I lead or admin doing it (permission is checked by the cover feature)."""


@dataclass(frozen=True)
class Handover:
    """What a kind's ``hand_over`` is given once the move is allowed."""

    person: Person
    """The new holder: an active person in the directory, checked by the kind's rule."""
    previous: str
    """The Slack id of the holder until now."""
    key: str
    """A dedupe-key prefix for the messages of this move: the same for a replayed submission, new
    for each later move (so moving it A -> B -> A -> B tells B again)."""

    @property
    def new(self) -> str:
        return self.person.slack_id


@dataclass(frozen=True)
class WorkKind:
    kind: str
    noun: str
    """What one of these is called in a sentence: "learning audit", "random-sample audit"."""
    open_work: Callable[[Session], list[Work]]
    """Every open piece of this kind's work, each with its current holder."""
    find: Callable[[Session, int, str], Work | None]
    """(session, id, slot) -> that piece of work if it is still open, else None."""
    problem: Callable[[Move, Work, Person], str | None]
    """The kind's own rule: (move, work, an active person who does not hold it) -> why they may not
    take it over, in words for an inline error naming the reason ("<@U1> is not independent of
    CIN-3002: manages the team"), or None. ``problem`` below adds what every kind shares."""
    hand_over: Callable[[Move, Work, Handover], str]
    """Moves the work to ``handover.person`` and tells them (with the buttons the first holder had)
    and the previous holder; one line back saying what was done. Called by ``reassign`` below only,
    once the rule is met; the audit log is written there. Reminders then follow the new holder
    because they read the row."""
    close: Callable[[Move, Work, str], str] | None = None
    """(move, work, reason) -> one line: closes work that cannot go on (its case has closed); the
    people involved are told and the audit log is written. None where closing makes no sense."""
    entity: str = ""
    """The audit log's name for the row moved; the kind's name if empty."""

    @property
    def logged_as(self) -> str:
        return self.entity or self.kind


def _active(session: Session, slack_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))


def problem(kind: WorkKind, move: Move, work: Work, new: str) -> str | None:
    """Why ``new`` may not take the work over: the rules every kind shares (not the holder already,
    in the directory), then the kind's own; None if they may."""
    if new == work.holder:
        return f"{mention(new)} already holds this: {work.label}. Choose someone else."
    person = _active(move.session, new)
    if person is None:
        return f"{mention(new)} is not in the QMF directory, so they can't take over this {kind.noun}."
    return kind.problem(move, work, person)


def reassign(kind: WorkKind, move: Move, work: Work, new: str) -> str:
    """Move the work to ``new`` if the rules allow (``Conflict`` with the reason if not), let the kind
    hand it over, and write the audit log: who moved what, from whom, to whom."""
    why = problem(kind, move, work, new)
    if why:
        raise Conflict(why)
    person = _active(move.session, new)
    assert person is not None  # problem() found them
    moves = move.session.scalar(select(func.count()).select_from(AuditLogEntry).where(
        AuditLogEntry.entity == kind.logged_as, AuditLogEntry.entity_id == str(work.id),
        AuditLogEntry.action == "reassign")) or 0
    key = f"reassigned:{work.kind}:{work.id}:{work.slot}:{moves}:{new}"
    done = kind.hand_over(move, work, Handover(person=person, previous=work.holder, key=key))
    detail: dict[str, str] = {"from": work.holder, "to": new}
    if work.case_ref:
        detail["case_ref"] = work.case_ref
    if work.slot:
        detail["slot"] = work.slot
    audit.record(move.session, move.actor, "reassign", kind.logged_as, work.id, **detail)
    return done
