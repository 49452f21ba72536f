"""An open action's owner as work someone holds (``bot.core.work``): any active person may own one."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from bot.actions import messages as blocks
from bot.actions.service import ENTITY, OPEN, source_text
from bot.core import outbox
from bot.core.audit import record
from bot.core.errors import Conflict
from bot.core.formatting import mention
from bot.core.work import Move, Work, WorkKind
from storage.models import Action, AuditLogEntry, Person

KIND = "action"


def _work(action: Action) -> Work:
    return Work(kind=KIND, id=action.id, holder=action.owner.slack_id, label=f"Action “{_short(action.description)}”",
                due=action.due_on)


def _short(description: str, length: int = 40) -> str:
    """The action's first words, plain (no mrkdwn, no mention syntax): Q&I know which one it is."""
    words = " ".join(re.sub(r"[<>&*_~`|]", "", description).split())
    return words if len(words) <= length else words[:length - 1].rstrip() + "…"


def open_work(session: Session) -> list[Work]:
    return [_work(a) for a in session.scalars(
        select(Action).options(joinedload(Action.owner)).where(Action.status == OPEN).order_by(Action.id))]


def find(session: Session, action_id: int, slot: str) -> Work | None:
    action = session.get(Action, action_id)
    return _work(action) if action is not None and not slot and action.status == OPEN else None


def problem(move: Move, work: Work, new: str) -> str | None:
    if new == work.holder:
        return f"{mention(new)} already owns this action: choose someone else."
    if move.session.scalar(select(Person.id).where(Person.slack_id == new, Person.active)) is None:
        return f"{mention(new)} is not in the QMF directory, so they can't own an action."
    return None


def reassign(move: Move, work: Work, new: str) -> str:
    why = problem(move, work, new)
    if why:
        raise Conflict(why)
    session = move.session
    action = session.get(Action, work.id)
    assert action is not None
    person = session.scalar(select(Person).where(Person.slack_id == new, Person.active))
    assert person is not None
    old = action.owner.slack_id
    action.owner_id, action.owner = person.id, person
    session.flush()
    moves = reassignments(session, ENTITY, action.id)  # in the keys: a later move tells again
    record(session, move.actor, "reassign", ENTITY, action.id, **{"from": old, "to": new})
    source = source_text(session, action)
    text, body = blocks.assigned_message(action, source)
    key = f"action-reassigned:{action.id}:{moves}:{new}"
    outbox.enqueue(session, channel=new, text=text, blocks=body, dedupe_key=f"{key}:owner")
    outbox.enqueue(session, channel=old, dedupe_key=f"{key}:previous",
                   text=f"An action of yours ({source}) is now owned by {mention(new)}: it is no longer yours to do.")
    return f"Action #{action.id} is now owned by {mention(new)}; they and {mention(old)} were told."


ACTION_WORK = WorkKind(kind=KIND, noun="action", open_work=open_work, find=find, problem=problem, reassign=reassign)


def reassignments(session: Session, entity: str, row_id: int) -> int:
    """How often this row was reassigned before (the audit log's count)."""
    return session.scalar(select(func.count()).select_from(AuditLogEntry).where(
        AuditLogEntry.entity == entity, AuditLogEntry.entity_id == str(row_id),
        AuditLogEntry.action == "reassign")) or 0
