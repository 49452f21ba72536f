"""Case proposals without Slack: the round's dates, validation, duplicates, permissions, reminders, to-dos."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.directory import import_org
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.jobs import JobContext, NotDue
from bot.core.orgfile import load_org_file
from bot.core.policy import Policy
from bot.learning_audits import proposal_jobs, proposals, rounds
from bot.learning_audits.types import ProposalIds
from storage.models import AuditLogEntry, LearningRound, OutboxMessage, Person, Proposal, Team

LONDON = ZoneInfo("Europe/London")
CAL = WorkingCalendar()
POLICY = Policy()
Q1 = Quarter(2026, 1)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[arg-type,misc]


@pytest.fixture
def session(db) -> Iterator[Session]:
    with db.session() as s:
        import_org(s, load_org_file(SAMPLE_ORG))
    s = db.sessions()
    yield s
    s.rollback()
    s.close()


def ctx(session: Session, now: datetime, policy: Policy = POLICY) -> JobContext:
    return JobContext(rt=None, session=session, now=now,  # type: ignore[arg-type]
                      calendar=CAL, policy=policy)


def form(**kw: object) -> proposals.ProposalForm:
    values: dict[str, object] = {
        "case_ref": "CIC-10234", "team_key": "cic-north", "case_holder": "U0P1", "team_manager": None,
        "reason": "The plan changed course after the child's views were heard.", "flags": [],
    }
    values.update(kw)
    return proposals.ProposalForm(**values)  # type: ignore[arg-type]


def save(session: Session, actor: str = "U0TM1", now: datetime | None = None, proposal_id: int | None = None,
         **kw: object) -> Proposal:
    return proposals.save_proposal(session, actor=actor, form=form(**kw), proposal_id=proposal_id,
                                   now=now or at(2026, 4, 2, 10), calendar=CAL, policy=POLICY)


def stored(session: Session) -> list[Proposal]:
    return list(session.scalars(select(Proposal).order_by(Proposal.id)))


def outbox_to(session: Session, user: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == user)
                                .order_by(OutboxMessage.id)))


def refused(session: Session, **kw: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        save(session, **kw)
    assert stored(session) == []
    return caught.value.errors


# --- the round's dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quarter", "opens", "deadline"),
    [
        (Quarter(2026, 1), date(2026, 4, 1), date(2026, 4, 17)),  # Good Friday and Easter Monday skipped
        (Quarter(2026, 2), date(2026, 7, 1), date(2026, 7, 15)),
        (Quarter(2026, 4), date(2027, 1, 4), date(2027, 1, 18)),  # not New Year's Day
    ],
)
def test_the_deadline_counts_working_days_from_the_first_working_day(quarter, opens, deadline):
    dates = rounds.round_dates(CAL, POLICY, quarter)
    assert (dates.opens, dates.deadline) == (opens, deadline)
    assert CAL.working_days_between(dates.deadline, dates.audits_due) == POLICY.audit_window_working_days


def test_the_window_follows_the_councils_setting():
    short = Policy(proposal_window_working_days=3)
    assert rounds.round_dates(CAL, short, Q1).deadline == date(2026, 4, 8)


def test_opening_is_not_due_before_the_first_working_morning_or_after_the_deadline(session):
    period = proposal_jobs._open_period
    with pytest.raises(NotDue):
        period(ctx(session, at(2026, 4, 1, 8, 59)))
    assert period(ctx(session, at(2026, 4, 1, 9, 0))) == "2026-27Q1"
    with pytest.raises(NotDue):
        period(ctx(session, at(2026, 4, 3, 9, 0)))  # Good Friday: a catch-up waits for a working day
    assert period(ctx(session, at(2026, 4, 17, 9, 0))) == "2026-27Q1"
    with pytest.raises(NotDue):
        period(ctx(session, at(2026, 4, 20, 9, 0)))


def test_opening_asks_each_available_manager_once(session):
    session.scalar(select(Person).where(Person.slack_id == "U0TM5")).away_until = date(2026, 4, 10)
    summary = proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    assert "asked 11 managers" in summary and "1 away" in summary
    asked = {m.channel for m in session.scalars(select(OutboxMessage))}
    assert asked == {f"U0SM{i}" for i in range(1, 5)} | {f"U0TM{i}" for i in (1, 2, 3, 4, 6, 7, 8)}
    round_ = session.get(LearningRound, "2026-27Q1")
    assert round_.deadline == date(2026, 4, 17)
    again = proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    assert "asked 0 managers" in again
    assert len(session.scalars(select(OutboxMessage)).all()) == 11


def test_a_person_who_manages_a_service_and_a_team_is_asked_once(session):
    sm1 = session.scalar(select(Person.id).where(Person.slack_id == "U0SM1"))
    session.scalar(select(Team).where(Team.key == "cic-south")).team_manager_id = sm1
    people = [m.person.slack_id for m in proposal_jobs.managers(session)]
    assert people.count("U0SM1") == 1 and "U0TM2" not in people
    assert len(people) == 11


# --- proposing -------------------------------------------------------------------------------------


def test_a_valid_proposal_is_stored_logged_and_confirmed(session):
    proposal = save(session, flags=["lots_of_learning"], case_ref="cic-10234")
    assert (proposal.case_ref, proposal.live_ref, proposal.quarter) == ("CIC-10234", "CIC-10234", "2026-27Q1")
    assert proposal.lots_of_learning and not proposal.previously_inadequate
    assert proposal.team_manager.slack_id == "U0TM1"  # left empty: the team's manager
    assert proposal.created_at == at(2026, 4, 2, 10)
    [entry] = session.scalars(select(AuditLogEntry)).all()
    assert (entry.actor, entry.action, entry.entity_id) == ("U0TM1", "create", str(proposal.id))
    [dm] = outbox_to(session, "U0TM1")
    assert "CIC-10234" in dm.text
    assert session.get(LearningRound, "2026-27Q1") is not None  # proposing before the job opens the round


def test_a_bad_case_reference_is_refused_inline(session):
    errors = refused(session, case_ref="Jane Smith")
    assert set(errors) == {ProposalIds.CASE_REF}
    assert POLICY.case_reference_example in errors[ProposalIds.CASE_REF]


def test_the_case_reference_pattern_is_the_councils_setting():
    policy = Policy(case_reference_pattern=r"^\d{6}$", case_reference_example="123456")
    assert proposals.normalise_case_ref(" 123456 ", policy) == "123456"
    assert proposals.normalise_case_ref("CIC-10234", policy) is None


def test_every_missing_answer_is_named_at_once(session):
    errors = refused(session, case_ref="", team_key=None, case_holder=None, reason="  ")
    assert set(errors) == {ProposalIds.CASE_REF, ProposalIds.TEAM, ProposalIds.CASE_HOLDER,
                           ProposalIds.REASON}


@pytest.mark.parametrize("text", ["Moved to SW1A 1AA in May.", "Mum's number is 07700 900123.",
                                  "DOB 03/03/2015, then care.", "Email jo@example.org for notes."])
def test_identifying_details_in_the_reason_are_refused_inline(session, text):
    errors = refused(session, reason=text)
    assert "Why would this case give most learning" in errors[ProposalIds.REASON]


def test_a_case_holder_not_in_the_directory_says_whom_to_ask(session):
    errors = refused(session, case_holder="U0NOBODY")
    assert "<@U0NOBODY>" in errors[ProposalIds.CASE_HOLDER]
    assert "<@U0ADM1>" in errors[ProposalIds.CASE_HOLDER]


def test_the_same_case_twice_in_a_quarter_names_who_proposed_it_and_when(session):
    save(session, actor="U0TM1", now=at(2026, 4, 2, 10))
    with pytest.raises(InvalidInput) as caught:
        save(session, actor="U0SM2", now=at(2026, 4, 7, 10), case_ref="cic-10234")
    assert caught.value.errors[ProposalIds.CASE_REF] == (
        "CIC-10234 was already proposed for 2026-27 Q1 by <@U0TM1> on 2 Apr.")
    with pytest.raises(InvalidInput) as own:
        save(session, actor="U0TM1", now=at(2026, 4, 7, 10))
    assert "You already proposed CIC-10234" in own.value.errors[ProposalIds.CASE_REF]
    assert len(stored(session)) == 1


def test_the_same_case_may_be_proposed_again_next_quarter(session):
    save(session, now=at(2026, 4, 2, 10))
    save(session, now=at(2026, 7, 2, 10))
    assert [p.quarter for p in stored(session)] == ["2026-27Q1", "2026-27Q2"]


@pytest.mark.parametrize("actor", ["U0P1", "U0PC1", "U0DLT1", "U0STRANGER"])
def test_only_managers_qi_and_admins_may_propose(session, actor):
    with pytest.raises(NotPermitted):
        save(session, actor=actor)
    assert stored(session) == []


@pytest.mark.parametrize("actor", ["U0SM3", "U0TM8", "U0QI2", "U0ADM1"])
def test_managers_qi_and_admins_may_propose(session, actor):
    assert save(session, actor=actor).proposed_by.slack_id == actor


def test_proposals_close_at_allocation(session):
    proposal = save(session)
    session.get(LearningRound, "2026-27Q1").allocated_at = datetime(2026, 4, 20, 8, tzinfo=UTC)
    with pytest.raises(rounds.ProposalsClosed):
        save(session, actor="U0TM2", case_ref="CIC-555", now=at(2026, 4, 21, 10))
    with pytest.raises(rounds.ProposalsClosed):
        save(session, proposal_id=proposal.id, reason="Changed my mind about the reason.",
             now=at(2026, 4, 21, 10))
    with pytest.raises(rounds.ProposalsClosed):
        proposals.withdraw_proposal(session, actor="U0TM1", proposal_id=proposal.id, now=at(2026, 4, 21, 10),
                                    calendar=CAL)
    assert [(p.status, p.live_ref) for p in stored(session)] == [("proposed", "CIC-10234")]


# --- editing and withdrawing -------------------------------------------------------------------------


def test_the_proposer_edits_and_the_duplicate_check_ignores_their_own_proposal(session):
    proposal = save(session)
    edited = save(session, proposal_id=proposal.id, team_key="cic-south", case_holder="U0P4",
                  reason="Re-visit: the plan was once graded Inadequate.", flags=["revisit"])
    assert edited.id == proposal.id
    assert (edited.team.key, edited.team_manager.slack_id, edited.revisit) == ("cic-south", "U0TM2", True)
    assert [e.action for e in session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id))] == [
        "create", "edit"]
    assert len(outbox_to(session, "U0TM1")) == 2


def test_an_edit_cannot_take_a_case_someone_else_proposed(session):
    save(session, actor="U0TM2", case_ref="CIC-20000", case_holder="U0P4", team_key="cic-south")
    mine = save(session)
    with pytest.raises(InvalidInput) as caught:
        save(session, proposal_id=mine.id, case_ref="CIC-20000")
    assert "<@U0TM2>" in caught.value.errors[ProposalIds.CASE_REF]
    assert session.get(Proposal, mine.id).case_ref == "CIC-10234"


def test_only_the_proposer_or_qi_may_edit_or_withdraw(session):
    proposal = save(session)
    with pytest.raises(NotPermitted):
        save(session, actor="U0TM2", proposal_id=proposal.id, case_ref="CIC-99999")
    with pytest.raises(NotPermitted):
        proposals.withdraw_proposal(session, actor="U0SM1", proposal_id=proposal.id, now=at(2026, 4, 3, 10),
                                    calendar=CAL)
    save(session, actor="U0QI1", proposal_id=proposal.id, reason="Tidied by Q&I: strong family feedback.")
    [_, tidy] = outbox_to(session, "U0TM1")
    assert "<@U0QI1> updated your proposal" in tidy.text
    assert session.get(Proposal, proposal.id).proposed_by.slack_id == "U0TM1"


def test_withdrawing_clears_the_live_reference_and_cannot_happen_twice(session):
    proposal = save(session)
    words = proposals.withdraw_proposal(session, actor="U0TM1", proposal_id=proposal.id,
                                        now=at(2026, 4, 3, 10), calendar=CAL)
    assert "CIC-10234" in words
    assert (proposal.status, proposal.live_ref) == ("withdrawn", None)
    with pytest.raises(Conflict):
        proposals.withdraw_proposal(session, actor="U0TM1", proposal_id=proposal.id, now=at(2026, 4, 3, 11),
                                    calendar=CAL)
    assert proposals.live_proposals(session, "2026-27Q1") == []
    save(session, actor="U0SM1")  # the case is free again
    assert [p.proposed_by.slack_id for p in proposals.live_proposals(session, "2026-27Q1")] == ["U0SM1"]


# --- reminders and to-dos --------------------------------------------------------------------------


def reminders(session: Session, now: datetime) -> str:
    return proposal_jobs.send_proposal_reminders(ctx(session, now))


def reminded(session: Session) -> set[str]:
    return {m.channel for m in session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.like("proposal-reminder:%")))}


def test_managers_without_a_proposal_are_reminded_once_two_working_days_before(session):
    proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    save(session, actor="U0TM1")
    save(session, actor="U0SM2", case_ref="CP-1000", team_key="cp-east", case_holder="U0P6")
    assert "due on Wed 15 Apr 2026" in reminders(session, at(2026, 4, 14, 9))
    assert reminded(session) == set()
    assert "10 sent" in reminders(session, at(2026, 4, 15, 9))
    everyone = {f"U0SM{i}" for i in range(1, 5)} | {f"U0TM{i}" for i in range(1, 9)}
    assert reminded(session) == everyone - {"U0TM1", "U0SM2"}
    assert "0 sent" in reminders(session, at(2026, 4, 16, 9))
    assert "0 sent" in reminders(session, at(2026, 4, 17, 9))
    assert len(reminded(session)) == 10


def test_a_missed_reminder_day_is_made_up_on_the_next_working_day(session):
    proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    reminders(session, at(2026, 4, 14, 9))  # the job then missed Wednesday 15 April
    assert "12 sent" in reminders(session, at(2026, 4, 16, 9))
    assert "0 sent" in reminders(session, at(2026, 4, 17, 9))


def test_no_reminder_goes_out_after_the_deadline(session):
    proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    assert "deadline passed" in reminders(session, at(2026, 4, 20, 9))
    assert reminded(session) == set()


def test_nobody_away_or_on_a_day_off_is_reminded(session):
    proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    session.scalar(select(Person).where(Person.slack_id == "U0SM4")).away_until = date(2026, 4, 15)
    assert "not a working day" in reminders(session, at(2026, 4, 18, 9))  # a Saturday
    assert "1 away" in reminders(session, at(2026, 4, 15, 9))
    assert "U0SM4" not in reminded(session)
    reminders(session, at(2026, 4, 16, 9))  # back today, and still before the deadline
    assert "U0SM4" in reminded(session)


def test_reminders_follow_the_councils_setting(session):
    proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    same_day = Policy(reminder_working_days_before_deadline=0)
    day_before = proposal_jobs.send_proposal_reminders(ctx(session, at(2026, 4, 16, 9), same_day))
    assert "due on Fri 17 Apr" in day_before
    assert "12 sent" in proposal_jobs.send_proposal_reminders(ctx(session, at(2026, 4, 17, 9), same_day))


def test_a_manager_with_no_proposal_has_a_todo_due_on_the_deadline(session):
    assert proposal_jobs.todo_for(session, "U0TM1", date(2026, 4, 1)) == []  # no round yet
    proposal_jobs.open_proposals(ctx(session, at(2026, 4, 1, 9)))
    [todo] = proposal_jobs.todo_for(session, "U0TM1", date(2026, 4, 2))
    assert (todo.due, todo.kind, todo.button_label, todo.action_id) == (
        date(2026, 4, 17), "proposal", "Propose a case", ProposalIds.PROPOSE)
    assert proposal_jobs.todo_for(session, "U0P1", date(2026, 4, 2)) == []
    assert proposal_jobs.todo_for(session, "U0QI1", date(2026, 4, 2)) == []
    save(session, actor="U0TM1")
    assert proposal_jobs.todo_for(session, "U0TM1", date(2026, 4, 2)) == []
    session.get(LearningRound, "2026-27Q1").allocated_at = datetime(2026, 4, 20, 8, tzinfo=UTC)
    assert proposal_jobs.todo_for(session, "U0TM2", date(2026, 4, 21)) == []


def test_the_modal_is_prefilled_with_the_proposers_team_and_its_manager(session):
    view = proposals.proposal_view(session, actor="U0TM6", now=at(2026, 4, 2, 10), calendar=CAL,
                                   policy=POLICY)
    blocks = {b.block_id: b for b in view.blocks if getattr(b, "block_id", None)}
    assert blocks[ProposalIds.TEAM].element.initial_option.value == "cin-outreach"
    assert blocks[ProposalIds.TEAM_MANAGER].element.initial_user == "U0TM6"
    sm = proposals.proposal_view(session, actor="U0SM4", now=at(2026, 4, 2, 10), calendar=CAL, policy=POLICY)
    sm_blocks = {b.block_id: b for b in sm.blocks if getattr(b, "block_id", None)}
    assert sm_blocks[ProposalIds.TEAM].element.initial_option.value == "fd-mash"
    assert len(sm.private_metadata) < 3000


# ---------------------------------------------------------------------------------------------
# carrying a case that was not allocated into next quarter


def left_over(session: Session, actor: str = "U0TM1", **kw: object) -> Proposal:
    """A proposal through Q1's allocation, not allocated."""
    proposal = save(session, actor=actor, **kw)
    proposal.status = "not_allocated"
    proposal.not_allocated_reason = "Every Service Manager who is independent of it had already been given their 2 cases."
    rounds.current_round(session, Q1.key).allocated_at = datetime(2026, 4, 20, 8, tzinfo=UTC)  # type: ignore[union-attr]
    session.flush()
    return proposal


