"""Learning audits as people meet them in Slack, through signed requests: the allocation DMs, "Set up
meeting", the case holder's reflection, the auditor's record with a pushed action, and refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actions.service import add_action
from bot.app.sandbox.render import render_blocks
from storage.models import (
    Action,
    LearningAudit,
    LearningRound,
    Person,
    Proposal,
    Reflection,
    Service,
    Team,
    ThemeTag,
)
from tests.conftest import london

QUARTER = "2026-27Q1"
ALLOCATION_DAY = london(2026, 4, 20, 9)  # the first working day after the 17 April deadline

# (case reference, team, case holder, proposed by, flagged): 4 services, 13 proposals.
PROPOSALS = [
    ("CIC-1001", "cic-north", "U0P1", "U0TM1", True),
    ("CIC-1002", "cic-north", "U0P2", "U0SM1", False),
    ("CIC-1003", "cic-south", "U0P4", "U0TM2", False),
    ("CP-2001", "cp-east", "U0P6", "U0TM3", False),
    ("CP-2002", "cp-east", "U0P7", "U0SM2", True),
    ("CP-2003", "cp-west", "U0P9", "U0TM4", False),
    ("CIN-3001", "cin-central", "U0P11", "U0TM5", False),
    ("CIN-3002", "cin-central", "U0P12", "U0TM5", True),
    ("CIN-3003", "cin-outreach", "U0P14", "U0SM3", False),
    ("FD-4001", "fd-mash", "U0P16", "U0TM7", False),
    ("FD-4002", "fd-mash", "U0P17", "U0SM4", False),
    ("FD-4003", "fd-assessment", "U0P19", "U0TM8", True),
    ("FD-4004", "fd-assessment", "U0P20", "U0TM8", False),
]

REFLECTION = {
    "What were you trying to achieve for the child and family?": "Keep the children safe at home.",
    "What difference did your work make, and how do you know?": "Attendance is up; school says so.",
    "What did the child or family say?": "The eldest said she felt listened to.",
    "What would you do differently?": "Ask health to join sooner.",
    "What support do you need? (private to you and your team manager)": "Reflective supervision time.",
    "Themes to develop": ["Multi-agency working"],
}

AUDIT = {
    "Outcomes and the difference made for the child and family": "The children stayed safely at home.",
    "Direct service-user feedback: what was said": "Mum said the worker was honest and kind.",
    "Who gave the feedback, or why there was none": "Mum, by phone, before the meeting.",
    "Impact on the worker": "Confident, and proud of the direct work.",
    "What would have been needed to improve the case?": "An earlier health referral.",
    "Good practice to share": "Direct work tools used with the eldest child.",
    "Wider learning for the service": "Share the direct work tools across teams.",
    "Themes: areas to improve": ["Timeliness, drift and delay"],
    "Themes: good practice": ["Voice and lived experience of the child"],
}


@dataclass(frozen=True)
class Case:
    audit_id: int
    case_ref: str
    auditor: str
    holder: str
    manager: str
    other_sm: str  # a Service Manager who is not this case's auditor


def _person_id(session, slack_id: str) -> int:  # noqa: ANN001
    return session.scalar(select(Person.id).where(Person.slack_id == slack_id))


@pytest.fixture
def case(bot) -> Case:  # noqa: ANN001
    """The quarter's proposals made and allocated by the real job; one allocated case to follow."""
    with bot.rt.db.session() as session:
        calendar = bot.rt.calendar(session)
        closes = calendar.add_working_days(date(2026, 4, 1), 10)
        session.add(LearningRound(quarter=QUARTER, deadline=closes, audits_due=date(2026, 6, 5)))
        for case_ref, team_key, holder, proposer, flagged in PROPOSALS:
            team = session.scalar(select(Team).where(Team.key == team_key))
            session.add(
                Proposal(
                    quarter=QUARTER,
                    case_ref=case_ref,
                    live_ref=case_ref,
                    service_id=team.service_id,
                    team_id=team.id,
                    case_holder_id=_person_id(session, holder),
                    team_manager_id=team.team_manager_id,
                    proposed_by_id=_person_id(session, proposer),
                    reason="Lots to learn from",
                    revisit=flagged,
                )
            )
    outcome = bot.run_job("allocate-learning-audits", at=ALLOCATION_DAY, seed=2026)
    assert outcome.status == "done", outcome.summary
    with bot.rt.db.session() as session:
        first = session.scalar(select(LearningAudit).order_by(LearningAudit.id))
        auditor = first.auditor.slack_id
        other = next(s for s in ("U0SM1", "U0SM2", "U0SM3", "U0SM4") if s != auditor)
        return Case(
            first.id, first.case_ref, auditor, first.case_holder.slack_id, first.team_manager.slack_id, other
        )


