"""Themed audits, learning visits and the Continuous Improvement Board, driven through signed Slack requests."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from bot.app.sandbox.render import render_blocks
from bot.cib.types import CibIds
from bot.themed_audits.types import ThemedAuditIds
from bot.visits.types import VisitIds
from storage.models import Action, CibMeeting, Person, Team, TeamMember
from storage.models.commissions import CibItem, LearningVisit, ThemedAudit, ThemedAuditFinding
from tests.conftest import london

CIB_CHANNEL = "C0CIB"
THEME = "Management oversight of drift in plans"
MEETING = date(2026, 7, 15)  # the sample org's first CIB meeting; its digest is due 3 working days before


def seen(message: dict[str, Any]) -> str:
    return render_blocks(message.get("blocks") or []) + "\n" + (message.get("text") or "")


def dms_saying(fake, user: str, words: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in fake.dms(user) if words in seen(m)]


def digests(fake) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in fake.messages(CIB_CHANNEL) if "CIB digest" in seen(m) and not m.get("thread_ts")]


def count(bot, model: Any) -> int:  # noqa: ANN001, ANN401
    with bot.rt.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def commission_themed_audit(slack, fake) -> None:  # noqa: ANN001
    reply = slack.command("U0DLT1", "/qmf", "commission themed")
    assert reply.status == 200
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Commission themed audit"
    reply = slack.submit("U0DLT1", {
        "Theme": THEME,
        "The theory to test": "Plans drift where supervision does not review the plan's actions each month.",
        "Commissioned by": "Divisional Leadership Team",
        "Improvement-plan priority it serves": "Priority 3: timely, purposeful plans",
        "Sampling focus": "Child in need plans open more than six months",
        "Sample size (cases)": 3,
        "Case references in the sample": "CIN-10001\nCIN-10002",
        "Auditors": ["U0SM1", "U0QI1"],
        "Service-user views": ["Seek service-user views for this theme"],
        "Workshop date": date(2026, 6, 10),
        "CIB meeting it reports to": "Wed 15 Jul 2026",
    })
    assert reply.errors == {}
    assert "You commissioned the themed audit" in render_blocks(fake.latest_view("U0DLT1")["blocks"])
    slack.close_modal("U0DLT1")


def test_a_themed_audit_goes_from_commission_to_one_cib_digest(bot, slack, fake):
    commission_themed_audit(slack, fake)
    [brief] = dms_saying(fake, "U0SM1", "You are an auditor for this themed audit")
    assert "CIN-10001" in seen(brief) and "CIN-10002" in seen(brief)
    assert dms_saying(fake, "U0QI1", "You are an auditor for this themed audit")

    # an auditor records findings on a listed case, from the button beside it
    case_button = next(b["accessory"]["value"] for b in brief["blocks"]
                       if (b.get("accessory") or {}).get("action_id") == ThemedAuditIds.RECORD_FINDINGS)
    slack.click("U0SM1", "Record findings", message=brief, value=case_button)
    assert "Case:* CIN-10001" in render_blocks(fake.latest_view("U0SM1")["blocks"])
    reply = slack.submit("U0SM1", {
        "What you found, tested against the theory": "Supervision notes record the plan but not its progress.",
        "Evidence": "Three supervisions in six months, none reviewing the plan's actions.",
        "Service-user views": "The parent said the plan was not explained to them.",
        "Themes": ["Management oversight and supervision", "Timeliness, drift and delay"],
    })
    assert reply.errors == {}
    # the other auditor adds a case that was not listed
    slack.click("U0QI1", "Record findings for another case")
    reply = slack.submit("U0QI1", {
        "Case reference": "CIN-10003",
        "What you found, tested against the theory": "Monthly reviews kept the plan moving.",
        "Evidence": "Each supervision updated the plan's actions.",
        "Themes": ["Management oversight and supervision"],
    })
    assert reply.errors == {}

    # the commissioner attaches the workshop material from their DM
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    slack.click("U0DLT1", "Attach performance data and feedback", message=mine)
    assert slack.submit("U0DLT1", {"Performance data notes": "Plan reviews on time: 61% against 80% target.",
                                   "Service-user feedback for the workshop": "Families want plans explained."}
                        ).errors == {}

    # two working days before the workshop the collated findings go to the auditors, once
    bot.run_job("send-reminders", at=london(2026, 6, 8, 9, 30))
    bot.run_job("send-reminders", at=london(2026, 6, 9, 9, 30))
    for auditor in ("U0SM1", "U0QI1"):
        [collated] = dms_saying(fake, auditor, "Collated findings")
        text = seen(collated)
        assert "Management oversight and supervision" in text and "CIN-10003" in text
        assert "61% against 80% target" in text

    # at the workshop the commissioner records the moderated findings
    bot.set_time(london(2026, 6, 10, 15, 0))
    slack.click("U0DLT1", "Record moderated findings", message=mine)
    reply = slack.submit("U0DLT1", {
        "Moderated findings": "Plans drift where supervision does not review their actions.",
        "Recommendations": "Add a plan-review prompt to the supervision template.",
    })
    assert reply.errors == {}
    with bot.rt.db.session() as s:
        item = s.scalars(select(CibItem)).one()
        assert item.meeting.meets_on == MEETING

    # the digest goes out once, however often the job runs
    first = bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30))
    again = bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30))
    later = bot.run_job("cib-digest", at=london(2026, 7, 13, 8, 30))
    assert (first.status, again.status, later.status) == ("done", "already-done", "already-done")
    [digest] = digests(fake)
    text = seen(digest)
    assert THEME in text
    assert "Add a plan-review prompt to the supervision template." in text
    assert "Cases audited:* fewer than 5" in text
    assert "CIN-1000" not in text and "<@" not in text  # nothing identifying in the channel

    # the next meeting's digest does not repeat it
    bot.run_job("cib-digest", at=london(2026, 10, 16, 8, 30))
    assert len(digests(fake)) == 2
    assert THEME not in seen(digests(fake)[1])
    assert fake.problems == []


def test_a_learning_visit_goes_from_commission_to_one_cib_digest(bot, slack, fake):
    reply = slack.command("U0DLT1", "/qmf", "commission visit")
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Commission a visit"
    reply = slack.submit("U0DLT1", {
        "Service to visit": "Children in Care",
        "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
        "Date of the visit": date(2026, 5, 12),
        "Visitors": ["U0SEN1", "U0SM2"],
        "Lead reviewer": "U0SEN1",
        "Planned activities": ["Observation of practice", "Focus groups"],
        "Preparation notes": "Read the stability dashboard and the last two quarters' themes.",
        "Performance information": "Placement moves per child up from 0.4 to 0.7.",
    })
    assert reply.errors == {}
    assert "You commissioned a learning visit" in render_blocks(fake.latest_view("U0DLT1")["blocks"])
    slack.close_modal("U0DLT1")
    for visitor in ("U0SEN1", "U0SM2"):
        [prep] = dms_saying(fake, visitor, "Please prepare with the plan below")
        assert "Placement moves per child" in seen(prep)
    assert all(dms_saying(fake, qi, "are asked to support it") for qi in ("U0QI1", "U0QI5"))

    # the working day before, each visitor is reminded (once)
    bot.run_job("send-reminders", at=london(2026, 5, 11, 9, 30))
    assert len(dms_saying(fake, "U0SEN1", "A reminder: the learning visit")) == 1
    assert len(dms_saying(fake, "U0SM2", "A reminder: the learning visit")) == 1

    # after the visit the lead reviewer records the feedback and the plan
    bot.set_time(london(2026, 5, 12, 16, 0))
    [prep] = dms_saying(fake, "U0SEN1", "Please prepare with the plan below")
    slack.click("U0SEN1", "Record visit feedback", message=prep)
    empty = slack.submit("U0SEN1", {"Direct feedback given to the service": "Warm, child-focused practice."})
    assert "at least one action" in empty.errors[VisitIds.VISIT_PLAN]
    slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1"))
    assert fake.latest_view("U0SEN1")["title"]["text"] == "Add an action"
    reply = slack.submit("U0SEN1", {"Owner": "U0SM1", "Due date": date(2026, 6, 30),
                                    "What needs to happen": "Stability meetings for every second move."})
    assert reply.errors == {}
    form = fake.latest_view("U0SEN1")
    assert form["title"]["text"] == "Record visit"
    assert "Stability meetings for every second move." in render_blocks(form["blocks"])
    with bot.rt.db.session() as s:
        assert s.scalars(select(Action)).one().status == "draft"
    reply = slack.submit("U0SEN1", {
        "Direct feedback given to the service": "Warm, child-focused practice; moves are not reviewed.",
        "Improvement plan summary": "Review every second placement move.",
    })
    assert reply.errors == {}
    [feedback] = dms_saying(fake, "U0SM1", "Here is the feedback given")
    assert "moves are not reviewed" in seen(feedback) and "Stability meetings" in seen(feedback)
    assert dms_saying(fake, "U0SM1", "You have a new action")

    for _ in range(2):
        bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30))
    [digest] = digests(fake)
    text = seen(digest)
    assert "Children in Care" in text and "Review every second placement move." in text
    assert "Stability meetings for every second move." in text
    assert "<@" not in text
    assert "Learning visits: fewer than 5 open" in text

    # after the meeting the chair marks it received and the decision goes back to the commissioner
    bot.set_time(london(2026, 7, 15, 16, 0))
    slack.click("U0BRD1", "Record decision", message=digest)
    reply = slack.submit("U0BRD1", {"Decisions": "Endorsed; report progress in October."})
    assert reply.errors == {}
    [decision] = dms_saying(fake, "U0DLT1", "Endorsed; report progress in October.")
    assert "received" in seen(decision)
    with bot.rt.db.session() as s:
        assert s.scalars(select(CibItem)).one().received_at is not None
    assert fake.problems == []


def test_only_dlt_members_can_commission_a_visit_and_nothing_is_stored(bot, slack, fake):
    reply = slack.command("U0SM1", "/qmf", "commission visit")
    assert "Only members of a Divisional Leadership Team can commission a learning visit" in reply.text
    assert fake.calls("views.open") == []
    assert count(bot, LearningVisit) == 0
    assert fake.problems == []


def test_a_visitor_from_the_visited_service_is_refused_inline_and_nothing_is_stored(bot, slack, fake):
    with bot.rt.db.session() as s:  # a senior manager who also works in the service to be visited
        senior = s.scalars(select(Person).where(Person.slack_id == "U0SEN2")).one()
        team = s.scalars(select(Team).where(Team.key == "cic-south")).one()
        s.add(TeamMember(team_id=team.id, person_id=senior.id, position=9))
    slack.command("U0DLT1", "/qmf", "commission visit")
    answers = {
        "Service to visit": "Children in Care",
        "The need or risk behind the visit": "Stability",
        "Date of the visit": date(2026, 5, 12),
        "Visitors": ["U0SEN1", "U0SEN2"],
        "Lead reviewer": "U0SEN1",
        "Planned activities": ["Interviews"],
        "Preparation notes": "Dashboard",
    }
    reply = slack.submit("U0DLT1", answers)
    assert ("One of the visitors you chose is a practitioner in CiC South (Children in Care)"
            in reply.errors[VisitIds.VISIT_VISITORS])
    reply = slack.submit("U0DLT1", {"Visitors": ["U0SEN1", "U0SM1"]})
    assert "One of the visitors you chose is the Service Manager of Children in Care" in reply.errors[VisitIds.VISIT_VISITORS]
    assert "U0SM1" not in reply.errors[VisitIds.VISIT_VISITORS]  # plain text: a raw id would show as one
    assert count(bot, LearningVisit) == 0
    assert fake.dms("U0SEN1") == [] and fake.dms("U0QI1") == []
    assert fake.problems == []


def test_a_cib_meeting_is_scheduled_from_slack_by_an_admin_only(bot, slack, fake):
    refused = slack.command("U0SM1", "/qmf", "cib schedule")
    assert "Only admins and Quality & Improvement" in refused.text
    slack.command("U0ADM1", "/qmf", "cib schedule")
    assert slack.submit("U0ADM1", {"Meeting date": date(2026, 5, 20)}).errors == {}
    with bot.rt.db.session() as s:
        assert s.scalar(select(CibMeeting).where(CibMeeting.meets_on == date(2026, 5, 20))).source == "slack"
    slack.command("U0ADM1", "/qmf", "cib schedule")
    duplicate = slack.submit("U0ADM1", {"Meeting date": date(2026, 5, 20)})
    assert "already scheduled" in duplicate.errors[CibIds.CIB_DATE]
    listing = slack.command("U0QI1", "/qmf", "cib")
    shown = render_blocks(listing.responses[-1]["blocks"])
    assert "Wed 20 May 2026" in shown and "Wed 15 Jul 2026" in shown
    assert fake.problems == []


def test_findings_are_recorded_only_by_the_audits_auditors(bot, slack, fake):
    commission_themed_audit(slack, fake)
    [brief] = dms_saying(fake, "U0SM1", "You are an auditor for this themed audit")
    refused = slack.click("U0SM3", "Record findings", message=brief)
    assert "Only the auditors of this themed audit" in refused.text
    with bot.rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ThemedAuditFinding)) == 0
        assert s.scalars(select(ThemedAudit)).one().status == "commissioned"
    assert fake.problems == []


def test_the_lead_reviewer_finds_the_visit_to_record_on_app_home_after_the_visit(bot, slack, fake):
    slack.command("U0DLT1", "/qmf", "commission visit")
    reply = slack.submit("U0DLT1", {
        "Service to visit": "Child Protection",
        "The need or risk behind the visit": "Re-registrations have risen.",
        "Date of the visit": date(2026, 4, 14),
        "Visitors": ["U0SEN3"],
        "Lead reviewer": "U0SEN3",
        "Planned activities": ["Case discussions"],
        "Preparation notes": "Read the re-registration analysis.",
    })
    assert reply.errors == {}
    bot.set_time(london(2026, 4, 15, 9, 0))
    slack.open_home("U0SEN3")
    slack.click("U0SEN3", "Record visit feedback", home=True)
    assert fake.latest_view("U0SEN3")["title"]["text"] == "Record visit"
    assert fake.problems == []
