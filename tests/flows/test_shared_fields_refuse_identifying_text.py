"""Every free-text box people type into, in every modal, refuses identifying text on its own.

The bot is not the case record: a postcode, a date of birth, an NHS number, a phone number or an
email address typed into any box must come back as an inline error under that box, with nothing
stored and nothing sent. Each field is tried alone (the other answers are valid), through signed
requests to the running app, so a field whose check is dropped fails its own test.

``MODALS`` names each modal's free-text fields. ``test_every_free_text_box_of_the_modal_is_listed``
opens the real modal and fails when it has a box the list forgot, and
``test_every_modal_the_app_takes_answers_from_is_in_the_list`` fails when the app gains a modal the
list does not have, so a new box is never left unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.actions.messages import ActionIds
from bot.app.factory import create_app
from bot.app.sandbox.render import render_blocks
from bot.cib.types import CibIds
from bot.core.grades import Grade
from bot.cover.types import CoverIds
from bot.learning_audits.types import AuditField, LearningIds, MeetingField, ProposalIds, ReflectionField
from bot.sampling.messages import SampleIds
from bot.themed_audits.types import ThemedAuditIds as C
from bot.themes.messages import ThemesAction
from bot.visits.types import VisitIds
from storage.models import Base, LearningAudit, LearningRound, Person, Proposal, Team
from tests.conftest import london
from tests.flows.test_amend import NEW_LEARNING, receipt, record
from tests.flows.test_commissions_flow import commission_themed_audit, dms_saying
from tests.flows.test_cover import closed_proposal, not_independent_and_independent, reassign_from_dm
from tests.flows.test_grade_correction import REASON as CORRECTION_REASON
from tests.flows.test_learning_audits_flow import ALLOCATION_DAY, PROPOSALS, QUARTER, Case, dm_about
from tests.flows.test_sampling_flow import (
    buttons,
    draw_now,
    import_cases,
    pair_cases,
    section_answers,
    submit_audit,
)
from tests.flows.test_themes_flow import JOB as THEMES_JOB
from tests.flows.test_themes_flow import REVIEW_DAY, draft_dm
from tests.unit.test_themes import Q1, seed_standard_quarter

TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "rich_text_input"}

# (what the privacy check calls it, text a person might type): one of each kind bot.privacy finds
IDENTIFYING = [
    ("postcode", "The family moved to SW1A 1AA last spring."),
    ("date of birth", "Born 12/03/2015, the eldest of three."),
    ("NHS number", "NHS number 943 476 5919 was on the letter."),
    ("phone number", "Ring mum on 07700 900123 each week."),
    ("email address", "Write to the carer at jo.bloggs@example.com about it."),
]


@dataclass(frozen=True)
class Opened:
    """A modal open in front of ``user``, and answers (by block id) that it accepts."""

    user: str
    answers: dict[str, Any]


@dataclass(frozen=True)
class Modal:
    name: str
    callback: str  # the view's callback_id: the app's view listener that stores it
    open: Callable[[Any, Any, Any], Opened]  # (bot, slack, fake) -> Opened
    fields: tuple[str, ...]  # the free-text boxes, each of which must refuse identifying text
    case_reference_only: tuple[str, ...] = field(default=())  # boxes that accept nothing but a case reference


# ---------------------------------------------------------------------------------------------
# opening each modal the way people do


def _click_from_dm(slack, fake, user: str, label: str, value: str) -> None:  # noqa: ANN001
    dm = next(m for m in reversed(fake.dms(user)) if (label, value) in buttons(m))
    assert slack.click(user, label, message=dm, value=value).status == 200


def open_sample_audit(bot, slack, fake) -> Opened:  # noqa: ANN001
    import_cases(bot)
    draw_now(bot)
    case_id, _, pc = pair_cases(bot, "U0QI1")[0]
    _click_from_dm(slack, fake, pc, "Record sample audit", str(case_id))
    return Opened(pc, {
        SampleIds.DISCUSSIONS: ["Case holder", "Team manager"],
        SampleIds.FEEDBACK: "Parent said the worker listens and explains things.",
        SampleIds.STRENGTHS: "Clear plan reviewed monthly; the child's views are recorded at each visit.",
        SampleIds.IMPROVE: "Supervision notes do not show how risk was weighed.",
        SampleIds.THEMES: ["Management oversight and supervision"],
        SampleIds.GRADE: Grade.GOOD.label,
        SampleIds.RATIONALE: "Most of the work is timely and purposeful, with gaps in oversight.",
        SampleIds.CASE_STUDY: ["yes"],
        SampleIds.CASE_STUDY_NOTE: "How monthly plan reviews kept the work purposeful.",
        **section_answers(fake.latest_view(pc) or {}),
    })


def open_sample_moderation(bot, slack, fake) -> Opened:  # noqa: ANN001
    import_cases(bot)
    draw_now(bot)
    case_id, _, pc = pair_cases(bot, "U0QI1")[0]
    assert submit_audit(slack, fake, pc, case_id, Grade.GOOD).errors == {}
    assert submit_audit(slack, fake, "U0QI1", case_id, Grade.REQUIRES_IMPROVEMENT, feedback=None).errors == {}
    _click_from_dm(slack, fake, "U0QI1", "Record moderated grade", str(case_id))
    return Opened("U0QI1", {
        SampleIds.AGREED_GRADE: Grade.GOOD.label,
        SampleIds.AGREED_REASON: "Agreed after talking through the oversight gaps and the plan.",
    })


@dataclass(frozen=True)
class LearningCase:
    case_ref: str
    auditor: str
    holder: str


def allocate_learning_audits(bot) -> LearningCase:  # noqa: ANN001
    """The quarter's proposals, allocated by the real job; the first audit is followed."""
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=QUARTER, deadline=date(2026, 4, 17), audits_due=date(2026, 6, 5)))
        people = {p.slack_id: p.id for p in session.scalars(select(Person))}
        for case_ref, team_key, holder, proposer, flagged in PROPOSALS:
            team = session.scalars(select(Team).where(Team.key == team_key)).one()
            session.add(Proposal(quarter=QUARTER, case_ref=case_ref, live_ref=case_ref, service_id=team.service_id,
                                 team_id=team.id, case_holder_id=people[holder], team_manager_id=team.team_manager_id,
                                 proposed_by_id=people[proposer], reason="Lots to learn from", revisit=flagged))
    outcome = bot.run_job("allocate-learning-audits", at=ALLOCATION_DAY, seed=2026)
    assert outcome.status == "done", outcome.summary
    with bot.rt.db.session() as session:
        first = session.scalars(select(LearningAudit).order_by(LearningAudit.id)).first()
        return LearningCase(first.case_ref, first.auditor.slack_id, first.case_holder.slack_id)


