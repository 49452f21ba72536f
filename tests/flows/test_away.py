"""`/qmf away`: a person marks their time away in Slack, and while away gets no reminders."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.app.sandbox.render import render_blocks
from storage.models import AuditLogEntry, Person
from tests.conftest import london
from tests.flows.test_actions_flow import about, add_audit_action


def _away(bot, slack_id: str) -> tuple[date | None, date | None]:  # noqa: ANN001
    with bot.rt.db.session() as s:
        person = s.scalars(select(Person).where(Person.slack_id == slack_id)).one()
        return person.away_from, person.away_until


def test_someone_away_is_not_reminded_and_is_once_back(bot, slack, fake):
    action_id = add_audit_action(bot, owner="U0P1", due=date(2026, 4, 10))
    reply = slack.command("U0P1", "/qmf", "away 2026-04-07 2026-04-10")
    assert reply.text.startswith("Done: you are marked away from Tue 7 Apr 2026 to Fri 10 Apr 2026.")
    assert _away(bot, "U0P1") == (date(2026, 4, 7), date(2026, 4, 10))

    bot.run_job("send-reminders", at=london(2026, 4, 8, 9, 30))
    before = len(about(fake, "U0P1", action_id))
    assert before == 1  # only the assignment DM: no reminder while away

    assert slack.command("U0P1", "/qmf", "away").text.startswith("You are marked away from Tue 7 Apr 2026")
    back = slack.command("U0P1", "/qmf", "away off")
    assert back.text.startswith("Done: you are no longer marked away")
    assert _away(bot, "U0P1") == (None, None)

    bot.run_job("send-reminders", at=london(2026, 4, 9, 9, 30))
    assert len(about(fake, "U0P1", action_id)) == 2
    with bot.rt.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditLogEntry).where(AuditLogEntry.entity_id == "U0P1"))]
    assert actions == ["set-away", "clear-away"]
    assert fake.problems == []


def test_away_ahead_is_shown_on_app_home(bot, slack, fake):
    slack.command("U0P1", "/qmf", "away 2026-05-04 2026-05-08")
    slack.open_home("U0P1")
    shown = render_blocks(fake.home("U0P1")["blocks"])
    assert "You are marked away from Mon 4 May 2026 to Fri 8 May 2026." in shown


def test_only_qi_and_admins_set_someone_elses_time_away(bot, slack, fake):
    refused = slack.command("U0P2", "/qmf", "away <@U0P1|jo> 2026-04-13 2026-04-17")
    assert "Only Quality & Improvement or a QMF admin" in refused.text
    assert _away(bot, "U0P1") == (None, None)

    done = slack.command("U0QI1", "/qmf", "away <@U0P1|jo> 2026-04-13 2026-04-17")
    assert done.text.startswith("Done: <@U0P1> is marked away from Mon 13 Apr 2026 to Fri 17 Apr 2026.")
    assert _away(bot, "U0P1") == (date(2026, 4, 13), date(2026, 4, 17))
    slack.command("U0ADM1", "/qmf", "away <@U0P1> off")
    assert _away(bot, "U0P1") == (None, None)


def test_wrong_dates_are_refused_with_an_example_and_change_nothing(bot, slack, fake):
    for text, words in [
        ("away 2026-04-31 2026-05-02", "`2026-04-31` is not a date I can read"),
        ("away 7/4/2026 2026-05-02", "`7/4/2026` is not a date I can read"),
        ("away 2026-05-02 2026-04-20", "is before the start"),
        ("away 2026-03-02 2026-03-20", "in the past"),
        ("away 2026-05-01 2027-06-01", "at most a year"),
        ("away 2026-05-01", "I need two dates"),
        ("away @nobody-here 2026-05-01 2026-05-02", "I can't tell who"),
    ]:
        reply = slack.command("U0P1", "/qmf", text)
        assert words in reply.text, (text, reply.text)
        assert "/qmf away" in reply.text
    assert _away(bot, "U0P1") == (None, None)
    assert fake.problems == []


def test_away_is_listed_in_help(bot, slack):
    shown = slack.command("U0P1", "/qmf", "help").text
    assert "`/qmf away YYYY-MM-DD YYYY-MM-DD` or `/qmf away off` or `/qmf away @person FROM TO`" in shown
