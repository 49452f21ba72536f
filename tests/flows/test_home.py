"""App Home shows each person what is theirs; it is republished only when it changed."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from bot.sandbox.render import render_view
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
    assert any("Only Q&I staff and admins" in m["text"] for m in fake.dms("U0SM1"))
    from storage.models import JobRun

    with bot.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0
