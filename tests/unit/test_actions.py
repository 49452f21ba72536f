"""Action plans: validation, drafts, who may mark done, counts in SQL, reminders and escalation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.actions import messages as blocks
from bot.actions import service as actions
from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.calendar import WorkingCalendar
from bot.core.directory import import_org
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.features import Feature, Features
from bot.core.jobs import JobContext
from bot.core.orgfile import load_org_file
from bot.core.policy import Policy
from storage.models import Action, LearningAudit, OutboxMessage, Person, Proposal, Service, Team
from tests.conftest import london

CALENDAR = WorkingCalendar()
GOOD_FRIDAY, EASTER_MONDAY = date(2026, 4, 3), date(2026, 4, 6)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock(london(2026, 4, 1, 9, 0))


@pytest.fixture
def session(db, clock) -> Iterator[Session]:
    with db.session() as s:
        import_org(s, load_org_file(SAMPLE_ORG))
    s = db.sessions()
    s.info[actions.CLOCK_KEY] = clock
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def person(session: Session, slack_id: str) -> Person:
    return session.scalars(select(Person).where(Person.slack_id == slack_id)).one()


def make_audit(session: Session, case_ref: str = "CIC-10234") -> LearningAudit:
    service = session.scalars(select(Service).where(Service.key == "cic")).one()
    team = session.scalars(select(Team).where(Team.key == "cic-north")).one()
    holder, tm, auditor = person(session, "U0P1"), person(session, "U0TM1"), person(session, "U0SM2")
    proposal = Proposal(quarter="2026-27Q1", case_ref=case_ref, live_ref=case_ref, service_id=service.id,
                        team_id=team.id, case_holder_id=holder.id, team_manager_id=tm.id, proposed_by_id=tm.id,
                        reason="A lot of learning about drift", status="allocated")
    session.add(proposal)
    session.flush()
    audit = LearningAudit(quarter="2026-27Q1", proposal_id=proposal.id, auditor_id=auditor.id, case_ref=case_ref,
                          service_id=service.id, team_id=team.id, case_holder_id=holder.id,
                          team_manager_id=tm.id)
    session.add(audit)
    session.flush()
    return audit


def new_action(session: Session, *, owner: str = "U0P1", due: date = date(2026, 4, 10),
               created_by: str | None = "U0SM2", status: str = "open", source_id: int = 1,
               source_kind: str = "learning_audit", service_id: int | None = None, quarter: str | None = "2026-27Q1",
               description: str = "Update the chronology and the plan after the review") -> Action:
    return actions.add_action(session, source_kind=source_kind, source_id=source_id, owner=owner,
                              description=description, due_on=due, created_by=created_by, service_id=service_id,
                              quarter=quarter, status=status)


def dms(session: Session, prefix: str = "action:") -> list[OutboxMessage]:
    session.flush()
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"{prefix}%")).order_by(OutboxMessage.id)))


def run_reminders(session: Session, day: date, policy: Policy | None = None) -> str:
    ctx = JobContext(rt=None, session=session, now=london(day.year, day.month, day.day, 9, 30),  # type: ignore[arg-type]
                     calendar=CALENDAR, policy=policy or Policy())
    return actions.send_action_reminders(ctx)


def reminder_log(session: Session, clock: Clock, first: date, last: date) -> dict[date, list[tuple[str, str]]]:
    """Run the reminders each working day from first to last: what went to whom, by day."""
    seen = {m.id for m in dms(session)}
    out: dict[date, list[tuple[str, str]]] = {}
    day = first
    while day <= last:
        if CALENDAR.is_working_day(day):
            clock.moment = london(day.year, day.month, day.day, 9, 30)
            run_reminders(session, day)
            new = [m for m in dms(session) if m.id not in seen]
            seen |= {m.id for m in new}
            if new:
                out[day] = [(m.channel, m.dedupe_key.rsplit(":", 1)[1]) for m in new]
        day += timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------------
# creating


def test_an_open_action_is_dmed_at_once_with_its_due_date_source_and_mark_done(session):
    audit = make_audit(session)
    action = new_action(session, source_id=audit.id)
    [dm] = dms(session)
    assert dm.channel == "U0P1"
    assert dm.dedupe_key == f"action:{action.id}:assigned"
    assert "from the learning audit of CIC-10234" in dm.text
    assert "Fri 10 Apr 2026" in dm.text
    buttons = [e for b in dm.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Mark done", "action-mark-done", str(action.id))]


def test_a_draft_tells_nobody_until_its_record_is_published(session):
    first = new_action(session, status="draft", source_id=7)
    second = new_action(session, status="draft", source_id=7, owner="U0P2", due=date(2026, 4, 8))
    new_action(session, status="draft", source_id=8)
    assert dms(session) == []
    published = actions.publish_drafts(session, source_kind="learning_audit", source_id=7)
    assert [a.id for a in published] == [second.id, first.id]  # by due date
    assert all(a.status == "open" for a in published)
    assert sorted(m.channel for m in dms(session)) == ["U0P1", "U0P2"]
    assert actions.publish_drafts(session, source_kind="learning_audit", source_id=7) == []
    assert len(dms(session)) == 2


def test_a_missing_owner_a_past_date_and_a_postcode_are_inline_errors_and_nothing_is_stored(session):
    with pytest.raises(InvalidInput) as caught:
        new_action(session, owner="U0NOBODY", due=date(2026, 3, 31), description="Visit the family at B33 8TH")
    assert set(caught.value.errors) == {"action-owner", "action-due", "action-description"}
    assert "not in the QMF directory" in caught.value.errors["action-owner"]
    assert "postcode" in caught.value.errors["action-description"]
    with pytest.raises(InvalidInput) as empty:
        new_action(session, description="   ")
    assert set(empty.value.errors) == {"action-description"}
    assert session.scalars(select(Action)).all() == []
    assert dms(session) == []


def test_today_is_a_valid_due_date_and_the_clock_decides_what_today_is(session, clock):
    assert new_action(session, due=date(2026, 4, 1)).due_on == date(2026, 4, 1)
    clock.moment = london(2026, 4, 2, 9, 0)
    with pytest.raises(InvalidInput):
        new_action(session, due=date(2026, 4, 1))


def test_only_the_creator_can_delete_a_draft_and_only_while_it_is_a_draft(session):
    draft = new_action(session, status="draft")
    with pytest.raises(NotPermitted):
        actions.delete_draft(session, draft.id, "U0P1")
    actions.delete_draft(session, draft.id, "U0SM2")
    assert session.get(Action, draft.id) is None
    live = new_action(session)
    with pytest.raises(Conflict):
        actions.delete_draft(session, live.id, "U0SM2")


# ---------------------------------------------------------------------------------------------
# done


@pytest.mark.parametrize(("actor", "allowed"), [
    ("U0P1", True),     # the owner
    ("U0TM1", True),    # their team manager
    ("U0ADM1", True),   # an admin
    ("U0TM2", False),   # another team's manager
    ("U0P2", False),    # a colleague
    ("U0SM2", False),   # the auditor who created it
    ("U0STRANGER", False),
])
def test_the_owner_their_team_manager_or_an_admin_may_mark_done(session, actor, allowed):
    action = new_action(session)
    if allowed:
        assert actions.mark_done(session, action.id, actor).status == "done"
    else:
        with pytest.raises(NotPermitted, match="only <@U0P1>"):
            actions.mark_done(session, action.id, actor)
        assert session.get(Action, action.id).status == "open"


def test_a_team_managers_action_may_be_marked_done_by_their_service_manager(session):
    action = new_action(session, owner="U0TM3", created_by="U0SM1")
    with pytest.raises(NotPermitted):
        actions.mark_done(session, action.id, "U0SM1")  # the creator, but not their manager
    assert actions.mark_done(session, action.id, "U0SM2").status == "done"


def test_marking_done_twice_is_harmless_and_tells_the_creator_once(session, clock):
    action = new_action(session)
    clock.moment = london(2026, 4, 7, 14, 0)
    first = actions.mark_done(session, action.id, "U0TM1")
    assert first.done_at == london(2026, 4, 7, 14, 0)
    again = actions.mark_done(session, action.id, "U0P1")
    assert again.status == "done"
    assert again.done_at == first.done_at
    assert actions.done_by(session, again) == "U0TM1"
    assert actions.done_on(session, again) == date(2026, 4, 7)
    told = [m for m in dms(session) if m.dedupe_key.endswith(":done")]
    assert [m.channel for m in told] == ["U0SM2"]
    assert "<@U0TM1> (for <@U0P1>)" in told[0].text


def test_a_draft_cannot_be_marked_done(session):
    draft = new_action(session, status="draft")
    with pytest.raises(Conflict):
        actions.mark_done(session, draft.id, "U0P1")


# ---------------------------------------------------------------------------------------------
# reading


def test_open_actions_are_in_due_date_order_without_done_or_draft_ones(session):
    late = new_action(session, due=date(2026, 5, 1))
    soon = new_action(session, due=date(2026, 4, 2))
    done = new_action(session, due=date(2026, 4, 3))
    new_action(session, due=date(2026, 4, 1), status="draft")
    new_action(session, owner="U0P2")
    actions.mark_done(session, done.id, "U0P1")
    assert [a.id for a in actions.open_actions(session, "U0P1")] == [soon.id, late.id]


def test_actions_for_a_record_include_drafts_only_when_asked(session):
    live = new_action(session, source_id=5)
    draft = new_action(session, source_id=5, status="draft", due=date(2026, 4, 2))
    assert [a.id for a in actions.actions_for(session, source_kind="learning_audit", source_id=5)] == [
        draft.id, live.id]
    assert [a.id for a in actions.actions_for(session, source_kind="learning_audit", source_id=5,
                                              include_drafts=False)] == [live.id]


def test_action_counts_come_from_one_aggregate_query_with_overdue_counted(session, db, clock):
    cic = session.scalars(select(Service).where(Service.key == "cic")).one()
    cp = session.scalars(select(Service).where(Service.key == "cp")).one()
    new_action(session, due=date(2026, 4, 2), service_id=cic.id)                      # overdue by the 10th
    new_action(session, due=date(2026, 4, 20), service_id=cic.id)                     # open
    done = new_action(session, due=date(2026, 4, 2), service_id=cic.id)                # done
    new_action(session, due=date(2026, 4, 2), service_id=cic.id, status="draft")      # not counted
    new_action(session, due=date(2026, 4, 2), service_id=cp.id, source_kind="random_sample")
    new_action(session, due=date(2026, 4, 2), service_id=cic.id, quarter="2026-27Q2")
    actions.mark_done(session, done.id, "U0P1")
    session.flush()

    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        counts = actions.action_counts(session, today=date(2026, 4, 10), service_id=cic.id, quarter="2026-27Q1")
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert counts == {"open": 2, "done": 1, "overdue": 1}
    assert len(statements) == 1
    assert "CASE" in statements[0].upper() and "SUM(" in statements[0].upper()

    assert actions.action_counts(session, today=date(2026, 4, 10)) == {"open": 4, "done": 1, "overdue": 3}
    assert actions.action_counts(session, today=date(2026, 4, 1)) == {"open": 4, "done": 1, "overdue": 0}
    assert actions.action_counts(session, today=date(2026, 4, 10), source_kinds=["random_sample"]) == {
        "open": 1, "done": 0, "overdue": 1}
    assert actions.action_counts(session, today=date(2026, 4, 10), source_kinds=["themed_audit"]) == {
        "open": 0, "done": 0, "overdue": 0}


def test_action_counts_per_record_are_one_group_by(session):
    new_action(session, source_id=1, due=date(2026, 4, 2))
    new_action(session, source_id=1, due=date(2026, 4, 20))
    done = new_action(session, source_id=2, due=date(2026, 4, 2))
    new_action(session, source_id=3, status="draft")
    new_action(session, source_id=1, source_kind="learning_visit")
    actions.mark_done(session, done.id, "U0P1")
    assert actions.action_counts_by_source(session, today=date(2026, 4, 10), source_kind="learning_audit") == {
        1: {"open": 2, "done": 0, "overdue": 1},
        2: {"open": 0, "done": 1, "overdue": 0},
    }
    assert actions.action_counts_by_source(session, today=date(2026, 4, 10), source_kind="learning_audit",
                                           source_ids=[2, 3]) == {2: {"open": 0, "done": 1, "overdue": 0}}


def test_todo_lists_open_actions_with_the_same_mark_done_button(session):
    action = new_action(session, due=date(2026, 4, 2))
    [todo] = actions.todo_for(session, "U0P1", date(2026, 4, 7))
    assert (todo.due, todo.kind, todo.button_label, todo.action_id, todo.value) == (
        date(2026, 4, 2), "action", "Mark done", "action-mark-done", str(action.id))
    assert "overdue" in todo.text
    assert actions.todo_for(session, "U0P2", date(2026, 4, 7)) == []


# ---------------------------------------------------------------------------------------------
# reminders


def test_the_calendar_agrees_easter_2026_is_3_to_6_april():
    assert not CALENDAR.is_working_day(GOOD_FRIDAY)
    assert not CALENDAR.is_working_day(EASTER_MONDAY)
    assert CALENDAR.add_working_days(date(2026, 4, 10), -2) == date(2026, 4, 8)


def test_reminders_two_working_days_before_and_on_the_due_date_then_one_escalation(session, clock):
    action = new_action(session, due=date(2026, 4, 10))
    log = reminder_log(session, clock, date(2026, 4, 1), date(2026, 4, 24))
    assert log == {
        date(2026, 4, 8): [("U0P1", "reminder-before")],
        date(2026, 4, 10): [("U0P1", "reminder-due")],
        date(2026, 4, 13): [("U0TM1", "escalation")],
    }
    assert session.get(Action, action.id).escalated_at == london(2026, 4, 13, 9, 30)
    before = next(m for m in dms(session) if m.dedupe_key.endswith("reminder-before"))
    assert "in 2 working days" in before.text or "in 2 working days" in str(before.blocks)


def test_a_due_date_on_good_friday_is_reminded_before_easter_and_escalated_after_it(session, clock):
    clock.moment = london(2026, 3, 27, 12, 0)
    new_action(session, due=GOOD_FRIDAY)
    log = reminder_log(session, clock, date(2026, 3, 30), date(2026, 4, 10))
    assert log == {
        date(2026, 4, 1): [("U0P1", "reminder-before")],   # 2 working days before the Thursday deadline
        date(2026, 4, 2): [("U0P1", "reminder-due")],      # the last working day before Good Friday
        date(2026, 4, 7): [("U0TM1", "escalation")],      # the working day after Easter Monday
    }


def test_nothing_is_sent_on_a_bank_holiday(session, clock):
    clock.moment = london(2026, 3, 27, 12, 0)
    new_action(session, due=date(2026, 4, 1))
    assert "not a working day" in run_reminders(session, GOOD_FRIDAY)
    assert [m for m in dms(session) if "reminder" in m.dedupe_key or "escalation" in m.dedupe_key] == []


def test_an_action_made_today_is_not_also_reminded_today(session):
    new_action(session, due=date(2026, 4, 2))
    run_reminders(session, date(2026, 4, 1))
    assert [m.dedupe_key.rsplit(":", 1)[1] for m in dms(session)] == ["assigned"]


def test_the_escalation_goes_once_even_when_the_job_runs_for_weeks(session, clock):
    action = new_action(session, due=date(2026, 4, 2))
    log = reminder_log(session, clock, date(2026, 4, 7), date(2026, 5, 29))
    assert log == {date(2026, 4, 7): [("U0TM1", "escalation")]}
    assert "overdue" in run_reminders(session, date(2026, 6, 1))
    assert session.get(Action, action.id).escalated_at is not None


def test_an_owner_who_is_a_team_manager_is_escalated_to_their_service_manager(session, clock):
    new_action(session, owner="U0TM3", created_by="U0SM1", due=date(2026, 4, 2))
    log = reminder_log(session, clock, date(2026, 4, 7), date(2026, 4, 7))
    assert log == {date(2026, 4, 7): [("U0SM2", "escalation")]}
    [escalation] = [m for m in dms(session) if m.dedupe_key.endswith("escalation")]
    assert "<@U0TM3>" in escalation.text
    assert "Service Manager" in str(escalation.blocks)


def test_an_away_owner_is_not_reminded_but_their_manager_still_hears_when_overdue(session, clock):
    person(session, "U0P1").away_until = date(2026, 4, 30)
    new_action(session, due=date(2026, 4, 10))
    log = reminder_log(session, clock, date(2026, 4, 2), date(2026, 4, 17))
    assert log == {date(2026, 4, 13): [("U0TM1", "escalation")]}


def test_an_owner_back_from_leave_gets_the_reminder_they_missed_before_the_due_date(session, clock):
    person(session, "U0P1").away_until = date(2026, 4, 8)
    new_action(session, due=date(2026, 4, 10))
    log = reminder_log(session, clock, date(2026, 4, 2), date(2026, 4, 10))
    assert log == {date(2026, 4, 9): [("U0P1", "reminder-before")], date(2026, 4, 10): [("U0P1", "reminder-due")]}


def test_an_away_team_manager_is_passed_over_for_their_service_manager(session, clock):
    person(session, "U0TM1").away_until = date(2026, 4, 30)
    new_action(session, due=date(2026, 4, 2))
    assert reminder_log(session, clock, date(2026, 4, 7), date(2026, 4, 8)) == {
        date(2026, 4, 7): [("U0SM1", "escalation")]}


def test_an_owner_with_no_manager_in_the_directory_is_escalated_to_whoever_added_the_action(session, clock):
    new_action(session, owner="U0QI1", created_by="U0SM2", due=date(2026, 4, 2))
    assert reminder_log(session, clock, date(2026, 4, 7), date(2026, 4, 7)) == {
        date(2026, 4, 7): [("U0SM2", "escalation")]}
    [escalation] = [m for m in dms(session) if m.dedupe_key.endswith("escalation")]
    assert "the person who added it" in str(escalation.blocks)


def test_done_actions_get_no_reminders(session, clock):
    action = new_action(session, due=date(2026, 4, 10))
    actions.mark_done(session, action.id, "U0P1")
    assert reminder_log(session, clock, date(2026, 4, 2), date(2026, 4, 20)) == {}


def test_the_reminder_lead_time_is_the_councils_setting(session, clock):
    new_action(session, due=date(2026, 4, 17))
    policy = Policy(action_reminder_working_days_before=4)
    run_reminders(session, date(2026, 4, 10), policy)
    assert [m.dedupe_key.rsplit(":", 1)[1] for m in dms(session)] == ["assigned"]
    run_reminders(session, date(2026, 4, 13), policy)
    assert [m.dedupe_key.rsplit(":", 1)[1] for m in dms(session)] == ["assigned", "reminder-before"]


# ---------------------------------------------------------------------------------------------
# the send-reminders job and the blocks other flows reuse


def test_one_failing_flow_does_not_stop_the_action_reminders(session, clock, monkeypatch):
    from schedules import reminders

    def send_sampling_reminders(ctx):  # noqa: ANN001
        from bot.core import outbox

        outbox.enqueue(ctx.session, channel="U0QI1", text="half-sent", dedupe_key="sampling:broken")
        raise RuntimeError("boom")

    features = Features((Feature("test", reminders=(("actions", actions.send_action_reminders),
                                                    ("random sampling", send_sampling_reminders))),))
    new_action(session, due=date(2026, 4, 10))
    clock.moment = london(2026, 4, 8, 9, 30)
    ctx = JobContext(rt=SimpleNamespace(features=features), session=session, now=clock.moment,  # type: ignore[arg-type]
                     calendar=CALENDAR, policy=Policy())
    summary = reminders.send_reminders(ctx)
    assert "1 reminder(s) before due" in summary
    assert "random sampling: failed, nothing sent" in summary
    assert [m.dedupe_key for m in dms(session, "")] == [m.dedupe_key for m in dms(session, "action:")]
    assert [m.dedupe_key.rsplit(":", 1)[1] for m in dms(session)] == ["assigned", "reminder-before"]


def test_action_inputs_have_the_block_ids_add_action_uses_and_the_privacy_hint():
    rendered = [b.to_dict() for b in blocks.action_input_blocks(initial_owner="U0P1")]
    assert [b["block_id"] for b in rendered] == ["action-owner", "action-due", "action-description"]
    assert [b["label"]["text"] for b in rendered] == ["Owner", "Due date", "What needs to happen"]
    assert rendered[0]["element"]["type"] == "users_select"
    assert rendered[0]["element"]["initial_user"] == "U0P1"
    assert rendered[1]["element"]["type"] == "datepicker"
    assert rendered[2]["element"]["multiline"] is True
    assert rendered[2]["hint"]["text"] == "No names or identifying details."


def test_the_ready_action_modal_carries_the_privacy_notice_and_the_three_inputs():
    view = blocks.action_modal(callback_id="audit-action", private_metadata='{"audit": 1}').to_dict()
    assert "not the case record" in view["blocks"][0]["elements"][0]["text"]
    assert [b.get("block_id") for b in view["blocks"][1:]] == ["action-owner", "action-due", "action-description"]
    assert view["submit"]["text"] == "Add action"


def test_parsing_action_values_gives_owner_date_and_words_or_inline_errors():
    values = {"action-owner": "U0P1", "action-due": "2026-04-10", "action-description": " Update the plan "}
    assert blocks.parse_action_values(values) == ("U0P1", date(2026, 4, 10), "Update the plan")
    with pytest.raises(InvalidInput) as caught:
        blocks.parse_action_values({"action-owner": None, "action-due": "tomorrow", "action-description": ""})
    assert set(caught.value.errors) == {"action-owner", "action-due", "action-description"}


def test_an_action_list_is_one_compact_line_per_action(session):
    first = new_action(session, due=date(2026, 4, 3), description="Update the chronology")
    second = new_action(session, owner="U0TM1", due=date(2026, 4, 20), description="Check supervision\nnotes")
    [block] = blocks.action_list_blocks([first, second])
    assert block.to_dict()["text"]["text"] == (
        "• <@U0P1> by 3 Apr 2026: Update the chronology\n• <@U0TM1> by 20 Apr 2026: Check supervision notes")
    assert blocks.action_list_blocks([]) == []