def carry(session: Session, proposal_id: int, actor: str = "U0TM1", now: datetime | None = None) -> str:
    from bot.learning_audits.carry import carry_forward

    return carry_forward(session, actor=actor, proposal_id=proposal_id, now=now or at(2026, 4, 21, 10),
                         calendar=CAL)


def q2(session: Session) -> list[Proposal]:
    return list(session.scalars(select(Proposal).where(Proposal.quarter == Q1.next().key)))


def test_a_case_left_over_is_carried_once_with_its_flags_and_logged(session):
    original = left_over(session, flags=["previously_inadequate"])
    assert "proposed again for *2026-27 Q2*" in carry(session, original.id)
    assert "already proposed again" in carry(session, original.id)
    [carried] = q2(session)
    assert (carried.carried_from_id, carried.status, carried.previously_inadequate) == (original.id, "proposed", True)
    assert carried.live_ref == original.case_ref and carried.proposed_by_id == original.proposed_by_id
    assert [e.action for e in session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity_id == str(carried.id)))] == ["carry"]


@pytest.mark.parametrize("status, words", [("allocated", "was allocated for a learning audit"),
                                           ("proposed", "has not been through")])
def test_only_a_case_left_over_can_be_carried(session, status, words):
    proposal = save(session)
    proposal.status = status
    with pytest.raises(Conflict, match=words):
        carry(session, proposal.id)
    assert q2(session) == []


