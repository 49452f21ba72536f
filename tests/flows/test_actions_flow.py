"""Action plans as people meet them in Slack: the DM, "Mark done", `/qmf actions`, reminders, escalation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.actions import service as actions
from bot.app.sandbox.render import buttons, render_blocks
from bot.core.calendar import WorkingCalendar
from storage.models import Action, LearningAudit, Person, Proposal, Service, Team
from tests.conftest import london

CALENDAR = WorkingCalendar()


def _person(session, slack_id: str) -> Person:  # noqa: ANN001
    return session.scalars(select(Person).where(Person.slack_id == slack_id)).one()


def add_audit_action(bot, *, owner: str = "U0P1", due: date = date(2026, 4, 10),  # noqa: ANN001
                     description: str = "Update the chronology after the review") -> int:
    """An auditor (U0SM2) records an action on the learning audit of CIC-10234, as the audit flow does."""
    with bot.rt.db.session() as s:
        service = s.scalars(select(Service).where(Service.key == "cic")).one()
        team = s.scalars(select(Team).where(Team.key == "cic-north")).one()
        holder, tm, auditor = _person(s, "U0P1"), _person(s, "U0TM1"), _person(s, "U0SM2")
        audit = s.scalar(select(LearningAudit).where(LearningAudit.case_ref == "CIC-10234"))
        if audit is None:
            proposal = Proposal(quarter="2026-27Q1", case_ref="CIC-10234", live_ref="CIC-10234",
                                service_id=service.id, team_id=team.id, case_holder_id=holder.id,
                                team_manager_id=tm.id, proposed_by_id=tm.id, reason="Drift", status="allocated")
            s.add(proposal)
            s.flush()
            audit = LearningAudit(quarter="2026-27Q1", proposal_id=proposal.id, auditor_id=auditor.id,
                                  case_ref="CIC-10234", service_id=service.id, team_id=team.id,
                                  case_holder_id=holder.id, team_manager_id=tm.id)
            s.add(audit)
            s.flush()
        action = actions.add_action(s, source_kind="learning_audit", source_id=audit.id, owner=owner,
                                    description=description, due_on=due, created_by="U0SM2",
                                    service_id=service.id, quarter="2026-27Q1", status="open")
        action_id = action.id
    bot.rt.wait_idle()
    return action_id


def about(fake, user: str, action_id: int) -> list[dict[str, Any]]:  # noqa: ANN001
    """The DMs a person has had about one action (other flows may DM them about other things)."""
    return [m for m in fake.dms(user) if ("Mark done", str(action_id)) in buttons(m)]


def status_of(bot, action_id: int) -> str:  # noqa: ANN001
    with bot.rt.db.session() as s:
        return s.get(Action, action_id).status


def test_the_owner_marks_their_action_done_from_the_dm_and_a_replayed_click_is_refused(bot, slack, fake):
    action_id = add_audit_action(bot)
    [dm] = fake.dms("U0P1")
    seen = render_blocks(dm["blocks"])
    assert "from the learning audit of CIC-10234" in seen
    assert "Fri 10 Apr 2026" in seen
    assert "Update the chronology after the review" in seen
    assert buttons(dm) == [("Mark done", str(action_id))]

    refused = slack.click("U0P2", "Mark done", message=dm)  # a colleague replays the owner's payload
    assert "only <@U0P1>, their team manager or a QMF admin" in refused.text
    assert status_of(bot, action_id) == "open"
    assert buttons(fake.message(dm["channel"], dm["ts"])) == [("Mark done", str(action_id))]

    slack.click("U0P1", "Mark done", message=dm)
    assert status_of(bot, action_id) == "done"
    updated = fake.message(dm["channel"], dm["ts"])
    assert buttons(updated) == []
    shown = render_blocks(updated["blocks"])
    assert "Done on 1 Apr 2026 by <@U0P1>" in shown
    assert "Update the chronology after the review" in shown  # the action is still readable
    assert "Press *Mark done*" not in shown

    [told] = [m for m in fake.dms("U0SM2") if "marked done" in m["text"]]
    assert "<@U0P1> marked done the action you added from the learning audit of CIC-10234" in told["text"]

    assert fake.problems == []


def test_the_team_manager_can_mark_it_done_from_the_escalation(bot, slack, fake):
    action_id = add_audit_action(bot, due=date(2026, 4, 2))
    outcome = bot.run_job("send-reminders", at=london(2026, 4, 7, 9, 30))
    assert outcome.status == "done"
    [escalation] = about(fake, "U0TM1", action_id)
    assert "overdue" in escalation["text"]
    slack.click("U0TM1", "Mark done", message=escalation)
    assert status_of(bot, action_id) == "done"
    assert "Done on 7 Apr 2026 by <@U0TM1>" in render_blocks(fake.message(escalation["channel"],
                                                                          escalation["ts"])["blocks"])
    assert fake.problems == []


def test_qmf_actions_lists_open_actions_by_due_date_with_overdue_marked(bot, slack, fake):
    later = add_audit_action(bot, due=date(2026, 4, 20), description="Book reflective supervision")
    sooner = add_audit_action(bot, due=date(2026, 4, 2), description="Update the chronology")
    finished = add_audit_action(bot, due=date(2026, 4, 8), description="Review the plan")
    slack.click("U0P1", "Mark done", message=about(fake, "U0P1", finished)[0])
    bot.set_time(london(2026, 4, 7, 10, 0))

    reply = slack.command("U0P1", "/qmf", "actions")
    assert reply.text == "You have 2 open action(s), 1 overdue."
    [listing] = fake.ephemerals("U0P1")
    shown = render_blocks(listing["blocks"])
    assert shown.index("Update the chronology") < shown.index("Book reflective supervision")
    assert "Review the plan" not in shown
    assert "2 open, 1 overdue" in shown
    assert "overdue" in shown.split("Update the chronology")[0].splitlines()[-1]
    assert buttons(listing) == [("Mark done", str(sooner)), ("Mark done", str(later))]

    slack.click("U0P1", "Mark done", value=str(sooner), message=listing)
    assert status_of(bot, sooner) == "done"
    [refreshed] = fake.ephemerals("U0P1")
    assert buttons(refreshed) == [("Mark done", str(later))]
    assert "Done on 7 Apr 2026 by <@U0P1>" in render_blocks(refreshed["blocks"])

    nothing = slack.command("U0P3", "/qmf", "actions")
    assert "no open actions" in nothing.text
    assert fake.problems == []


def test_send_reminders_on_successive_days_sends_each_reminder_and_the_escalation_once(bot, slack, fake):
    action_id = add_audit_action(bot, due=date(2026, 4, 10))  # Friday 10 April; Easter is 3-6 April
    got: dict[date, list[str]] = {}
    day = date(2026, 4, 2)
    while day <= date(2026, 4, 17):
        before = {u: len(about(fake, u, action_id)) for u in ("U0P1", "U0TM1")}
        outcome = bot.run_job("send-reminders", at=london(day.year, day.month, day.day, 9, 30))
        if not CALENDAR.is_working_day(day):
            assert outcome.status == "not-due"
        else:
            assert outcome.status == "done"
            again = bot.run_job("send-reminders", at=london(day.year, day.month, day.day, 15, 0))
            assert again.status == "already-done"
        for user in ("U0P1", "U0TM1"):
            new = about(fake, user, action_id)[before[user]:]
            got.setdefault(day, []).extend(f"{user}: {m['text'].split(' ')[0]}" for m in new)
        day += timedelta(days=1)
    sent = {d: v for d, v in got.items() if v}
    assert sent == {
        date(2026, 4, 8): ["U0P1: Reminder:"],
        date(2026, 4, 10): ["U0P1: Your"],
        date(2026, 4, 13): ["U0TM1: An"],
    }
    [due_today] = [m for m in about(fake, "U0P1", action_id) if "due today" in m["text"]]
    assert buttons(due_today) == [("Mark done", str(action_id))]
    [escalation] = about(fake, "U0TM1", action_id)
    assert "An action owned by <@U0P1> is overdue" in escalation["text"]
    with bot.rt.db.session() as s:
        assert s.get(Action, action_id).escalated_at is not None
    assert fake.problems == []