MEETING = {"Meeting date": date(2026, 5, 5), "Start time": "10:00", "Length": "1 hour"}


def case_ref_of(view: dict[str, Any] | None) -> str:
    """The case reference a meeting modal is for (its first line)."""
    assert view is not None
    return render_blocks(view["blocks"]).split("*Case:* ")[1].split()[0]


def dm_about(fake, user: str, case_ref: str, button: str) -> dict[str, Any]:  # noqa: ANN001
    """The newest DM to ``user`` about this case that carries ``button``."""
    for message in reversed(fake.dms(user)):
        if case_ref in (message.get("text") or "") and button in render_blocks(message.get("blocks") or []):
            return message
    raise AssertionError(f"{user} has no DM about {case_ref} with {button!r}")


def stored(bot, case: Case) -> LearningAudit:  # noqa: ANN001
    with bot.rt.db.session() as session:
        row = session.get(LearningAudit, case.audit_id)
        session.expunge(row)
        return row


def count(bot, model, *where) -> int:  # noqa: ANN001
    with bot.rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# ---------------------------------------------------------------------------------------------
# allocation DMs and the meeting


def test_the_three_people_are_told_and_the_auditor_sets_up_the_meeting_once(bot, slack, fake, case):
    to_auditor = dm_about(fake, case.auditor, case.case_ref, "Set up meeting")
    seen = render_blocks(to_auditor["blocks"])
    for expected in (
        f"<@{case.manager}>",
        f"<@{case.holder}>",
        "Fri 5 Jun 2026",
        "strengths-based",
        "Record learning audit",
    ):
        assert expected in seen
    assert "Start reflection" in render_blocks(
        dm_about(fake, case.holder, case.case_ref, "Start reflection")["blocks"]
    )
    told = [m for m in fake.dms(case.manager) if case.case_ref in m["text"]]
    assert len(told) == 1 and f"<@{case.auditor}>" in told[0]["text"] and "reflection" in told[0]["text"]

    slack.click(case.auditor, f"Set up meeting for {case.case_ref}", message=to_auditor)
    assert slack.submit(case.auditor, MEETING).errors == {}
    [opened] = fake.calls("conversations.open")
    assert set(str(opened.args["users"]).split(",")) == {case.auditor, case.manager, case.holder}
    channel = stored(bot, case).meeting_channel
    assert channel and channel.startswith("G")
    post = fake.messages(channel)[0]
    posted = render_blocks(post["blocks"])
    assert (
        "meet in person" in posted and "Wider learning for the service" in posted and case.case_ref in posted
    )
    posts = len(fake.messages(channel))

    slack.click(case.auditor, f"Set up meeting for {case.case_ref}", message=to_auditor)
    assert slack.submit(case.auditor, MEETING).errors == {}  # the same time again
    assert len(fake.messages(channel)) == posts and len(fake.calls("conversations.open")) == 1
    assert fake.problems == []


def test_a_service_manager_with_two_cases_gets_one_dm_naming_both_and_each_cases_buttons_work(
    bot, slack, fake, case
):
    with bot.rt.db.session() as session:
        mine = session.scalars(
            select(LearningAudit).join(LearningAudit.auditor)
            .where(Person.slack_id == case.auditor).order_by(LearningAudit.id)
        ).all()
        refs = [(a.id, a.case_ref) for a in mine]
    assert len(refs) == 2  # the council's two cases each
    about_either = [m for m in fake.dms(case.auditor) if any(ref in (m.get("text") or "") for _, ref in refs)]
    assert len(about_either) == 1, [m.get("text") for m in about_either]
    [morning] = about_either
    seen = render_blocks(morning["blocks"], morning["text"])
    assert all(ref in morning["text"] and f"Set up meeting for {ref}" in seen for _, ref in refs)
    for audit_id, ref in refs:
        slack.click(case.auditor, f"Set up meeting for {ref}", message=morning)
        assert case_ref_of(fake.latest_view(case.auditor)) == ref
        assert slack.submit(case.auditor, MEETING).errors == {}
        with bot.rt.db.session() as session:
            assert session.get(LearningAudit, audit_id).meeting_channel is not None
    assert fake.problems == []