LEARNING_AUDIT_ANSWERS: dict[str, Any] = {
    AuditField.OUTCOMES: "The children stayed safely at home.",
    AuditField.FEEDBACK: "Mum said the worker was honest and kind.",
    AuditField.FEEDBACK_SOURCE: "Mum, at the meeting.",
    AuditField.WORKER_IMPACT: "Confident, and proud of the direct work.",
    AuditField.NEEDED: "An earlier health referral.",
    AuditField.GOOD_PRACTICE: "Direct work tools used with the eldest child.",
    AuditField.WIDER: "Share the direct work tools across teams.",
    AuditField.IMPROVE_THEMES: ["Timeliness, drift and delay"],
    AuditField.GOOD_THEMES: ["Voice and lived experience of the child"],
}


def _open_learning_audit(slack, fake, case: LearningCase) -> None:  # noqa: ANN001
    slack.click(case.auditor, f"Record learning audit for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"))
    assert fake.latest_view(case.auditor)["title"]["text"] == "Learning audit"


def open_learning_audit(bot, slack, fake) -> Opened:  # noqa: ANN001
    case = allocate_learning_audits(bot)
    _open_learning_audit(slack, fake, case)
    return Opened(case.auditor, dict(LEARNING_AUDIT_ANSWERS))


def open_reflection(bot, slack, fake) -> Opened:  # noqa: ANN001
    case = allocate_learning_audits(bot)
    slack.click(case.holder, f"Start reflection for {case.case_ref}", message=dm_about(fake, case.holder, case.case_ref, "Start reflection"))
    assert fake.latest_view(case.holder)["title"]["text"] == "Reflection"
    return Opened(case.holder, {
        ReflectionField.TRYING: "Keep the children safe at home.",
        ReflectionField.DIFFERENCE: "Attendance is up; school says so.",
        ReflectionField.FAMILY_SAID: "The eldest said she felt listened to.",
        ReflectionField.DIFFERENTLY: "Ask health to join sooner.",
        ReflectionField.SUPPORT: "Reflective supervision time.",
        ReflectionField.THEMES: ["Multi-agency working"],
    })


