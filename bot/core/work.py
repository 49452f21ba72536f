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

from sqlalchemy.orm import Session

from bot.core.calendar import WorkingCalendar
from bot.core.policy import Policy


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
class WorkKind:
    kind: str
    noun: str
    """What one of these is called in a sentence: "learning audit", "random-sample audit"."""
    open_work: Callable[[Session], list[Work]]
    """Every open piece of this kind's work, each with its current holder."""
    find: Callable[[Session, int, str], Work | None]
    """(session, id, slot) -> that piece of work if it is still open, else None."""
    problem: Callable[[Move, Work, str], str | None]
    """(move, work, new holder's Slack id) -> why that person may not take it over, in words for an
    inline modal error naming the reason (e.g. "<@U1> is not independent of CIN-3002: manages the
    team"), or None if they may. Checked again by ``reassign`` before anything is written."""
    reassign: Callable[[Move, Work, str], str]
    """(move, work, new holder) -> one line saying what was done. Moves the work to the new holder,
    tells them (with the buttons the first holder had) and the previous holder, and audit-logs it;
    reminders then follow the new holder because they read the row. Raises ``bot.core.errors``'
    ``Conflict`` with that reason if ``problem`` finds one."""
    close: Callable[[Move, Work, str], str] | None = None
    """(move, work, reason) -> one line: closes work that cannot go on (its case has closed); the
    people involved are told and the audit log is written. None where closing makes no sense."""
