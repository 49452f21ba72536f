"""App Home shows each person what is theirs; it is republished only when it changed."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select

from bot.app.sandbox.render import render_view
from bot.home.service import HOME_JOBS
from storage.models import HomeView, SlackEvent


def home_text(fake, user: str) -> str:
    view = fake.home(user)
    assert view is not None, f"no Home published for {user}"
    return render_view(view)


def publishes(fake, user: str) -> int:
    return len([c for c in fake.calls("views.publish") if c.ok and c.args.get("user_id") == user])


def test_a_stranger_is_told_to_ask_to_be_added(slack, fake):
    slack.open_home("U0STRANGER")
    assert "not in the QMF directory" in home_text(fake, "U0STRANGER")


def test_a_service_manager_sees_their_to_do_and_what_is_coming(slack, fake):
    slack.open_home("U0SM1")
    text = home_text(fake, "U0SM1")
    assert "To do now" in text
    assert "Coming up in 2026-27 Q1" in text
    assert "Progress across services" not in text
    assert "Open proposals now" not in text
    assert fake.problems == []


def test_qi_sees_progress_across_services_and_job_buttons(slack, fake):
    slack.open_home("U0QI1")
    text = home_text(fake, "U0QI1")
    assert "Progress across services, 2026-27 Q1" in text
    for service in ("Children in Care", "Child Protection", "Child in Need"):
        assert service in text
    assert "Open proposals now" in text


def test_home_is_republished_only_when_it_changed(slack, fake):
    slack.open_home("U0SM1")
    slack.open_home("U0SM1")
    assert publishes(fake, "U0SM1") == 1


def test_an_event_delivered_three_times_is_handled_once(slack, fake, bot):
    event = {"type": "app_home_opened", "user": "U0SM2", "channel": "DU0SM2", "tab": "home"}
    slack.event(event, event_id="Ev0000REPEAT")
    with bot.rt.db.session() as session:
        session.execute(delete(HomeView))  # had the retries been handled, Home would publish again
    slack.event(event, event_id="Ev0000REPEAT", retry_num=1)
    slack.event(event, event_id="Ev0000REPEAT", retry_num=2)
    assert publishes(fake, "U0SM2") == 1
    with bot.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SlackEvent)) == 1


def test_a_non_qi_person_cannot_run_jobs_with_a_copied_button(slack, fake, bot):
    slack.open_home("U0QI1")
    qi_home = fake.home("U0QI1")
    slack.click("U0SM1", "Send today's reminders now", view=qi_home)
    assert any("Only Q&I staff and QMF admins" in m["text"] for m in fake.dms("U0SM1"))
    from storage.models import JobRun

    with bot.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0


def test_a_long_to_do_list_is_paged_within_slacks_block_limit_and_nothing_is_cut(slack, fake, bot):
    from datetime import date, timedelta

    from bot.actions.service import add_action

    with bot.rt.db.session() as session:
        for n in range(60):
            add_action(session, source_kind="learning_audit", source_id=1000 + n, owner="U0P1",
                       description=f"Update the chronology, item {n:02d}", due_on=date(2026, 5, 1) + timedelta(days=n),
                       created_by="U0SM2", service_id=None, quarter="2026-27Q1", today=date(2026, 4, 1))
    bot.rt.wait_idle()
    slack.open_home("U0P1")
    seen: list[str] = []
    for page in range(1, 4):
        view = fake.home("U0P1")
        assert len(view["blocks"]) <= 100
        text = render_view(view)
        assert f"Page {page} of 3" in text
        seen += [line for line in text.splitlines() if "Update the chronology, item" in line]
        if page < 3:
            slack.click("U0P1", "Next page", home=True)
    numbers = sorted({int(line.split("item ")[1][:2]) for line in seen})
    assert numbers == list(range(60))  # every action shown once across the pages, in due-date order
    first_page = [int(line.split("item ")[1][:2]) for line in seen[:25]]
    assert first_page == sorted(first_page)
    assert fake.problems == []


def test_progress_across_many_services_fits_slacks_limits_and_names_every_service(bot, slack, fake):
    """A large council: 150 services with long names. Every service is on Q&I's Home and no block
    passes Slack's limits (3,000 characters a section, 100 blocks a view)."""
    from bot.core.directory import import_org
    from bot.core.orgfile import Division, OrgFile, People, Service, Team

    division = "Children's Social Care"
    org = OrgFile(
        organisation="Large Council Children & Families",
        channels={"quality_improvement": "C0QI"},
        divisions=[Division(name=division)],
        services=[
            Service(key=f"s{i:03d}", name=f"Family Safeguarding and Early Help Locality Service {i:03d}",
                    division=division, service_manager=f"U{i:03d}SM",
                    teams=[Team(key=f"s{i:03d}-t1", name=f"Team {i:03d}", team_manager=f"U{i:03d}TM")])
            for i in range(150)
        ],
        people=People(quality_improvement=["U0QI1"], admins=["U0ADM1"]),
    )
    with bot.rt.db.session() as session:
        import_org(session, org)
    slack.open_home("U0QI1")
    view = fake.home("U0QI1")
    assert view is not None and fake.problems == []
    assert len(view["blocks"]) <= 100
    text = render_view(view)
    for i in range(150):
        assert f"Family Safeguarding and Early Help Locality Service {i:03d}" in text
    assert "Open proposals now" in text