def open_meeting(bot, slack, fake) -> Opened:  # noqa: ANN001
    case = allocate_learning_audits(bot)
    slack.click(case.auditor, f"Set up meeting for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Set up meeting"))
    assert fake.latest_view(case.auditor)["title"]["text"] == "Meeting"
    return Opened(case.auditor, {
        MeetingField.DATE: date(2026, 5, 5),
        MeetingField.START: "10:00",
        MeetingField.LENGTH: "1 hour",
        MeetingField.PLACE: "Room 2, Civic Centre",
    })


def open_learning_audit_action(bot, slack, fake) -> Opened:  # noqa: ANN001
    case = allocate_learning_audits(bot)
    _open_learning_audit(slack, fake, case)
    slack.click(case.auditor, "Add an action", view=fake.latest_view(case.auditor))
    assert fake.latest_view(case.auditor)["title"]["text"] == "Add an action"
    return Opened(case.auditor, {
        ActionIds.OWNER: case.holder,
        ActionIds.DUE: date(2026, 6, 30),
        ActionIds.DESCRIPTION: "Update the chronology after each review.",
    })


def open_proposal(bot, slack, fake) -> Opened:  # noqa: ANN001
    slack.command("U0TM1", "/propose-case")
    assert fake.latest_view("U0TM1")["title"]["text"] == "Propose a case"
    return Opened("U0TM1", {
        ProposalIds.CASE_REF: "CIC-10234",
        ProposalIds.CASE_HOLDER: "U0P1",
        ProposalIds.REASON: "Strong multi-agency work and a plan that changed course.",
    })


def open_themes_draft(bot, slack, fake) -> Opened:  # noqa: ANN001
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
        seed_standard_quarter(session)
    assert bot.run_job(THEMES_JOB, at=REVIEW_DAY).status == "done"
    slack.click("U0SM1", "Edit", message=draft_dm(fake, "U0SM1"))
    assert fake.latest_view("U0SM1")["title"]["text"] == "Learning themes draft"
    return Opened("U0SM1", {ThemesAction.KEY_MESSAGES: "Plan safety with partners early."})


def open_themed_commission(bot, slack, fake) -> Opened:  # noqa: ANN001
    slack.command("U0DLT1", "/qmf", "commission themed")
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Commission themed audit"
    return Opened("U0DLT1", {
        C.THEMED_THEME: "Management oversight of drift in plans",
        C.THEMED_THEORY: "Plans drift where supervision does not review the plan's actions each month.",
        C.THEMED_SOURCE: "Other",
        C.THEMED_SOURCE_OTHER: "Regional peer review",
        C.THEMED_PRIORITY: "Priority 3: timely, purposeful plans",
        C.THEMED_FOCUS: "Child in need plans open more than six months",
        C.THEMED_SIZE: 3,
        C.THEMED_CASES: "CIN-10001\nCIN-10002",
        C.THEMED_AUDITORS: ["U0SM1", "U0QI1"],
        C.THEMED_VIEWS: ["Seek service-user views for this theme"],
        C.THEMED_WORKSHOP: date(2026, 6, 10),
        C.THEMED_CIB: "Wed 15 Jul 2026",
    })


