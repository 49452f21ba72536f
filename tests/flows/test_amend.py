"""Amending a recorded learning audit, reflection or visit feedback (issue 16 item 4), through signed
requests: *Amend* on the author's receipt and on App Home, the modal with their answers, the people who
had the findings told what changed, the previous version in the audit log, and the refusals."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.app.sandbox.render import render_blocks
from storage.models import AuditLogEntry, LearningAudit, OutboxMessage, Reflection, ThemeTag
from storage.models.commissions import LearningVisit
from tests.conftest import london
from tests.flows import test_learning_audits_flow as learning_flow
from tests.flows.test_learning_audits_flow import (
    AUDIT,
    REFLECTION,
    Case,
    count,
    dm_about,
    open_audit_form,
    stored,
)

case = learning_flow.case  # the fixture: one allocated learning audit to follow
UNTIL = "Tue 5 May 2026"  # 10 working days after Mon 20 Apr 2026, skipping the 4 May bank holiday
NEW_LEARNING = "Share the direct work tools, and the family's own words, across every team."


def record(slack, fake, case: Case, *, reflect: bool = True) -> None:  # noqa: ANN001
    if reflect:
        slack.click(case.holder, f"Start reflection for {case.case_ref}",
                    message=dm_about(fake, case.holder, case.case_ref, "Start reflection"))
        assert slack.submit(case.holder, REFLECTION).errors == {}
    open_audit_form(slack, fake, case)
    assert slack.submit(case.auditor, AUDIT).errors == {}


def receipt(fake, case: Case) -> dict[str, Any]:  # noqa: ANN001
    return dm_about(fake, case.auditor, case.case_ref, "Amend")


def amendments(bot, entity: str) -> list[AuditLogEntry]:  # noqa: ANN001
    with bot.rt.db.session() as s:
        rows = s.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "amend", AuditLogEntry.entity == entity))
        return [r for r in rows]


def told(fake, user: str, words: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in fake.dms(user) if words in (m.get("text") or "")]


def test_the_auditor_amends_the_recorded_audit_and_the_people_who_had_the_learning_are_told(bot, slack, fake, case):
    record(slack, fake, case)
    message = receipt(fake, case)
    assert f"You can amend it until {UNTIL}" in render_blocks(message["blocks"])
    slack.click(case.auditor, "Amend", message=message)
    form = fake.latest_view(case.auditor)
    assert form["title"]["text"] == "Amend learning audit" and form["submit"]["text"] == "Save amendment"
    assert "Share the direct work tools across teams." in json.dumps(form["blocks"])  # their stored answers
    assert "Timeliness, drift and delay" in json.dumps(form["blocks"])

    reply = slack.submit(case.auditor, {"Wider learning for the service": NEW_LEARNING,
                                        "Themes: areas to improve": ["Risk and safety"]})
    assert reply.errors == {} and fake.latest_view(case.auditor) is None
    row = stored(bot, case)
    assert row.wider_learning == NEW_LEARNING and row.improve_themes == ["Risk and safety"]
    assert row.amended_at is not None and row.status == "recorded"
    with bot.rt.db.session() as s:
        tags = s.scalars(select(ThemeTag.theme).where(ThemeTag.audit_id == case.audit_id, ThemeTag.source == "audit",
                                                      ThemeTag.kind == "improve")).all()
    assert tags == ["Risk and safety"]  # the theme tags follow the amended themes

    for person in (case.holder, case.manager):
        [dm] = told(fake, person, "amended the learning audit of")
        assert dm["text"] == f"<@{case.auditor}> amended the learning audit of {case.case_ref}: changed Wider learning for the service"
        assert NEW_LEARNING in render_blocks(dm["blocks"])
        assert "Themes" not in dm["text"]  # they never had the themes
    [entry] = amendments(bot, "learning_audit_record")
    assert entry.actor == case.auditor
    assert entry.detail["fields"] == ["wider_learning", "improve_themes"]
    assert entry.detail["previous"] == {"wider_learning": "Share the direct work tools across teams.",
                                        "improve_themes": ["Timeliness, drift and delay"]}

    again = slack.submit(case.auditor, {}, view=form)  # Slack re-sends the same submission
    assert again.errors == {}
    assert len(amendments(bot, "learning_audit_record")) == 1
    assert len(told(fake, case.holder, "amended the learning audit of")) == 1

    bot.set_time(london(2026, 4, 21, 10))  # a second, different amendment is a new message
    slack.click(case.auditor, "Amend", message=message)
    assert "Last amended on Mon 20 Apr 2026" in render_blocks(fake.latest_view(case.auditor)["blocks"])
    assert slack.submit(case.auditor, {"Good practice to share": "Direct work tools, used early."}).errors == {}
    assert len(told(fake, case.holder, "amended the learning audit of")) == 2
    assert fake.problems == []


def test_an_amendment_with_nothing_changed_says_so_and_tells_nobody(bot, slack, fake, case):
    record(slack, fake, case)
    before = len(fake.dms(case.holder))
    slack.click(case.auditor, "Amend", message=receipt(fake, case))
    reply = slack.submit(case.auditor, {})
    assert reply.json["response_action"] == "update"
    assert "Nothing was changed." in json.dumps(reply.json["view"])
    assert amendments(bot, "learning_audit_record") == [] and stored(bot, case).amended_at is None
    assert len(fake.dms(case.holder)) == before
    assert fake.problems == []


def test_amend_is_on_app_home_and_an_amendment_with_a_phone_number_is_an_inline_error(bot, slack, fake, case):
    record(slack, fake, case)
    slack.open_home(case.auditor)
    home = render_blocks(fake.home(case.auditor)["blocks"])
    assert f"Recorded learning audit of *{case.case_ref}*: you can amend it until {UNTIL}" in home
    slack.click(case.auditor, "Amend", home=True)
    assert fake.latest_view(case.auditor)["title"]["text"] == "Amend learning audit"
    reply = slack.submit(case.auditor, {"Good practice to share": "Ring mum on 07700 900123"})
    assert "phone number" in reply.errors["audit-good-practice"]
    assert stored(bot, case).good_practice == "Direct work tools used with the eldest child."
    assert amendments(bot, "learning_audit_record") == []
    assert fake.problems == []


def test_after_the_window_amend_is_refused_and_gone_from_home(bot, slack, fake, case):
    record(slack, fake, case)
    message = receipt(fake, case)
    slack.click(case.auditor, "Amend", message=message)
    form = fake.latest_view(case.auditor)
    bot.set_time(london(2026, 5, 6, 9))  # the window closed at the end of Tue 5 May
    reply = slack.submit(case.auditor, {"Wider learning for the service": NEW_LEARNING}, view=form)
    assert reply.json["response_action"] == "update"
    assert f"could be amended until {UNTIL}" in json.dumps(reply.json["view"])
    refused = slack.click(case.auditor, "Amend", message=message)
    assert f"could be amended until {UNTIL}" in refused.text
    assert stored(bot, case).wider_learning == "Share the direct work tools across teams."
    slack.open_home(case.auditor)
    assert "you can amend it until" not in render_blocks(fake.home(case.auditor)["blocks"])
    assert fake.problems == []


def test_someone_else_cannot_amend_with_a_forged_button_or_a_copied_form(bot, slack, fake, case):
    record(slack, fake, case)
    message = receipt(fake, case)
    refused = slack.click(case.other_sm, "Amend", message=message)
    assert "Sorry, only the Service Manager allocated" in refused.text
    assert fake.latest_view(case.other_sm) is None
    slack.click(case.auditor, "Amend", message=message)
    copied = fake.latest_view(case.auditor)
    reply = slack.submit(case.other_sm, {"Wider learning for the service": NEW_LEARNING}, view=copied)
    assert "only the Service Manager allocated" in json.dumps(reply.json["view"])
    assert stored(bot, case).wider_learning == "Share the direct work tools across teams."
    assert amendments(bot, "learning_audit_record") == []
    assert fake.problems == []


def test_the_case_holder_amends_their_reflection_after_the_audit_is_recorded(bot, slack, fake, case):
    record(slack, fake, case)
    slack.open_home(case.holder)
    assert f"you can amend it until {UNTIL}" in render_blocks(fake.home(case.holder)["blocks"])
    slack.click(case.holder, "Amend reflection", home=True)
    form = fake.latest_view(case.holder)
    assert form["title"]["text"] == "Amend reflection" and "Ask health to join sooner." in json.dumps(form["blocks"])
    reply = slack.submit(case.holder, {"What would you do differently?": "Ask health and school to join sooner.",
                                       "Themes that went well in this case": ["Risk and safety"]})
    assert reply.errors == {}
    with bot.rt.db.session() as s:
        reflection = s.scalar(select(Reflection).where(Reflection.audit_id == case.audit_id))
        assert reflection.do_differently == "Ask health and school to join sooner." and reflection.amended_at
        good = s.scalars(select(ThemeTag.theme).where(ThemeTag.audit_id == case.audit_id,
                                                      ThemeTag.source == "reflection", ThemeTag.kind == "good")).all()
        assert good == ["Risk and safety"]
    [dm] = told(fake, case.auditor, "amended the reflection")
    assert "Ask health and school to join sooner." in render_blocks(dm["blocks"])
    assert "Reflective supervision time." not in render_blocks(dm["blocks"])
    [entry] = amendments(bot, "reflection")
    assert entry.detail["previous"]["do_differently"] == "Ask health to join sooner."

    slack.click(case.holder, "Amend reflection", home=True)
    late = fake.latest_view(case.holder)
    bot.set_time(london(2026, 5, 6, 9))
    reply = slack.submit(case.holder, {"What would you do differently?": "Changed too late."}, view=late)
    assert f"could be amended until {UNTIL}" in json.dumps(reply.json["view"])
    assert len(amendments(bot, "reflection")) == 1
    slack.click(case.holder, "View or amend reflection",
                message=dm_about(fake, case.holder, case.case_ref, "View or amend reflection"))
    read_only = fake.latest_view(case.holder)
    assert not read_only.get("submit") and "can no longer be changed" in render_blocks(read_only["blocks"])
    assert fake.problems == []


# ---------------------------------------------------------------------------------------------
# visit feedback


VISIT_FEEDBACK = "Warm, child-focused practice; moves are not reviewed."


def record_visit(bot, slack, fake) -> dict[str, Any]:  # noqa: ANN001
    """The sample visit of ``test_commissions_flow``, recorded by its lead reviewer U0SEN1."""
    slack.command("U0DLT1", "/qmf", "commission visit")
    assert slack.submit("U0DLT1", {
        "Service to visit": "Children in Care",
        "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
        "Date of the visit": date(2026, 5, 12), "Visitors": ["U0SEN1", "U0SM2"], "Lead reviewer": "U0SEN1",
        "Planned activities": ["Observation of practice"],
        "Preparation notes": "Read the stability dashboard.",
    }).errors == {}
    slack.close_modal("U0DLT1")
    bot.set_time(london(2026, 5, 12, 16, 0))
    prep = [m for m in fake.dms("U0SEN1") if "Record visit feedback" in render_blocks(m.get("blocks") or [])][-1]
    slack.click("U0SEN1", "Record visit feedback", message=prep)
    slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1"))
    assert slack.submit("U0SEN1", {"Owner": "U0SM1", "Due date": date(2026, 6, 30),
                                   "What needs to happen": "Stability meetings for every second move."}).errors == {}
    assert slack.submit("U0SEN1", {"Direct feedback given to the service": VISIT_FEEDBACK}).errors == {}
    return [m for m in fake.dms("U0SEN1") if "went to the service" in (m.get("text") or "")][-1]


def channel_rows(bot) -> list[str]:  # noqa: ANN001
    with bot.rt.db.session() as s:
        return list(s.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.channel.like("C%"))
                              .order_by(OutboxMessage.id)))


def test_the_lead_reviewer_amends_the_visit_feedback_and_the_service_is_told_not_the_channel(bot, slack, fake):
    receipt_dm = record_visit(bot, slack, fake)
    assert "You can amend the feedback until" in render_blocks(receipt_dm["blocks"])
    refused = slack.click("U0SM2", "Amend", message=receipt_dm)  # a visitor who did not record it
    assert "only the person who recorded" in refused.text
    posts_before = channel_rows(bot)
    assert posts_before  # the feedback's summary went to the service's channel when it was recorded

    slack.open_home("U0SEN1")
    assert "you can amend it until" in render_blocks(fake.home("U0SEN1")["blocks"])
    slack.click("U0SEN1", "Amend", home=True)
    form = fake.latest_view("U0SEN1")
    assert form["title"]["text"] == "Amend visit feedback" and VISIT_FEEDBACK in json.dumps(form["blocks"])
    reply = slack.submit("U0SEN1", {"Direct feedback given to the service":
                                    "Warm practice; second placement moves are not reviewed (CIC-1001)."})
    assert "case reference" in reply.errors["visit-feedback"]  # the same checks as recording
    reply = slack.submit("U0SEN1", {"Direct feedback given to the service":
                                    "Warm practice; second placement moves are not reviewed."})
    assert reply.errors == {}
    with bot.rt.db.session() as s:
        visit = s.scalars(select(LearningVisit)).one()
        assert visit.feedback == "Warm practice; second placement moves are not reviewed." and visit.amended_at
    [dm] = told(fake, "U0SM1", "amended the feedback from the learning visit")
    assert "second placement moves are not reviewed" in render_blocks(dm["blocks"])
    assert told(fake, "U0DLT1", "amended the feedback from the learning visit")
    assert told(fake, "U0SEN1", "amended the feedback") == []  # the author is not told their own change
    [entry] = amendments(bot, "learning_visit")
    assert entry.detail["previous"] == {"feedback": VISIT_FEEDBACK}
    assert channel_rows(bot) == posts_before  # a channel never gets the amendment
    assert fake.problems == []


def test_a_learning_audit_is_still_told_already_recorded_on_a_second_record(bot, slack, fake, case):
    record(slack, fake, case)
    again = slack.click(case.auditor, f"Record learning audit for {case.case_ref}",
                        message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"))
    assert "already recorded on Mon 20 Apr 2026" in again.text
    assert count(bot, LearningAudit, LearningAudit.amended_at.is_not(None)) == 0