def test_home_is_published_again_when_slack_shows_none_even_if_nothing_changed(slack, fake):
    """Slack's event carries the Home it shows; without one (the app reinstalled, a publish lost) the
    person would see an empty tab for as long as nothing changed, so it is published again."""
    slack.open_home("U0SM1")
    slack.event({"type": "app_home_opened", "user": "U0SM1", "channel": "DU0SM1", "tab": "home"})
    assert publishes(fake, "U0SM1") == 2
    slack.open_home("U0SM1")  # Slack now shows it: unchanged, not published again
    assert publishes(fake, "U0SM1") == 2


def test_qi_runs_a_job_from_home_once_however_often_it_is_pressed(slack, fake, bot):
    """The job runs for real: managers get their invitations once, Q&I is told what happened, and
    Home is republished with the quarter's new dates."""
    slack.open_home("U0QI1")
    assert "Learning-audit proposals for 2026-27 Q1 open on" in home_text(fake, "U0QI1")
    slack.click("U0QI1", "Open proposals now", home=True)
    bot.rt.wait_idle()
    told = [m["text"] for m in fake.dms("U0QI1")]
    assert told == [HOME_JOBS["open-proposals"].done + " " + HOME_JOBS["open-proposals"].then], told
    invitations = [m for m in fake.dms("U0SM1") if "Propose cases" in json.dumps(m.get("blocks"))]
    assert len(invitations) == 1
    assert "Proposals for 2026-27 Q1 close on" in home_text(fake, "U0QI1")

    slack.click("U0QI1", "Open proposals now", home=True)  # pressed again: the work is not done twice
    bot.rt.wait_idle()
    assert len([m for m in fake.dms("U0SM1") if "Propose cases" in json.dumps(m.get("blocks"))]) == 1
    told = [m["text"] for m in fake.dms("U0QI1")]
    assert len(told) == 2 and told[1].startswith("Nothing new to do: that was already done"), told
    from storage.models import JobRun

    with bot.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 1
    assert fake.problems == []


def test_a_job_button_answers_in_plain_words_not_the_jobs_log_line(slack, fake, bot):
    """Item 6 of issue #15: the answer said "`send-reminders`: done. proposals: 1 sent (deadline Fri 17
    Apr 2026).; learning audits: 0 reminders sent; …". Q&I now read what happened and what comes
    next; the log line stays in the CLI (`qmf-bot jobs run`) and the log."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from schedules.jobs import run_job

    at = datetime(2026, 4, 15, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    bot.run_job("open-proposals", at=datetime(2026, 4, 1, 9, 0, tzinfo=ZoneInfo("Europe/London")))
    bot.set_time(at)  # two working days before the deadline: reminders are due to those who have not proposed
    slack.open_home("U0QI1")
    slack.click("U0QI1", "Send today's reminders now", home=True)
    bot.rt.wait_idle()
    answer = fake.dms("U0QI1")[-1]["text"]
    assert answer == HOME_JOBS["send-reminders"].done + " " + HOME_JOBS["send-reminders"].then
    for log_words in ("`", "send-reminders", "reminders sent", ": done", "job", ";"):
        assert log_words not in answer, (log_words, answer)
    again = run_job(bot.rt, "send-reminders", at=at)  # the CLI's answer for the same day keeps its line
    assert again.line().startswith("send-reminders [2026-04-15]: already-done.")