def open_findings(bot, slack, fake) -> Opened:  # noqa: ANN001
    commission_themed_audit(slack, fake)
    [brief] = dms_saying(fake, "U0SM1", "You are an auditor for this themed audit")
    case = next(b["accessory"]["value"] for b in brief["blocks"]
                if (b.get("accessory") or {}).get("action_id") == C.RECORD_FINDINGS)
    slack.click("U0SM1", "Record findings", message=brief, value=case)
    assert fake.latest_view("U0SM1")["title"]["text"] == "Record findings"
    return Opened("U0SM1", {
        C.FINDINGS_FOUND: "Supervision notes record the plan but not its progress.",
        C.FINDINGS_EVIDENCE: "Three supervisions in six months, none reviewing the plan's actions.",
        C.FINDINGS_VIEWS: "The parent said the plan was not explained to them.",
        C.FINDINGS_THEMES: ["Management oversight and supervision"],
    })


def open_findings_for_another_case(bot, slack, fake) -> Opened:  # noqa: ANN001
    commission_themed_audit(slack, fake)
    slack.click("U0QI1", "Record findings for another case",
                message=dms_saying(fake, "U0QI1", "You are an auditor for this themed audit")[0])
    assert fake.latest_view("U0QI1")["title"]["text"] == "Record findings"
    return Opened("U0QI1", {
        C.FINDINGS_CASE: "CIN-10003",
        C.FINDINGS_FOUND: "Monthly reviews kept the plan moving.",
        C.FINDINGS_EVIDENCE: "Each supervision updated the plan's actions.",
        C.FINDINGS_VIEWS: "The young person said reviews helped.",
        C.FINDINGS_THEMES: ["Management oversight and supervision"],
    })


def open_workshop_material(bot, slack, fake) -> Opened:  # noqa: ANN001
    commission_themed_audit(slack, fake)
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    slack.click("U0DLT1", "Attach performance data and feedback", message=mine)
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Workshop material"
    return Opened("U0DLT1", {
        C.MATERIAL_PERFORMANCE: "Plan reviews on time: 61% against 80% target.",
        C.MATERIAL_FEEDBACK: "Families want plans explained.",
    })


def open_moderated_findings(bot, slack, fake) -> Opened:  # noqa: ANN001
    commission_themed_audit(slack, fake)
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    bot.set_time(london(2026, 6, 10, 15, 0))
    slack.click("U0DLT1", "Record moderated findings", message=mine)
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Moderated findings"
    return Opened("U0DLT1", {
        C.MODERATED_FINDINGS: "Plans drift where supervision does not review their actions.",
        C.MODERATED_RECOMMENDATIONS: "Add a plan-review prompt to the supervision template.",
        C.MODERATED_THEMES: ["Management oversight and supervision"],
    })


VISIT_ANSWERS: dict[str, Any] = {
    VisitIds.VISIT_SERVICE: "Children in Care",
    VisitIds.VISIT_NEED: "Placement stability has fallen for two quarters.",
    VisitIds.VISIT_DATE: date(2026, 5, 12),
    VisitIds.VISIT_VISITORS: ["U0SEN1", "U0SM2"],
    VisitIds.VISIT_LEAD: "U0SEN1",
    VisitIds.VISIT_ACTIVITIES: ["Observation of practice", "Focus groups"],
    VisitIds.VISIT_PREP: "Read the stability dashboard and the last two quarters' themes.",
    VisitIds.VISIT_PERFORMANCE: "Placement moves per child up from 0.4 to 0.7.",
}
VISIT_ACTION: dict[str, Any] = {
    ActionIds.OWNER: "U0SM1",
    ActionIds.DUE: date(2026, 6, 30),
    ActionIds.DESCRIPTION: "Stability meetings for every second move.",
}
VISIT_RECORD: dict[str, Any] = {
    VisitIds.VISIT_FEEDBACK: "Warm, child-focused practice; moves are not reviewed.",
    VisitIds.VISIT_PLAN: "Review every second placement move.",
}


