"""Cover: which work needs someone else (away on its due date, left, case closed), the button key,
and Q&I told once per (work, reason, holder)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.directory import import_org
from bot.core.orgfile import load_org_file
from bot.core.work import Handover, Move, Work, WorkKind, parse_key
from bot.cover.service import needing_cover, tell_qi
from bot.cover.types import Reason
from storage.models import CoverNotice, OutboxMessage, Person, Team
from storage.models.sampling import CaseRegisterEntry

TODAY = date(2026, 4, 20)
DUE = date(2026, 6, 5)


@pytest.fixture
def session(db) -> Iterator[Session]:  # noqa: ANN001
    with db.session() as s:
        import_org(s, load_org_file(SAMPLE_ORG))
    s = db.sessions()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def _person(session: Session, slack_id: str) -> Person:
    return session.scalars(select(Person).where(Person.slack_id == slack_id)).one()


def kinds_of(*works: Work) -> dict[str, WorkKind]:
    def refuse(move: Move, work: Work, handover: Handover) -> str:
        raise AssertionError("not moved here")

    return {"test": WorkKind(kind="test", noun="test", open_work=lambda s: list(works),
                             find=lambda s, i, slot: None, problem=lambda m, w, n: None, hand_over=refuse)}


def work(holder: str, *, id: int = 1, due: date | None = DUE, case_ref: str | None = None) -> Work:  # noqa: A002
    return Work(kind="test", id=id, holder=holder, label=f"Test {id}", due=due, case_ref=case_ref)


def test_the_key_parses_back_and_a_forged_value_is_none():
    assert parse_key(work("U0SM1", id=12).key) == ("test", 12, "")
    assert parse_key("sample_case:7:qi") == ("sample_case", 7, "qi")
    for forged in ("", "learning_audit", "learning_audit:x:", "learning_audit:1", "a:1:b:c", "a:-1:"):
        assert parse_key(forged) is None, forged


def test_away_on_the_due_date_is_listed_and_away_only_before_it_is_not(session):
    sm1, sm2 = _person(session, "U0SM1"), _person(session, "U0SM2")
    sm1.away_from, sm1.away_until = date(2026, 6, 1), date(2026, 6, 12)
    sm2.away_from, sm2.away_until = date(2026, 5, 1), date(2026, 5, 8)  # back before it is due
    found = needing_cover(session, TODAY, kinds_of(work("U0SM1", id=1), work("U0SM2", id=2)))
    assert [(n.work.id, n.reason) for n in found] == [(1, Reason.AWAY)]
    assert "away until Fri 12 Jun 2026" in found[0].words


def test_a_holder_who_has_left_the_directory_is_listed(session):
    _person(session, "U0P3").active = False
    found = needing_cover(session, TODAY, kinds_of(work("U0P3"), work("U0P1", id=2)))
    assert [(n.work.id, n.reason) for n in found] == [(1, Reason.LEFT)]


def test_work_on_a_case_closed_on_the_register_is_listed(session):
    team = session.scalars(select(Team).where(Team.key == "cic-north")).one()
    for ref, status in (("CIC-9001", "closed"), ("CIC-9002", "open")):
        session.add(CaseRegisterEntry(case_ref=ref, service_id=team.service_id, team_id=team.id,
                                      case_holder_id=_person(session, "U0P1").id,
                                      team_manager_id=team.team_manager_id, status=status))
    session.flush()
    found = needing_cover(session, TODAY, kinds_of(work("U0SM2", id=1, case_ref="CIC-9001"),
                                                   work("U0SM2", id=2, case_ref="CIC-9002")))
    assert [(n.work.id, n.reason) for n in found] == [(1, Reason.CLOSED)]


def test_qi_are_told_once_per_work_reason_and_holder(session):
    _person(session, "U0P3").active = False
    kinds = kinds_of(work("U0P3"))
    assert tell_qi(session, TODAY, kinds) == 1
    to_qi = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "U0QI1"))
    assert to_qi == 1
    assert tell_qi(session, TODAY, kinds) == 0  # the next day's job, or a second `/qmf away`
    assert session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.channel == "U0QI1")) == 1
    _person(session, "U0P4").active = False
    assert tell_qi(session, TODAY, kinds_of(work("U0P4"))) == 1  # moved to someone who then left: told again
    assert session.scalar(select(func.count()).select_from(CoverNotice)) == 2


# ---------------------------------------------------------------------------------------------
# the rules every kind shares (bot.core.work.problem / reassign): written once, for every kind


def _move(session: Session) -> Move:
    from bot.core.calendar import WorkingCalendar
    from bot.core.policy import Policy

    return Move(session=session, today=TODAY, calendar=WorkingCalendar(), policy=Policy(), actor="U0QI1")


def _recording_kind(seen: list[Handover], rule: str | None = None) -> WorkKind:
    def hand_over(move: Move, work: Work, handover: Handover) -> str:
        seen.append(handover)
        return f"moved to {handover.new}"

    return WorkKind(kind="test", noun="test work", open_work=lambda s: [], find=lambda s, i, slot: None,
                    problem=lambda m, w, p: rule, hand_over=hand_over)


def test_the_holder_and_someone_not_in_the_directory_are_refused_before_the_kinds_own_rule(session):
    from bot.core.errors import Conflict
    from bot.core.work import problem, reassign

    seen: list[Handover] = []
    kind = _recording_kind(seen, rule="the kind's own reason")
    held = work("U0SM1")
    assert problem(kind, _move(session), held, "U0SM1") == "<@U0SM1> already holds this: Test 1. Choose someone else."
    assert "is not in the QMF directory" in (problem(kind, _move(session), held, "U0NOBODY") or "")
    _person(session, "U0SM2").active = False  # a leaver
    assert "is not in the QMF directory" in (problem(kind, _move(session), held, "U0SM2") or "")
    assert problem(kind, _move(session), held, "U0SM3") == "the kind's own reason"
    with pytest.raises(Conflict, match="the kind's own reason"):
        reassign(kind, _move(session), held, "U0SM3")
    assert seen == []  # nothing handed over when a rule says no


def test_each_move_is_audit_logged_and_keyed_afresh_so_a_move_back_tells_again(session):
    from bot.core.work import reassign
    from storage.models import AuditLogEntry

    seen: list[Handover] = []
    kind = _recording_kind(seen)
    assert reassign(kind, _move(session), work("U0SM1", case_ref="CIN-3002"), "U0SM3") == "moved to U0SM3"
    reassign(kind, _move(session), work("U0SM3", case_ref="CIN-3002"), "U0SM1")
    reassign(kind, _move(session), work("U0SM1", case_ref="CIN-3002"), "U0SM3")
    assert [(h.previous, h.new) for h in seen] == [("U0SM1", "U0SM3"), ("U0SM3", "U0SM1"), ("U0SM1", "U0SM3")]
    assert len({h.key for h in seen}) == 3  # the third move to U0SM3 is told again
    log = session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "reassign")
                          .order_by(AuditLogEntry.id)).all()
    assert [(e.actor, e.entity, e.entity_id, e.detail) for e in log][0] == (
        "U0QI1", "test", "1", {"from": "U0SM1", "to": "U0SM3", "case_ref": "CIN-3002"})
    assert len(log) == 3