def test_someone_else_pressing_the_auditors_buttons_is_refused_politely(bot, slack, fake, case):
    to_auditor = dm_about(fake, case.auditor, case.case_ref, "Set up meeting")
    for label in ("Set up meeting", "Record learning audit"):
        reply = slack.click(case.other_sm, f"{label} for {case.case_ref}", message=to_auditor)
        assert "Sorry, only the Service Manager allocated to this learning audit" in reply.text
    assert fake.calls("conversations.open") == []
    assert fake.latest_view(case.other_sm) is None
    assert stored(bot, case).meeting_channel is None
    assert fake.problems == []


# ---------------------------------------------------------------------------------------------
# the reflection


def test_the_case_holder_saves_then_amends_their_reflection(bot, slack, fake, case):
    slack.click(
        case.holder,
        f"Start reflection for {case.case_ref}",
        message=dm_about(fake, case.holder, case.case_ref, "Start reflection"),
    )
    view = fake.latest_view(case.holder)
    assert view["title"]["text"] == "Reflection" and view["submit"]["text"] == "Save reflection"
    assert "No names or identifying details." in json.dumps(view["blocks"])
    reply = slack.submit(case.holder, REFLECTION)
    assert reply.errors == {} and fake.latest_view(case.holder) is None
    with bot.rt.db.session() as session:
        reflection = session.scalar(select(Reflection).where(Reflection.audit_id == case.audit_id))
        assert reflection.do_differently == "Ask health to join sooner."
        assert reflection.themes == ["Multi-agency working"]
    assert count(bot, ThemeTag, ThemeTag.audit_id == case.audit_id, ThemeTag.source == "reflection") == 1
    assert any("written their reflection" in m["text"] for m in fake.dms(case.auditor))
    support = [m for m in fake.dms(case.manager) if "support" in m["text"]]
    assert len(support) == 1 and "Reflective supervision time." in render_blocks(support[0]["blocks"])

    slack.click(
        case.holder,
        "View or amend reflection",
        message=dm_about(fake, case.holder, case.case_ref, "View or amend reflection"),
    )
    amend = fake.latest_view(case.holder)
    assert "Ask health to join sooner." in json.dumps(amend["blocks"])  # what they wrote, to change
    reply = slack.submit(
        case.holder,
        {
            "What would you do differently?": "Ask health and school to join sooner.",
            "Themes to develop": ["Risk and safety", "Multi-agency working"],
        },
    )
    assert reply.errors == {}
    with bot.rt.db.session() as session:
        reflection = session.scalar(select(Reflection).where(Reflection.audit_id == case.audit_id))
        assert reflection.do_differently == "Ask health and school to join sooner."
        assert reflection.trying_to_achieve == "Keep the children safe at home."
        tags = session.scalars(select(ThemeTag.theme).where(ThemeTag.audit_id == case.audit_id)).all()
        assert sorted(tags) == ["Multi-agency working", "Risk and safety"]
    assert (
        len([m for m in fake.dms(case.holder) if "View or amend reflection" in render_blocks(m["blocks"])])
        == 1
    )
    assert fake.problems == []


def test_a_postcode_or_a_blank_answer_in_the_reflection_is_an_inline_error_and_nothing_is_stored(
    bot, slack, fake, case
):
    slack.click(
        case.holder,
        f"Start reflection for {case.case_ref}",
        message=dm_about(fake, case.holder, case.case_ref, "Start reflection"),
    )
    reply = slack.submit(
        case.holder,
        {
            **REFLECTION,
            "What did the child or family say?": "We moved to M1 1AE",
            "What would you do differently?": "   ",
        },
    )
    assert set(reply.errors) == {"reflection-family-said", "reflection-differently"}
    assert "postcode" in reply.errors["reflection-family-said"]
    assert "Please answer" in reply.errors["reflection-differently"]
    assert fake.latest_view(case.holder) is not None  # still open, with what was typed
    assert count(bot, Reflection) == 0
    assert fake.problems == []