def open_visit_commission(bot, slack, fake) -> Opened:  # noqa: ANN001
    slack.command("U0DLT1", "/qmf", "commission visit")
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Commission a visit"
    return Opened("U0DLT1", dict(VISIT_ANSWERS))


def _open_visit_record(bot, slack, fake) -> None:  # noqa: ANN001
    open_visit_commission(bot, slack, fake)
    assert slack.submit("U0DLT1", VISIT_ANSWERS).errors == {}
    slack.close_modal("U0DLT1")
    bot.set_time(london(2026, 5, 12, 16, 0))
    [prep] = dms_saying(fake, "U0SEN1", "Please prepare with the plan below")
    slack.click("U0SEN1", "Record visit feedback", message=prep)
    assert fake.latest_view("U0SEN1")["title"]["text"] == "Record visit"


def open_visit_action(bot, slack, fake) -> Opened:  # noqa: ANN001
    _open_visit_record(bot, slack, fake)
    slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1"))
    assert fake.latest_view("U0SEN1")["title"]["text"] == "Add an action"
    return Opened("U0SEN1", dict(VISIT_ACTION))


def open_visit_record(bot, slack, fake) -> Opened:  # noqa: ANN001
    _open_visit_record(bot, slack, fake)
    slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1"))
    assert slack.submit("U0SEN1", VISIT_ACTION).errors == {}
    assert fake.latest_view("U0SEN1")["title"]["text"] == "Record visit"
    return Opened("U0SEN1", dict(VISIT_RECORD))


def open_cib_decision(bot, slack, fake) -> Opened:  # noqa: ANN001
    open_visit_record(bot, slack, fake)
    assert slack.submit("U0SEN1", VISIT_RECORD).errors == {}
    assert bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30)).status == "done"
    [digest] = [m for m in fake.messages("C0CIB") if "CIB digest" in render_blocks(m.get("blocks") or [])]
    bot.set_time(london(2026, 7, 15, 16, 0))
    slack.click("U0BRD1", "Record decision", message=digest)
    assert fake.latest_view("U0BRD1")["title"]["text"] == "CIB decision"
    return Opened("U0BRD1", {CibIds.CIB_DECISION_TEXT: "Endorsed; report progress in October."})


def open_cib_schedule(bot, slack, fake) -> Opened:  # noqa: ANN001
    slack.command("U0ADM1", "/qmf", "cib schedule")
    assert fake.latest_view("U0ADM1")["title"]["text"] == "Schedule a CIB meeting"
    return Opened("U0ADM1", {CibIds.CIB_DATE: date(2026, 5, 20)})


def open_sample_correction(bot, slack, fake) -> Opened:  # noqa: ANN001
    opened = open_sample_moderation(bot, slack, fake)
    assert slack.submit(opened.user, opened.answers).errors == {}
    slack.close_modal(opened.user)
    case_id, _, _ = pair_cases(bot, "U0QI1")[0]
    _click_from_dm(slack, fake, "U0QI1", "Correct agreed grade", str(case_id))
    assert fake.latest_view("U0QI1")["title"]["text"] == "Correct agreed grade"
    return Opened("U0QI1", {
        SampleIds.CORRECTED_GRADE: Grade.REQUIRES_IMPROVEMENT.label,
        SampleIds.CORRECTION_REASON: CORRECTION_REASON,
    })


def allocated_case(bot) -> Case:  # noqa: ANN001
    """The first audit ``allocate_learning_audits`` allocates, as the cover and amend flows follow it."""
    allocate_learning_audits(bot)
    with bot.rt.db.session() as session:
        first = session.scalars(select(LearningAudit).order_by(LearningAudit.id)).first()
        auditor = first.auditor.slack_id
        other = next(s for s in ("U0SM1", "U0SM2", "U0SM3", "U0SM4") if s != auditor)
        return Case(first.id, first.case_ref, auditor, first.case_holder.slack_id, first.team_manager.slack_id, other)


