"""Cover: which open work needs someone else, Q&I told once, and the Reassign and Close steps.

Work needs cover when its holder is away on the day it falls due (``directory.is_away``), has left
the directory (``Person.active`` false after an org import), or when its case has closed on the case
register. Every feature says how its own work is found and moved (``bot.core.work.WorkKind``); this
module asks the registry (``rt.features.work_kinds()``) and never imports a feature. Q&I hear of each
(work, reason, holder) once (``cover_notices``), by DM: it names workers, so never in a channel.
Permission is checked here, on the server: a button's value only says *which* work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from slack_sdk.models.views import View
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.core import work as work_rules
from bot.core.audit import record
from bot.core.calendar import WorkingCalendar
from bot.core.directory import is_away, people_with_role, who
from bot.core.errors import InvalidInput, NotFound, NotPermitted, QmfError
from bot.core.formatting import day, mention
from bot.core.jobs import JobContext, JobSpec, every_working_day
from bot.core.policy import Policy
from bot.core.roles import Role
from bot.core.todo import Todo
from bot.core.work import Move, Work, WorkKind, parse_key
from bot.cover import messages as blocks
from bot.cover.types import CLOSE_REASON, CoverIds, Need, Reason
from storage.models import CoverNotice, Person
from storage.models.sampling import CaseRegisterEntry

Kinds = Mapping[str, WorkKind]

# ---------------------------------------------------------------------------------------------
# what needs cover


def needing_cover(session: Session, today: date, kinds: Kinds) -> list[Need]:
    """Every open piece of work needing cover, with one reason each (closed case, then left, then
    away on its due date): the order in which the reason matters most."""
    works = [w for kind in kinds.values() for w in kind.open_work(session)]
    if not works:
        return []
    holders = {p.slack_id: p for p in session.scalars(
        select(Person).where(Person.slack_id.in_({w.holder for w in works})))}
    refs = {w.case_ref for w in works if w.case_ref}
    closed = set(session.scalars(select(CaseRegisterEntry.case_ref).where(
        CaseRegisterEntry.case_ref.in_(refs), CaseRegisterEntry.status == "closed"))) if refs else set()
    found: list[Need] = []
    for work in works:
        kind = kinds[work.kind]
        person = holders.get(work.holder)
        if work.case_ref in closed:
            found.append(Need(work, Reason.CLOSED, f"case {work.case_ref} has closed on the register",
                              can_close=kind.close is not None, can_reassign=kind.close is None))
        elif person is None or not person.active:
            found.append(Need(work, Reason.LEFT, "they have left the directory"))
        elif work.due is not None and work.due >= today and is_away(person, work.due):
            assert person.away_until is not None
            found.append(Need(work, Reason.AWAY, f"away until {day(person.away_until)}, past its due date"))
    return sorted(found, key=lambda n: (n.work.due or date.max, n.work.key))


def _claim(session: Session, need: Need) -> bool:
    """True the first time this (work, reason, holder) is seen: told once, also between processes."""
    try:
        with session.begin_nested():
            session.add(CoverNotice(work_key=need.work.key, reason=need.reason.value, holder=need.work.holder))
            session.flush()
    except IntegrityError:
        return False
    return True


def tell_qi(session: Session, today: date, kinds: Kinds) -> int:
    """DM each Q&I person the work newly needing cover; tell a closed case's holder once. Returns how many."""
    new = [need for need in needing_cover(session, today, kinds) if _claim(session, need)]
    if not new:
        return 0
    stamp = "|".join(f"{n.work.key}/{n.reason}/{n.work.holder}" for n in new)
    for person in people_with_role(session, Role.QUALITY_IMPROVEMENT):
        for n, (text, body) in enumerate(blocks.cover_message(new), start=1):
            outbox.enqueue(session, channel=person, text=text, blocks=body,
                           dedupe_key=f"cover:{person}:{n}:{hash_of(stamp)}")
    for need in new:
        if need.reason is Reason.CLOSED:
            outbox.enqueue(session, channel=need.work.holder, dedupe_key=f"cover-closed:{need.work.key}:{need.work.holder}",
                           text=(f"{need.work.label}: case {need.work.case_ref} has closed on the register, so it "
                                 "may not go ahead. Quality & Improvement have been told and will close it; if it "
                                 "is your proposal, you may withdraw it yourself."))
    record(session, "qmf-bot:cover", "notify", "cover", None, items=[n.work.key for n in new])
    return len(new)