def test_only_the_case_holder_may_open_or_submit_the_reflection_even_with_a_copied_payload(
    bot, slack, fake, case
):
    start = dm_about(fake, case.holder, case.case_ref, "Start reflection")
    refused = slack.click(case.manager, f"Start reflection for {case.case_ref}", message=start)
    assert "Sorry, only the case holder" in refused.text
    assert fake.latest_view(case.manager) is None

    slack.click(case.holder, f"Start reflection for {case.case_ref}", message=start)
    copied = fake.latest_view(case.holder)
    reply = slack.submit(case.auditor, REFLECTION, view=copied)
    assert reply.json["response_action"] == "update"
    assert "only the case holder" in json.dumps(reply.json["view"])
    assert count(bot, Reflection) == 0
    assert fake.problems == []


# ---------------------------------------------------------------------------------------------
# the learning-audit record


def open_audit_form(slack, fake, case: Case) -> dict[str, Any]:  # noqa: ANN001
    slack.click(
        case.auditor,
        f"Record learning audit for {case.case_ref}",
        message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"),
    )
    view = fake.latest_view(case.auditor)
    assert view["title"]["text"] == "Learning audit" and view["submit"]["text"] == "Record audit"
    return view


def type_into(fake, view: dict[str, Any], block_id: str, text: str) -> None:  # noqa: ANN001
    """What Slack's client keeps while the person types, before any submission."""
    fake.set_view_state(view["id"], block_id, block_id, {"type": "plain_text_input", "value": text})


def test_the_auditor_records_the_audit_with_an_action_added_in_a_pushed_modal(bot, slack, fake, case):
    slack.click(
        case.holder,
        f"Start reflection for {case.case_ref}",
        message=dm_about(fake, case.holder, case.case_ref, "Start reflection"),
    )
    slack.submit(case.holder, REFLECTION)

    form = open_audit_form(slack, fake, case)
    seen = render_blocks(form["blocks"])
    assert "Attendance is up; school says so." in seen  # the reflection's summary
    assert "Reflective supervision time." not in seen  # never the private support answer
    assert "grade" not in json.dumps(form).lower().replace("not graded", "")
    type_into(fake, form, "audit-outcomes", "Typed before adding the action.")

    slack.click(case.auditor, "Add an action", view=form)
    pushed = fake.latest_view(case.auditor)
    assert pushed["title"]["text"] == "Add an action" and len(fake.views(case.auditor)) == 2
    reply = slack.submit(
        case.auditor,
        {
            "Owner": case.holder,
            "Due date": date(2026, 6, 30),
            "What needs to happen": "Update the chronology after each review.",
        },
    )
    assert reply.errors == {}
    [parent] = fake.views(case.auditor)
    assert parent["id"] == form["id"]
    assert "Update the chronology after each review." in render_blocks(parent["blocks"])
    assert (
        parent["state"]["values"]["audit-outcomes"]["audit-outcomes"]["value"]
        == "Typed before adding the action."
    )
    assert fake.dms(case.holder)[-1]["text"].startswith("Your reflection")  # a draft is not sent yet

    reply = slack.submit(case.auditor, {k: v for k, v in AUDIT.items() if not k.startswith("Outcomes")})
    assert reply.errors == {} and fake.latest_view(case.auditor) is None
    row = stored(bot, case)
    assert row.status == "recorded" and row.outcomes == "Typed before adding the action."
    assert count(bot, ThemeTag, ThemeTag.audit_id == case.audit_id, ThemeTag.source == "audit") == 2

    mark_done = [m for m in fake.dms(case.holder) if m["text"].startswith("New action for you")]
    assert len(mark_done) == 1 and "Update the chronology" in render_blocks(mark_done[0]["blocks"])
    assert "Mark done" in render_blocks(mark_done[0]["blocks"])
    feedback = [m for m in fake.dms(case.holder) if m["text"].startswith("The learning from the audit")]
    assert len(feedback) == 1
    learnt = render_blocks(feedback[0]["blocks"])
    for expected in (
        "Direct work tools used with the eldest child.",
        "An earlier health referral.",
        "Share the direct work tools across teams.",
        "Update the chronology after each review.",
    ):
        assert expected in learnt
    assert "Mum, by phone" not in learnt  # not the whole record, not the feedback source
    to_manager = [m for m in fake.dms(case.manager) if m["text"].startswith("The learning from the audit")]
    assert len(to_manager) == 1 and "No individual actions were set for you" in render_blocks(
        to_manager[0]["blocks"]
    )

    again = slack.click(
        case.auditor,
        f"Record learning audit for {case.case_ref}",
        message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"),
    )
    assert "already recorded on Mon 20 Apr 2026" in again.text

    slack.click(
        case.holder,
        "View or amend reflection",
        message=dm_about(fake, case.holder, case.case_ref, "View or amend reflection"),
    )
    amend = fake.latest_view(case.holder)  # within the amendment window (tests/flows/test_amend.py)
    assert amend["title"]["text"] == "Amend reflection" and amend["submit"]["text"] == "Save amendment"
    assert fake.problems == []