def open_learning_audit_amend(bot, slack, fake) -> Opened:  # noqa: ANN001
    case = allocated_case(bot)
    record(slack, fake, case)
    slack.click(case.auditor, "Amend", message=receipt(fake, case))
    assert fake.latest_view(case.auditor)["title"]["text"] == "Amend learning audit"
    return Opened(case.auditor, {AuditField.WIDER: NEW_LEARNING})


def open_visit_amend(bot, slack, fake) -> Opened:  # noqa: ANN001
    open_visit_record(bot, slack, fake)
    assert slack.submit("U0SEN1", VISIT_RECORD).errors == {}
    receipt_dm = dms_saying(fake, "U0SEN1", "You can amend the feedback until")[-1]
    slack.click("U0SEN1", "Amend", message=receipt_dm)
    assert fake.latest_view("U0SEN1")["title"]["text"] == "Amend visit feedback"
    return Opened("U0SEN1", {VisitIds.VISIT_FEEDBACK: "Warm practice; second placement moves are not reviewed."})


def open_cover_reassign(bot, slack, fake) -> Opened:  # noqa: ANN001
    case = allocated_case(bot)
    assert slack.command(case.auditor, "/qmf", "away 2026-06-01 2026-06-12").text.startswith("Done")
    reassign_from_dm(slack, fake, case)
    _own, independent = not_independent_and_independent(bot, case)
    return Opened("U0QI1", {CoverIds.NEW_PERSON: independent})


def open_cover_close(bot, slack, fake) -> Opened:  # noqa: ANN001
    proposal_id = closed_proposal(bot)
    assert bot.run_job("list-cover-needed", at=london(2026, 4, 15, 8)).status == "done"
    slack.open_home("U0QI1")
    key = f"proposal:{proposal_id}:"
    [label] = [e["text"]["text"] for b in fake.home("U0QI1")["blocks"]
               for e in [*(b.get("elements") or []), b.get("accessory") or {}]
               if e.get("action_id") == CoverIds.CLOSE and e.get("value") == key]  # its words may name the work
    slack.click("U0QI1", label, home=True, value=key)
    assert fake.latest_view("U0QI1")["title"]["text"] == "Close this work?"
    return Opened("U0QI1", {})


