"""Issue #15 item 2: themed-audit findings and learning-visit feedback land with the practitioners
who learn from them, not only with the Board. Driven through signed Slack requests.

Who hears what is a privacy rule as much as a courtesy: a case reference reaches only the people who
hold or manage that case, one message each however many of their cases were audited; a visit's
feedback reaches the observed teams' managers by DM and the service's channel with no names.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from bot.app.sandbox.harness import SAMPLE_CASES
from bot.app.sandbox.render import render_blocks
from bot.core.council import policy_of
from bot.sampling.register import import_register
from bot.visits.types import VisitIds
from tests.conftest import london

THEME = "Management oversight of drift in plans"
AGREED = "Plans drift where supervision does not review their actions."
ADVICE = "Add a plan-review prompt to the supervision template."
CASE_REF = re.compile(r"\b[A-Z]{2,5}-\d{3,10}\b")


def seen(message: dict[str, Any]) -> str:
    return render_blocks(message.get("blocks") or []) + "\n" + (message.get("text") or "")


def dms_saying(fake, user: str, words: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in fake.dms(user) if words in seen(m)]


def import_cases(bot) -> None:  # noqa: ANN001
    with bot.rt.db.session() as session:
        result = import_register(session, SAMPLE_CASES.read_text(), policy=policy_of(session))
    assert result.imported and not result.errors


def views_seen(fake, user: str) -> str:  # noqa: ANN001
    return "\n".join(str(v) for v in fake.views(user))


def record(slack, auditor: str, case_ref: str, found: str) -> None:  # noqa: ANN001
    slack.click(auditor, "Record findings for another case")
    reply = slack.submit(auditor, {
        "Case reference": case_ref,
        "What you found, tested against the theory": found,
        "Evidence": f"Supervision notes for {case_ref}.",
        "Service-user views": "The parent said the plan was explained.",
        "Themes": ["Management oversight and supervision"],
    })
    assert reply.errors == {}


def commission_and_record(bot, slack, fake) -> None:  # noqa: ANN001
    """A themed audit of three Child in Need cases from the register and one it does not list,
    audited by the Service Manager of Children in Care and a Q&I auditor, moderated at the workshop."""
    import_cases(bot)
    slack.command("U0DLT1", "/qmf", "commission themed")
    reply = slack.submit("U0DLT1", {
        "Theme": THEME,
        "The theory to test": "Plans drift where supervision does not review the plan's actions each month.",
        "Commissioned by": "Divisional Leadership Team",
        "Improvement-plan priority it serves": "Timely, purposeful plans",
        "Sampling focus": "Child in need plans open more than six months",
        "Sample size (cases)": 4,
        "Auditors": ["U0SM1", "U0QI1"],
        "Service-user views": ["Seek service-user views for this theme"],
        "Workshop date": date(2026, 6, 10),
        "CIB meeting it reports to": "Wed 15 Jul 2026",
    })
    assert reply.errors == {}
    slack.close_modal("U0DLT1")
    # CIN-3001 and CIN-3003 are held by two workers in CiN Central (U0TM5's team); CIN-3002 in CiN
    # Outreach (U0TM6's); CIN-10009 is not in the register
    record(slack, "U0SM1", "CIN-3001", "Supervision recorded the plan but not its progress.")
    record(slack, "U0SM1", "CIN-3003", "Monthly reviews kept the plan moving.")
    record(slack, "U0QI1", "CIN-3002", "The plan was reviewed at every supervision.")
    record(slack, "U0QI1", "CIN-10009", "Reviews lapsed over the summer.")


def commission_and_moderate(bot, slack, fake) -> None:  # noqa: ANN001
    commission_and_record(bot, slack, fake)
    bot.set_time(london(2026, 6, 10, 15, 0))
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    slack.click("U0DLT1", "Record moderated findings", message=mine)
    assert slack.submit("U0DLT1", {"Moderated findings": AGREED, "Recommendations": ADVICE}).errors == {}


def test_themed_audit_findings_go_back_to_each_case_holder_and_team_manager_once(bot, slack, fake):
    commission_and_moderate(bot, slack, fake)

    # each case holder hears about their own case, and only theirs
    for holder, case_ref in (("U0P11", "CIN-3001"), ("U0P12", "CIN-3003"), ("U0P14", "CIN-3002")):
        [back] = fake.dms(holder)
        text = seen(back)
        assert sorted(set(CASE_REF.findall(text))) == [case_ref]
        assert AGREED in text and ADVICE in text
        assert "your case" in text and f"<@{holder}>" not in text
        assert "To talk the findings through, message" in text
    [held_3001] = fake.dms("U0P11")
    assert "Supervision recorded the plan but not its progress." in seen(held_3001)
    assert "Monthly reviews kept the plan moving." not in seen(held_3001)

    # a team manager with two audited cases gets one message with both, and no one else's
    [central] = fake.dms("U0TM5")
    text = seen(central)
    assert sorted(set(CASE_REF.findall(text))) == ["CIN-3001", "CIN-3003"]
    assert "<@U0P11>" in text and "<@U0P12>" in text and "<@U0TM5>" not in text
    assert "in supervision" in text
    [outreach] = fake.dms("U0TM6")
    assert sorted(set(CASE_REF.findall(seen(outreach)))) == ["CIN-3002"]

    # nobody else hears about the cases: not the service's manager, not another team's
    for other in ("U0SM3", "U0TM1", "U0P13", "U0P15"):
        assert fake.dms(other) == []

    # the commissioner learns who was told, and which case nobody could be told about
    [receipt] = dms_saying(fake, "U0DLT1", "are queued for")
    text = seen(receipt)
    assert "(5 people)" in text
    assert "does not list CIN-10009" in text and "share those findings" in text
    assert fake.problems == []


def test_corrected_moderated_findings_reach_each_person_once_more_and_a_repeat_sends_nothing(bot, slack, fake):
    commission_and_moderate(bot, slack, fake)
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    slack.click("U0DLT1", "Record moderated findings", message=mine)
    assert slack.submit("U0DLT1", {"Moderated findings": AGREED, "Recommendations": ADVICE}).errors == {}
    assert len(fake.dms("U0TM5")) == 1  # the same words again: nothing new
    slack.click("U0DLT1", "Record moderated findings", message=mine)
    corrected = "Plans drift where supervision does not review their actions each month."
    assert slack.submit("U0DLT1", {"Moderated findings": corrected, "Recommendations": ADVICE}).errors == {}
    first, second = fake.dms("U0TM5")
    assert "Updated:" in second["text"] and corrected in seen(second) and "replaces the earlier" in seen(second)
    assert fake.problems == []


def test_an_auditor_is_not_named_to_themselves_in_their_brief_or_the_collated_findings(bot, slack, fake):
    commission_and_record(bot, slack, fake)
    [brief] = dms_saying(fake, "U0SM1", "You are an auditor for this themed audit")
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    slack.click("U0DLT1", "Send collated findings", message=mine)
    assert "with <@U0QI1>" in seen(brief) and "<@U0SM1>" not in seen(brief)
    [collated] = dms_saying(fake, "U0QI1", "Collated findings")
    text = seen(collated)
    assert "<@U0QI1>" not in text and "(you)" in text and "(<@U0SM1>)" in text
    assert fake.problems == []


def commission_visit(slack, fake, service: str = "Children in Care") -> None:  # noqa: ANN001
    slack.command("U0DLT1", "/qmf", "commission visit")
    reply = slack.submit("U0DLT1", {
        "Service to visit": service,
        "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
        "Date of the visit": date(2026, 5, 12),
        "Visitors": ["U0SEN1", "U0SM2"] if service == "Children in Care" else ["U0SEN1"],
        "Lead reviewer": "U0SEN1",
        "Planned activities": ["Observation of practice", "Focus groups"],
        "Preparation notes": "Read the stability dashboard.",
    })
    assert reply.errors == {}
    slack.close_modal("U0DLT1")


def add_action(bot, slack, fake) -> None:  # noqa: ANN001
    bot.set_time(london(2026, 5, 12, 16, 0))
    [prep] = dms_saying(fake, "U0SEN1", "Please prepare with the plan below")
    slack.click("U0SEN1", "Record visit feedback", message=prep)
    slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1"))
    pushed = fake.latest_view("U0SEN1")
    assert pushed["title"]["text"] == "Add an action"
    assert "this case" not in str(pushed) and "The improvement for the service" in str(pushed)
    reply = slack.submit("U0SEN1", {"Owner": "U0SM1", "Due date": date(2026, 6, 30),
                                    "What needs to happen": "Stability meetings for every second move."})
    assert reply.errors == {}


def test_a_visits_feedback_reaches_the_observed_teams_channel_and_their_managers(bot, slack, fake):
    commission_visit(slack, fake)
    [prep] = dms_saying(fake, "U0SEN1", "Please prepare with the plan below")
    assert "<@U0SEN1>" not in seen(prep) and "*Lead reviewer:* you" in seen(prep)
    [commissioned] = dms_saying(fake, "U0DLT1", "You commissioned a learning visit")
    assert "<@U0DLT1>" not in seen(commissioned)

    add_action(bot, slack, fake)
    reply = slack.submit("U0SEN1", {
        "Direct feedback given to the service": "Warm, child-focused practice; moves are not reviewed.",
        "Improvement plan summary": "Review every second placement move.",
        "Teams observed": ["CiC North"],
    })
    assert reply.errors == {}

    # the service's channel: the feedback and the plan, with no names (conftest checks no ids or case refs)
    [post] = fake.messages("C0CIC")
    text = seen(post)
    assert "moves are not reviewed" in text and "Stability meetings for every second move." in text
    assert "CiC North" in text and "<@" not in text

    # the observed team's manager: one DM, with what to do next; the team not observed hears nothing
    [north] = fake.dms("U0TM1")
    assert "share the feedback with CiC North at your next team meeting" in seen(north)
    assert dms_saying(fake, "U0TM2", "Learning visit") == []

    # the Service Manager: one feedback DM (their action arrives from the action plan itself)
    [sm] = dms_saying(fake, "U0SM1", "Here is the feedback given")
    assert "take the plan forward with your team managers" in seen(sm)
    assert "<@U0SM1>" not in seen(sm) and "One action is yours" in seen(sm)

    [receipt] = dms_saying(fake, "U0SEN1", "Thank you. The feedback and plan")
    assert "<@U0TM1>" in seen(receipt) and "service's channel" in seen(receipt)
    assert fake.problems == []


def test_people_typed_into_visit_feedback_are_not_named_in_the_channel(bot, slack, fake):
    commission_visit(slack, fake)
    add_action(bot, slack, fake)
    reply = slack.submit("U0SEN1", {
        "Direct feedback given to the service": "Warm practice; <@U0P1> showed how moves are reviewed.",
    })
    assert reply.errors == {}
    [post] = fake.messages("C0CIC")
    assert "[person] showed how moves are reviewed" in seen(post) and "U0P1" not in str(post)
    # no team chosen: the visit saw every team, and both team managers hear
    assert dms_saying(fake, "U0TM1", "Learning visit") and dms_saying(fake, "U0TM2", "Learning visit")
    assert fake.problems == []


def test_the_lead_reviewer_chooses_among_the_visited_services_own_teams(bot, slack, fake):
    commission_visit(slack, fake)
    add_action(bot, slack, fake)
    form = fake.latest_view("U0SEN1")
    [teams] = [b for b in form["blocks"] if b.get("block_id") == VisitIds.VISIT_TEAMS]
    assert [o["text"]["text"] for o in teams["element"]["options"]] == ["CiC North", "CiC South"]
    assert fake.messages("C0CIC") == []


def test_a_forged_team_from_another_service_is_refused_inline_and_nothing_is_sent(bot, slack, fake):
    commission_visit(slack, fake)
    add_action(bot, slack, fake)
    form = fake.latest_view("U0SEN1")
    feedback = {"type": "plain_text_input", "value": "Warm practice."}
    for forged in ([{"value": "cp-east"}], [{"value": {"not": "a key"}}]):
        teams = {"type": "multi_static_select", "selected_options": forged}
        payload = {"type": "view_submission", "user": {"id": "U0SEN1"}, "team": {"id": "T0QMF"},
                   "api_app_id": "A0QMF", "token": "x", "trigger_id": "1.2.3",
                   "view": form | {"state": {"values": {
                       VisitIds.VISIT_FEEDBACK: {VisitIds.VISIT_FEEDBACK: feedback},
                       VisitIds.VISIT_TEAMS: {VisitIds.VISIT_TEAMS: teams}}}, "hash": f"h{len(str(forged))}"}}
        body = urlencode({"payload": json.dumps(payload)})
        reply = slack.post_raw(body, {"Content-Type": "application/x-www-form-urlencoded"} | slack.sign(body))
        assert reply.status == 200
        assert "Choose teams of Children in Care" in reply.errors[VisitIds.VISIT_TEAMS]
    assert fake.messages("C0CIC") == [] and dms_saying(fake, "U0TM3", "Learning visit") == []
    assert dms_saying(fake, "U0SM1", "Here is the feedback given") == []