@pytest.mark.parametrize("actor", ["U0TM2", "U0SM1", "U0P1", "U0STRANGER"])
def test_only_the_proposer_or_qi_may_carry_a_case(session, actor):
    original = left_over(session)
    with pytest.raises(NotPermitted):
        carry(session, original.id, actor=actor)
    assert q2(session) == []


def test_qi_may_carry_a_case_and_its_proposer_is_told(session):
    original = left_over(session)
    carry(session, original.id, actor="U0QI1")
    assert len(q2(session)) == 1
    assert any("<@U0QI1> proposed your case CIC-10234 again" in m.text for m in outbox_to(session, "U0TM1"))


def test_a_case_cannot_be_carried_into_a_quarter_already_allocated(session):
    original = left_over(session)
    session.add(LearningRound(quarter=Q1.next().key, deadline=date(2026, 7, 15),
                              allocated_at=datetime(2026, 7, 16, 8, tzinfo=UTC)))
    session.flush()
    with pytest.raises(rounds.ProposalsClosed, match="2026-27 Q3"):
        carry(session, original.id, now=at(2026, 7, 20, 10))
    assert q2(session) == []


def test_a_case_whose_holder_has_left_is_not_carried_and_the_proposer_is_told_what_to_do(session):
    original = left_over(session)
    session.scalar(select(Person).where(Person.slack_id == "U0P1")).active = False  # type: ignore[union-attr]
    with pytest.raises(Conflict, match=r"no longer in the QMF directory.*`/propose-case`"):
        carry(session, original.id)
    assert q2(session) == []


def test_a_case_already_proposed_next_quarter_is_not_proposed_twice(session):
    original = left_over(session)
    session.add(Proposal(quarter=Q1.next().key, case_ref="CIC-10234", live_ref="CIC-10234",
                         service_id=original.service_id, team_id=original.team_id,
                         case_holder_id=original.case_holder_id, team_manager_id=original.team_manager_id,
                         proposed_by_id=original.case_holder_id, reason="x"))
    session.flush()
    assert "already proposed for 2026-27 Q2" in carry(session, original.id)
    assert len(q2(session)) == 1