MODALS = [
    Modal("sample-audit", SampleIds.AUDIT_MODAL, open_sample_audit,
          (SampleIds.FEEDBACK, SampleIds.STRENGTHS, SampleIds.IMPROVE, SampleIds.RATIONALE,
           SampleIds.CASE_STUDY_NOTE)),
    Modal("sample-moderation", SampleIds.MODERATION_MODAL, open_sample_moderation, (SampleIds.AGREED_REASON,)),
    Modal("learning-audit", LearningIds.AUDIT_MODAL, open_learning_audit,
          (AuditField.OUTCOMES, AuditField.FEEDBACK, AuditField.FEEDBACK_SOURCE, AuditField.WORKER_IMPACT,
           AuditField.NEEDED, AuditField.GOOD_PRACTICE, AuditField.WIDER)),
    Modal("reflection", LearningIds.REFLECTION_MODAL, open_reflection,
          (ReflectionField.TRYING, ReflectionField.DIFFERENCE, ReflectionField.FAMILY_SAID,
           ReflectionField.DIFFERENTLY, ReflectionField.SUPPORT)),
    Modal("meeting", LearningIds.MEETING_MODAL, open_meeting, (MeetingField.PLACE,)),
    Modal("learning-audit-action", LearningIds.ADD_ACTION_MODAL, open_learning_audit_action,
          (ActionIds.DESCRIPTION,)),
    Modal("proposal", ProposalIds.MODAL, open_proposal, (ProposalIds.REASON,),
          case_reference_only=(ProposalIds.CASE_REF,)),
    Modal("themes-draft", ThemesAction.EDIT_VIEW, open_themes_draft, (ThemesAction.KEY_MESSAGES,)),
    Modal("themed-commission", C.THEMED_MODAL, open_themed_commission,
          (C.THEMED_THEME, C.THEMED_THEORY, C.THEMED_SOURCE_OTHER, C.THEMED_PRIORITY, C.THEMED_FOCUS),
          case_reference_only=(C.THEMED_CASES,)),
    Modal("themed-findings", C.FINDINGS_MODAL, open_findings,
          (C.FINDINGS_FOUND, C.FINDINGS_EVIDENCE, C.FINDINGS_VIEWS)),
    Modal("themed-findings-another-case", C.FINDINGS_MODAL, open_findings_for_another_case,
          (C.FINDINGS_FOUND, C.FINDINGS_EVIDENCE, C.FINDINGS_VIEWS), case_reference_only=(C.FINDINGS_CASE,)),
    Modal("themed-material", C.MATERIAL_MODAL, open_workshop_material,
          (C.MATERIAL_PERFORMANCE, C.MATERIAL_FEEDBACK)),
    Modal("themed-moderated", C.MODERATED_MODAL, open_moderated_findings,
          (C.MODERATED_FINDINGS, C.MODERATED_RECOMMENDATIONS)),
    Modal("visit-commission", VisitIds.VISIT_MODAL, open_visit_commission, (VisitIds.VISIT_NEED, VisitIds.VISIT_PREP, VisitIds.VISIT_PERFORMANCE)),
    Modal("visit-action", VisitIds.VISIT_ACTION_MODAL, open_visit_action, (ActionIds.DESCRIPTION,)),
    Modal("visit-record", VisitIds.VISIT_RECORD_MODAL, open_visit_record, (VisitIds.VISIT_FEEDBACK, VisitIds.VISIT_PLAN)),
    Modal("cib-decision", CibIds.CIB_DECISION_MODAL, open_cib_decision, (CibIds.CIB_DECISION_TEXT,)),
    Modal("cib-schedule", CibIds.CIB_SCHEDULE_MODAL, open_cib_schedule, ()),  # a date only: no free text
    Modal("sample-correction", SampleIds.CORRECT_MODAL, open_sample_correction, (SampleIds.CORRECTION_REASON,)),
    Modal("learning-audit-amend", LearningIds.AMEND_AUDIT_MODAL, open_learning_audit_amend,
          (AuditField.OUTCOMES, AuditField.FEEDBACK, AuditField.FEEDBACK_SOURCE, AuditField.WORKER_IMPACT,
           AuditField.NEEDED, AuditField.GOOD_PRACTICE, AuditField.WIDER)),
    Modal("visit-amend", VisitIds.AMEND_VISIT_MODAL, open_visit_amend, (VisitIds.VISIT_FEEDBACK, VisitIds.VISIT_PLAN)),
    Modal("cover-reassign", CoverIds.MODAL, open_cover_reassign, ()),  # a person picker only: no free text
    Modal("cover-close", CoverIds.CLOSE_MODAL, open_cover_close, ()),  # a confirmation only: no free text
]

FIELD_CASES = [(modal, str(name), IDENTIFYING[i % len(IDENTIFYING)])
               for i, (modal, name) in enumerate((m, f) for m in MODALS for f in m.fields)]


# ---------------------------------------------------------------------------------------------
# what "nothing stored, nothing sent" means


def stored_rows(bot) -> dict[str, list[str]]:  # noqa: ANN001
    """Every row of every table, so any write at all (an insert, an update) shows as a difference."""
    with bot.rt.db.engine.connect() as conn:
        return {t.name: sorted(repr(tuple(row)) for row in conn.execute(t.select()))
                for t in Base.metadata.sorted_tables}


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def free_text_boxes(view: dict[str, Any]) -> set[str]:
    return {str(b["block_id"]) for b in view.get("blocks") or []
            if b.get("type") == "input" and (b.get("element") or {}).get("type") in TEXT_INPUTS}


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("modal", "box", "identifying"), FIELD_CASES,
                         ids=[f"{m.name}:{box}:{kind}" for m, box, (kind, _) in FIELD_CASES])