def test_a_pushed_action_with_a_phone_number_is_refused_inline_and_not_drafted(bot, slack, fake, case):
    form = open_audit_form(slack, fake, case)
    slack.click(case.auditor, "Add an action", view=form)
    reply = slack.submit(
        case.auditor,
        {
            "Owner": case.holder,
            "Due date": date(2026, 6, 30),
            "What needs to happen": "Ring mum on 07700 900123 weekly",
        },
    )
    assert "phone number" in reply.errors["action-description"]
    assert count(bot, Action) == 0
    assert len(fake.views(case.auditor)) == 2
    assert fake.problems == []


def test_the_auditor_removes_a_drafted_action_and_keeps_what_was_typed(bot, slack, fake, case):
    form = open_audit_form(slack, fake, case)
    type_into(fake, form, "audit-good-practice", "Kept through the removal.")
    slack.click(case.auditor, "Add an action", view=form)
    slack.submit(
        case.auditor,
        {
            "Owner": case.manager,
            "Due date": date(2026, 6, 30),
            "What needs to happen": "Review the plan in supervision.",
        },
    )
    assert count(bot, Action, Action.status == "draft") == 1
    slack.click(case.auditor, "Remove", view=fake.latest_view(case.auditor))
    parent = fake.latest_view(case.auditor)
    assert "Review the plan in supervision." not in render_blocks(parent["blocks"])
    assert "No actions yet." in render_blocks(parent["blocks"])
    assert (
        parent["state"]["values"]["audit-good-practice"]["audit-good-practice"]["value"]
        == "Kept through the removal."
    )
    assert count(bot, Action) == 0
    assert fake.problems == []


def test_missing_answers_and_a_postcode_in_the_audit_are_inline_errors_and_nothing_is_stored(
    bot, slack, fake, case
):
    open_audit_form(slack, fake, case)
    assert "No reflection yet" in render_blocks(fake.latest_view(case.auditor)["blocks"])
    reply = slack.submit(
        case.auditor,
        {
            **AUDIT,
            "Outcomes and the difference made for the child and family": " ",
            "Wider learning for the service": "The family centre at SW1A 1AA helps",
        },
    )
    assert set(reply.errors) == {"audit-outcomes", "audit-wider-learning"}
    assert "postcode" in reply.errors["audit-wider-learning"]
    assert stored(bot, case).status == "allocated"
    assert count(bot, ThemeTag) == 0
    assert fake.problems == []


def test_a_copied_audit_form_submitted_by_someone_else_is_refused(bot, slack, fake, case):
    copied = open_audit_form(slack, fake, case)
    reply = slack.submit(case.other_sm, AUDIT, view=copied)
    assert reply.json["response_action"] == "update"
    assert "only the Service Manager allocated" in json.dumps(reply.json["view"])
    assert stored(bot, case).status == "allocated"
    assert fake.problems == []


