"""An open action's owner as work someone holds (``bot.core.work``): any active person may own one."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.actions import messages as blocks
from bot.actions.service import ENTITY, OPEN, source_text
from bot.core import outbox
from bot.core.formatting import mention
from bot.core.work import Handover, Move, Work, WorkKind
from storage.models import Action, Person

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


def problem(move: Move, work: Work, person: Person) -> str | None:
    return None  # anyone active in the directory may own an action


def hand_over(move: Move, work: Work, handover: Handover) -> str:
    session = move.session
    action = session.get(Action, work.id)
    assert action is not None
    new, old = handover.new, handover.previous
    action.owner_id, action.owner = handover.person.id, handover.person
    session.flush()
    source = source_text(session, action)
    text, body = blocks.assigned_message(action, source)
    outbox.enqueue(session, channel=new, text=text, blocks=body, dedupe_key=f"{handover.key}:owner")
    outbox.enqueue(session, channel=old, dedupe_key=f"{handover.key}:previous",
                   text=f"An action of yours ({source}) is now owned by {mention(new)}: it is no longer yours to do.")
    return f"{work.label} is now owned by {mention(new)}; they and {mention(old)} were told."


ACTION_WORK = WorkKind(kind=KIND, noun="action", open_work=open_work, find=find, problem=problem,
                       hand_over=hand_over, entity=ENTITY)