def test_identifying_text_in_one_box_is_refused_under_that_box_and_nothing_is_stored(
        bot, slack, fake, modal: Modal, box: str, identifying: tuple[str, str]):
    kind, text = identifying
    opened = modal.open(bot, slack, fake)
    view = fake.latest_view(opened.user)
    assert box in free_text_boxes(view), f"{modal.name} has no box {box}"
    before, sent = stored_rows(bot), len(fake.messages())

    reply = slack.submit(opened.user, {**opened.answers, box: text})

    assert set(reply.errors) == {box}, f"{modal.name}: {text!r} in {box} gave errors {reply.errors}"
    assert kind in reply.errors[box]
    assert changed_tables(before, stored_rows(bot)) == []
    assert len(fake.messages()) == sent
    still = fake.latest_view(opened.user)
    assert still is not None and still["id"] == view["id"]  # the form stays open with what was typed
    assert fake.problems == []


CASE_REFERENCE_CASES = [(m, str(box)) for m in MODALS for box in m.case_reference_only]


@pytest.mark.parametrize(("modal", "box"), CASE_REFERENCE_CASES, ids=[f"{m.name}:{b}" for m, b in CASE_REFERENCE_CASES])
def test_a_box_for_case_references_only_refuses_anything_else_and_nothing_is_stored(
        bot, slack, fake, modal: Modal, box: str):
    opened = modal.open(bot, slack, fake)
    before = stored_rows(bot)
    reply = slack.submit(opened.user, {**opened.answers, box: "SW1A 1AA"})  # a postcode, not a case reference
    assert set(reply.errors) == {box}
    assert changed_tables(before, stored_rows(bot)) == []
    assert fake.problems == []


@pytest.mark.parametrize("modal", MODALS, ids=[m.name for m in MODALS])
def test_every_free_text_box_of_the_modal_is_listed(bot, slack, fake, modal: Modal):
    opened = modal.open(bot, slack, fake)
    view = fake.latest_view(opened.user)
    assert view["callback_id"] == modal.callback
    boxes = free_text_boxes(view)
    assert boxes - set(modal.case_reference_only) == set(modal.fields), (
        f"{modal.name}: free-text boxes not in the list: {sorted(boxes - set(modal.fields))}; "
        f"listed but not in the modal: {sorted(set(modal.fields) - boxes)}")
    assert set(modal.case_reference_only) <= boxes


@pytest.mark.parametrize("modal", MODALS, ids=[m.name for m in MODALS])
def test_the_same_answers_without_identifying_text_are_stored(bot, slack, fake, modal: Modal):
    """The answers the refusal tests start from are valid: refused only for the identifying text."""
    opened = modal.open(bot, slack, fake)
    before = stored_rows(bot)
    reply = slack.submit(opened.user, opened.answers)
    assert reply.errors == {}
    assert changed_tables(before, stored_rows(bot)) != []
    assert fake.problems == []


def view_listeners(bot) -> set[str]:  # noqa: ANN001
    """The callback ids of every modal the app stores answers from (its view_submission listeners).

    Read from bolt's listener matchers (``app.view("id")`` keeps the id in its matcher's closure).
    """
    app = create_app(bot.settings, runtime=bot.rt)
    found: set[str] = set()
    for listener in app._listeners:
        for matcher in listener.matchers:
            func = getattr(matcher, "func", None)
            if func is None or not func.__qualname__.startswith("view_submission."):
                continue
            cells = dict(zip(func.__code__.co_freevars, (c.cell_contents for c in func.__closure__ or ()),
                             strict=True))
            found.add(str(cells["callback_id"]))
    return found


def test_every_modal_the_app_takes_answers_from_is_in_the_list(bot):
    listeners = view_listeners(bot)
    assert SampleIds.AUDIT_MODAL in listeners and CibIds.CIB_DECISION_MODAL in listeners  # the reading works
    assert listeners == {str(m.callback) for m in MODALS}, (
        f"modals with no entry in MODALS: {sorted(listeners - {str(m.callback) for m in MODALS})}")


def test_every_kind_of_identifier_is_tried():
    assert {kind for _, _, (kind, _) in FIELD_CASES} == {kind for kind, _ in IDENTIFYING}