def hash_of(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Reassign and Close


def _qi_only(session: Session, actor: str) -> None:
    if not who(session, actor).has(Role.QUALITY_IMPROVEMENT, Role.ADMIN):
        raise NotPermitted("Only Quality & Improvement or a QMF admin can reassign or close someone's work.")


def _open(session: Session, key: str, kinds: Kinds) -> tuple[WorkKind, Work]:
    parts = parse_key(key)
    if parts is None or parts[0] not in kinds:
        raise NotFound("Sorry, that button is out of date. Nothing was changed.")
    kind = kinds[parts[0]]
    work = kind.find(session, parts[1], parts[2])
    if work is None:
        raise QmfError(f"That {kind.noun} is no longer open (it may have been done, closed or moved): "
                       "nothing was changed.")
    return kind, work


def reassign_modal(session: Session, *, actor: str, key: str, kinds: Kinds) -> View:
    _qi_only(session, actor)
    _kind, work = _open(session, key, kinds)
    record(session, actor, "view", "cover", work.key)
    return blocks.reassign_modal(work.label, work.holder, work.key)


def reassign(session: Session, *, actor: str, key: str, new: str, kinds: Kinds, today: date,
             calendar: WorkingCalendar, policy: Policy) -> str:
    """Move the work; an inline error on the picker naming why the new person may not take it."""
    _qi_only(session, actor)
    kind, work = _open(session, key, kinds)
    if not new:
        raise InvalidInput({CoverIds.NEW_PERSON.value: "Choose who takes it over."})
    move = Move(session=session, today=today, calendar=calendar, policy=policy, actor=actor)
    why = work_rules.problem(kind, move, work, new)
    if why:
        raise InvalidInput({CoverIds.NEW_PERSON.value: why})
    return work_rules.reassign(kind, move, work, new)


def close_modal(session: Session, *, actor: str, key: str, kinds: Kinds) -> View:
    _qi_only(session, actor)
    kind, work = _open(session, key, kinds)
    if kind.close is None:
        raise QmfError(f"A {kind.noun} is not closed here: reassign it instead.")
    return blocks.close_modal(work.label, work.key)


def close(session: Session, *, actor: str, key: str, kinds: Kinds, today: date, calendar: WorkingCalendar,
          policy: Policy) -> str:
    _qi_only(session, actor)
    kind, work = _open(session, key, kinds)
    if kind.close is None:
        raise QmfError(f"A {kind.noun} is not closed here: reassign it instead.")
    move = Move(session=session, today=today, calendar=calendar, policy=policy, actor=actor)
    return kind.close(move, work, CLOSE_REASON)


# ---------------------------------------------------------------------------------------------
# App Home, and the daily job


def todo_for(session: Session, slack_id: str, today: date, kinds: Kinds) -> list[Todo]:
    """Q&I's App Home: what needs cover now (the registry hands ``kinds`` in: see bot.app.features)."""
    if not who(session, slack_id).has(Role.QUALITY_IMPROVEMENT):
        return []
    found: list[Todo] = []
    for need in needing_cover(session, today, kinds):
        close = need.can_close and not need.can_reassign
        found.append(Todo(
            due=need.work.due, kind="cover",
            text=f"*Needs cover:* {need.work.label}, held by {mention(need.work.holder)}: {need.words}.",
            button_label=blocks.button_label(blocks.CLOSE_LABEL if close else blocks.REASSIGN_LABEL, need),
            action_id=CoverIds.CLOSE if close else CoverIds.REASSIGN, value=need.work.key))
    return found


def list_cover_needed(ctx: JobContext) -> str:
    told = tell_qi(ctx.session, ctx.today, ctx.rt.features.work_kinds())
    return f"{told} piece{'s' if told != 1 else ''} of work newly needing cover listed to Quality & Improvement."


LIST_COVER_NEEDED_JOB = JobSpec(
    name="list-cover-needed",
    description="List to Quality & Improvement the work whose holder is away when it falls due, has left, "
                "or whose case has closed",
    cron={"day_of_week": "mon-fri", "hour": 8, "minute": 0},
    period=every_working_day,
    run=list_cover_needed,
)