def test_app_home_offers_the_same_next_steps_as_the_dms(bot, slack, fake, case):
    slack.open_home(case.holder)
    assert "Start reflection" in render_blocks(fake.home(case.holder)["blocks"])
    slack.click(case.holder, "Start reflection", home=True)
    assert fake.latest_view(case.holder)["title"]["text"] == "Reflection"

    slack.open_home(case.auditor)
    slack.click(case.auditor, "Set up meeting", home=True)
    assert fake.latest_view(case.auditor)["title"]["text"] == "Meeting"
    assert slack.submit(case.auditor, MEETING).errors == {}
    assert stored(bot, case).meeting_channel is not None
    assert fake.problems == []


def progress_rows(fake, user: str) -> dict[str, str]:  # noqa: ANN001
    """Q&I's Home: each service's progress line, by service name."""
    text = render_blocks(fake.home(user)["blocks"])
    section = text.split("Progress across services")[1]
    return {line.split(":")[0].strip("*• "): line.split(":", 1)[1] for line in section.splitlines()
            if " proposed · " in line}


def test_qi_home_counts_each_services_proposals_allocations_recordings_and_overdue(bot, slack, fake, case):
    def expected(overdue_after: date | None) -> dict[str, str]:
        with bot.rt.db.session() as session:
            out = {}
            for service in session.scalars(select(Service).where(Service.active)):
                proposed = session.scalar(select(func.count()).select_from(Proposal).where(
                    Proposal.service_id == service.id, Proposal.status != "withdrawn"))
                audits = session.scalars(select(LearningAudit).where(LearningAudit.service_id == service.id)).all()
                recorded = sum(a.status == "recorded" for a in audits)
                late = sum(a.status != "recorded" for a in audits) if overdue_after else 0
                out[service.name] = (f" {proposed} proposed · {len(audits)} allocated · {recorded} recorded"
                                     + (f" · :warning: {late} overdue" if late else ""))
            return out

    slack.open_home("U0QI1")
    rows = progress_rows(fake, "U0QI1")
    assert rows == expected(None)
    assert sum(int(r.split()[0]) for r in rows.values()) == len(PROPOSALS)

    open_audit_form(slack, fake, case)  # the auditor records one; the rest go past their due date
    assert slack.submit(case.auditor, AUDIT).errors == {}
    bot.set_time(london(2026, 6, 8, 9))
    slack.open_home("U0QI1")
    rows = progress_rows(fake, "U0QI1")
    assert rows == expected(date(2026, 6, 5))
    assert any("1 recorded" in r for r in rows.values()) and any("overdue" in r for r in rows.values())

    slack.open_home(case.other_sm)
    assert "Progress across services" not in render_blocks(fake.home(case.other_sm)["blocks"])
    assert fake.problems == []


def test_home_lists_a_case_holders_reflection_and_actions_in_due_date_order_each_with_its_button(
        bot, slack, fake, case):
    with bot.rt.db.session() as session:
        due_on = stored(bot, case).due_on
        for days, words in ((-20, "Book the family group conference"), (10, "Share the plan with school")):
            add_action(session, source_kind="learning_audit", source_id=case.audit_id, owner=case.holder,
                       description=words, due_on=due_on + timedelta(days=days), created_by=case.auditor,
                       service_id=None, quarter=QUARTER, today=date(2026, 4, 20))
    bot.rt.wait_idle()
    slack.open_home(case.holder)
    home = fake.home(case.holder)
    items = [(b["text"]["text"], b["accessory"]["text"]["text"]) for b in home["blocks"]
             if b["type"] == "section" and b.get("accessory", {}).get("type") == "button"]
    words = [text for text, _ in items]
    first = next(i for i, t in enumerate(words) if "Book the family group conference" in t)
    reflection = next(i for i, t in enumerate(words) if f"reflection for the learning audit of case *{case.case_ref}*" in t)
    last = next(i for i, t in enumerate(words) if "Share the plan with school" in t)
    assert first < reflection < last  # by due date, whatever the kind
    assert items[reflection][1] == "Start reflection"
    assert items[first][1] == items[last][1] == "Mark done"
    assert fake.problems == []
