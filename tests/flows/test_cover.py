"""Cover and reassignment through signed requests (issue 16 items 1-3): an SM marked away has their
learning audit listed to Q&I with Reassign; the independence rule refuses inline; the new SM gets the
allocation's buttons and the reminders; forged and non-Q&I submissions are refused; leavers and
closed cases are listed; a closed case's proposal is flagged and not allocated."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.cli import main
from bot.app.sandbox.harness import SAMPLE_ORG
from bot.app.sandbox.render import render_blocks
from storage.models import AuditLogEntry, LearningAudit, LearningRound, Person, Proposal, Service, Team
from storage.models.commissions import LearningVisit
from storage.models.sampling import CaseRegisterEntry
from tests.conftest import london
from tests.flows.test_actions_flow import add_audit_action
from tests.flows.test_learning_audits_flow import MEETING, QUARTER, Case, dm_about, stored
from tests.flows.test_learning_audits_flow import case as case  # noqa: F401 - the allocated case fixture

QI = "U0QI1"
SMS = ("U0SM1", "U0SM2", "U0SM3", "U0SM4")
CLOSE_PROPOSAL = "Close proposal of CIN-3002 - the case has closed"
ACTION_BUTTON = "Reassign action “Update the chronology after the review”"


def cover_dm(fake, text: str) -> dict[str, Any]:  # noqa: ANN001
    """The newest Q&I DM listing work needing cover that mentions ``text``."""
    for message in reversed(fake.dms(QI)):
        shown = render_blocks(message.get("blocks") or [])
        if "Work needing cover" in shown and text in shown:
            return message
    raise AssertionError(f"Q&I have no cover DM about {text!r}: {[m.get('text') for m in fake.dms(QI)]}")


def button_words(message: dict[str, Any]) -> list[str]:
    return [e["text"]["text"] for b in message.get("blocks") or [] if b.get("type") == "actions"
            for e in b["elements"]]


def dms_with(fake, user: str, text: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in fake.dms(user) if text in (m.get("text") or "") + render_blocks(m.get("blocks") or [])]


def not_independent_and_independent(bot, case: Case) -> tuple[str, str]:  # noqa: ANN001
    """The case's own Service Manager, and one of another service who did not propose it."""
    with bot.rt.db.session() as s:
        audit = s.get(LearningAudit, case.audit_id)
        own = audit.service.service_manager.slack_id
        proposer = audit.proposal.proposed_by.slack_id
    other = next(sm for sm in SMS if sm not in (own, proposer, case.auditor))
    return own, other


def reassign_from_dm(slack, fake, case: Case) -> dict[str, Any]:  # noqa: ANN001
    dm = cover_dm(fake, f"Learning audit of {case.case_ref}")
    slack.click(QI, f"Reassign learning audit of {case.case_ref}", message=dm, value=f"learning_audit:{case.audit_id}:")
    view = fake.latest_view(QI)
    assert view is not None and view["title"]["text"] == "Reassign"
    return view


def test_an_away_auditor_is_covered_by_an_independent_sm_who_then_gets_the_buttons_and_reminders(
        bot, slack, fake, case):
    slack.click(case.auditor, f"Set up meeting for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Set up meeting"))
    assert slack.submit(case.auditor, MEETING).errors == {}
    group = stored(bot, case).meeting_channel
    assert group is not None
    done = slack.command(case.auditor, "/qmf", "away 2026-06-01 2026-06-12")
    assert done.text.startswith("Done: you are marked away")
    view = reassign_from_dm(slack, fake, case)
    shown = render_blocks(view["blocks"])
    assert f"Learning audit of {case.case_ref}" in shown and f"<@{case.auditor}>" in shown

    own, other = not_independent_and_independent(bot, case)
    refused = slack.submit(QI, {"New person": own})
    assert refused.errors["cover-new-person"].startswith(f"<@{own}> is not independent of {case.case_ref}:")
    assert stored(bot, case).auditor_id != _id(bot, own)
    not_sm = slack.submit(QI, {"New person": "U0P5"})
    assert "is not a Service Manager" in not_sm.errors["cover-new-person"]

    assert slack.submit(QI, {"New person": other}).errors == {}
    with bot.rt.db.session() as s:
        assert s.get(LearningAudit, case.audit_id).auditor.slack_id == other
        log = s.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "reassign")).all()
        assert [(e.entity, e.detail["from"], e.detail["to"]) for e in log] == [("learning_audit", case.auditor, other)]
    to_new = dm_about(fake, other, case.case_ref, "Record learning audit")
    assert "Set up meeting" in render_blocks(to_new["blocks"])
    assert dms_with(fake, case.auditor, f"has moved to <@{other}>")
    assert dms_with(fake, case.holder, f"<@{other}> now does the learning audit of {case.case_ref}")
    assert any("the meeting set here is off" in (m.get("text") or "") for m in fake.messages(group))
    assert stored(bot, case).meeting_channel is None  # the new auditor sets it up again

    # The old auditor's buttons no longer work for them; the new auditor's do.
    old_dm = dm_about(fake, case.auditor, case.case_ref, "Record learning audit")
    refusal = slack.click(case.auditor, f"Record learning audit for {case.case_ref}", message=old_dm)
    assert "only the Service Manager allocated" in refusal.text
    slack.click(other, f"Record learning audit for {case.case_ref}", message=to_new)
    assert fake.latest_view(other) is not None

    # The reminders follow the row: on the due day the new auditor is reminded, the old one not.
    before_old = len(dms_with(fake, case.auditor, case.case_ref))
    before_new = len(dms_with(fake, other, case.case_ref))
    bot.run_job("send-reminders", at=london(2026, 6, 5, 9, 30))
    assert len(dms_with(fake, other, case.case_ref)) == before_new + 1
    assert len(dms_with(fake, case.auditor, case.case_ref)) == before_old
    assert fake.problems == []


def submit_forged(slack, fake, view: dict[str, Any], key: str, new: str):  # noqa: ANN001, ANN201
    """The Reassign modal submitted (signed) with a forged key in its private_metadata."""
    state = {"values": {"cover-new-person": {"cover-new-person": {"type": "users_select", "selected_user": new}}}}
    payload = {"type": "view_submission", "team": {"id": "T0QMF"}, "user": {"id": QI}, "api_app_id": "A0QMF",
               "token": "x", "trigger_id": fake.issue_trigger(QI), "response_urls": [],
               "view": view | {"private_metadata": key, "state": state, "hash": "forged"}}
    return slack._interaction(payload, "forged reassign")


def _id(bot, slack_id: str) -> int:  # noqa: ANN001
    with bot.rt.db.session() as s:
        return s.scalar(select(Person.id).where(Person.slack_id == slack_id))


def test_a_forged_or_non_qi_reassignment_is_refused_and_nothing_moves(bot, slack, fake, case):
    slack.command(case.auditor, "/qmf", "away 2026-06-01 2026-06-12")
    dm = cover_dm(fake, f"Learning audit of {case.case_ref}")
    # Someone who is not Q&I presses a copied button: refused, no modal.
    reply = slack.click("U0P1", f"Reassign learning audit of {case.case_ref}", message=dm, value=f"learning_audit:{case.audit_id}:")
    assert "Only Quality & Improvement or a QMF admin" in reply.text
    assert fake.latest_view("U0P1") is None
    # ...and submits a copied modal: refused on the server.
    view = reassign_from_dm(slack, fake, case)
    _own, other = not_independent_and_independent(bot, case)
    forged = slack.submit("U0P1", {"New person": other}, view=view)
    assert "Only Quality & Improvement" in forged.body
    # A forged key in the metadata: refused, nothing stored.
    refused = submit_forged(slack, fake, reassign_from_dm(slack, fake, case), "learning_audit:abc:", other)
    assert "out of date" in refused.errors.get("cover-new-person", ""), refused.body
    assert stored(bot, case).auditor_id == _id(bot, case.auditor)
    with bot.rt.db.session() as s:
        assert s.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "reassign")).all() == []
    assert fake.problems == []


def test_a_case_closed_on_the_register_is_listed_with_close_and_closing_tells_and_stops_reminders(
        bot, slack, fake, case):
    _register(bot, case.case_ref, "closed")
    bot.run_job("list-cover-needed", at=london(2026, 4, 21, 8))
    dm = cover_dm(fake, f"Learning audit of {case.case_ref}")
    assert "has closed on the register" in render_blocks(dm["blocks"])
    slack.click(QI, f"Close learning audit of {case.case_ref}", message=dm, value=f"learning_audit:{case.audit_id}:")
    assert stored(bot, case).status == "closed"
    assert dms_with(fake, case.auditor, f"The learning audit of {case.case_ref} is closed")
    before = len(dms_with(fake, case.auditor, case.case_ref))
    bot.run_job("send-reminders", at=london(2026, 6, 5, 9, 30))
    assert len(dms_with(fake, case.auditor, case.case_ref)) == before
    # Told once: the next day's run lists nothing new.
    count = len(fake.dms(QI))
    bot.run_job("list-cover-needed", at=london(2026, 4, 22, 8))
    assert len(fake.dms(QI)) == count
    assert fake.problems == []


def _register(bot, case_ref: str, status: str, team_key: str = "cic-north", holder: str = "U0P1") -> None:  # noqa: ANN001
    with bot.rt.db.session() as s:
        found = s.scalar(select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref == case_ref))
        if found is None:
            team = s.scalars(select(Team).where(Team.key == team_key)).one()
            s.add(CaseRegisterEntry(case_ref=case_ref, service_id=team.service_id, team_id=team.id,
                                    case_holder_id=s.scalar(select(Person.id).where(Person.slack_id == holder)),
                                    team_manager_id=team.team_manager_id, status=status))
        else:
            found.status = status


def closed_proposal(bot) -> int:  # noqa: ANN001
    """A live proposal of CIN-3002, whose case has closed on the register."""
    with bot.rt.db.session() as s:
        s.add(LearningRound(quarter=QUARTER, deadline=date(2026, 4, 17), audits_due=date(2026, 6, 5)))
        team = s.scalars(select(Team).where(Team.key == "cin-central")).one()
        proposal = Proposal(quarter=QUARTER, case_ref="CIN-3002", live_ref="CIN-3002", service_id=team.service_id,
                            team_id=team.id, case_holder_id=_id(bot, "U0P12"), team_manager_id=team.team_manager_id,
                            proposed_by_id=_id(bot, "U0TM5"), reason="Lots to learn from")
        s.add(proposal)
        s.flush()
        found = proposal.id
    _register(bot, "CIN-3002", "closed", team_key="cin-central", holder="U0P12")
    return found


def test_qi_close_a_closed_cases_proposal_from_app_home_after_confirming(bot, slack, fake):
    proposal_id = closed_proposal(bot)
    bot.run_job("list-cover-needed", at=london(2026, 4, 15, 8))
    slack.open_home(QI)
    slack.click(QI, CLOSE_PROPOSAL, home=True, value=f"proposal:{proposal_id}:")
    assert slack.submit(QI, {}).errors == {}
    with bot.rt.db.session() as s:
        assert s.get(Proposal, proposal_id).status == "withdrawn"
        assert s.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity == "proposal")).all() == ["withdraw"]
    assert dms_with(fake, "U0TM5", "Your proposal of CIN-3002 was withdrawn")
    # Pressed again (a stale Home): no longer open, said plainly, nothing changed twice.
    again = slack.click(QI, CLOSE_PROPOSAL, message=cover_dm(fake, "Proposal of CIN-3002"), value=f"proposal:{proposal_id}:")
    assert "That proposal is no longer open" in (again.text or "")
    assert len(dms_with(fake, "U0TM5", "Your proposal of CIN-3002 was withdrawn")) == 1
    assert fake.problems == []


def test_a_proposal_whose_case_closed_is_flagged_to_qi_and_its_proposer_and_not_allocated(bot, slack, fake):
    closed_proposal(bot)
    bot.run_job("list-cover-needed", at=london(2026, 4, 15, 8))
    dm = cover_dm(fake, "Proposal of CIN-3002 - the case has closed")
    assert button_words(dm) == [CLOSE_PROPOSAL]
    assert len(dms_with(fake, "U0TM5", "you may withdraw it")) == 1
    bot.run_job("list-cover-needed", at=london(2026, 4, 16, 8))
    assert len(dms_with(fake, "U0TM5", "you may withdraw it")) == 1  # told once

    # On Q&I's App Home too, where Close asks first in a modal; someone else is refused.
    slack.open_home(QI)
    assert "Proposal of CIN-3002 - the case has closed" in render_blocks(fake.home(QI)["blocks"])
    slack.open_home("U0P1")
    assert "Proposal of CIN-3002" not in render_blocks(fake.home("U0P1")["blocks"])
    with bot.rt.db.session() as s:
        proposal_id = s.scalars(select(Proposal.id).where(Proposal.case_ref == "CIN-3002")).one()
    slack.click(QI, CLOSE_PROPOSAL, home=True, value=f"proposal:{proposal_id}:")
    confirm = fake.latest_view(QI)
    assert confirm is not None and confirm["title"]["text"] == "Close this work?"
    # Not closed yet: the allocation leaves it out by itself.
    with bot.rt.db.session() as s:
        assert s.get(Proposal, proposal_id).status == "proposed"
    slack.close_modal(QI)

    outcome = bot.run_job("allocate-learning-audits", at=london(2026, 4, 20, 9), seed=2026)
    assert outcome.status == "done", outcome.summary
    with bot.rt.db.session() as s:
        proposal = s.scalars(select(Proposal).where(Proposal.case_ref == "CIN-3002")).one()
        assert proposal.status == "not_allocated"
        assert proposal.not_allocated_reason == "the case closed on the register before allocation"
        assert s.scalars(select(LearningAudit)).all() == []
    assert fake.problems == []


def test_an_action_owner_and_a_visits_lead_reviewer_are_reassigned(bot, slack, fake):
    action_id = add_audit_action(bot, owner="U0P1", due=date(2026, 4, 10))
    slack.command("U0P1", "/qmf", "away 2026-04-06 2026-04-17")
    dm = cover_dm(fake, "Action “Update the chronology after the review”")
    slack.click(QI, ACTION_BUTTON, message=dm, value=f"action:{action_id}:")
    assert slack.submit(QI, {"New person": "U0P2"}).errors == {}
    new = dms_with(fake, "U0P2", "You have a new action")
    assert new and "Mark done" in render_blocks(new[-1]["blocks"])
    assert dms_with(fake, "U0P1", "is now owned by <@U0P2>")
    for back_and_again in ("U0P1", "U0P2"):  # a later move tells the new owner again, even the same one
        slack.click(QI, ACTION_BUTTON, message=dm, value=f"action:{action_id}:")
        assert slack.submit(QI, {"New person": back_and_again}).errors == {}
    assert len(dms_with(fake, "U0P2", "You have a new action")) == 2

    with bot.rt.db.session() as s:
        service = s.scalars(select(Service).where(Service.key == "cic")).one()
        visit = LearningVisit(service_id=service.id, financial_year="2026-27", need_or_risk="Drift",
                              visit_on=date(2026, 5, 12), lead_reviewer_id=_id(bot, "U0SEN1"),
                              commissioned_by_id=_id(bot, "U0SEN2"), activities=[], preparation_notes="Read")
        s.add(visit)
        s.flush()
        visit_id = visit.id
    slack.command(QI, "/qmf", "away <@U0SEN1> 2026-05-11 2026-05-13")
    dm = cover_dm(fake, "Lead reviewer of the learning visit to Children in Care")
    slack.click(QI, "Reassign lead reviewer of the learning visit to Children in Care", message=dm, value=f"visit_lead:{visit_id}:")
    refused = slack.submit(QI, {"New person": "U0SM1"})  # the service's own Service Manager
    assert "must be independent of the service" in refused.errors["cover-new-person"]
    assert slack.submit(QI, {"New person": "U0SEN3"}).errors == {}
    with bot.rt.db.session() as s:
        assert s.get(LearningVisit, visit_id).lead_reviewer.slack_id == "U0SEN3"
    assert dms_with(fake, "U0SEN3", "Record")
    assert dms_with(fake, "U0SEN1", "now leads the learning visit")
    assert fake.problems == []


@pytest.fixture
def cli_db(monkeypatch, database_url):  # noqa: ANN001
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "QMF_ORG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def test_a_leavers_open_work_is_listed_after_the_org_import(bot, slack, fake, cli_db, tmp_path, capsys):
    action_id = add_audit_action(bot, owner="U0P3", due=date(2026, 4, 10))
    org = Path(SAMPLE_ORG).read_text().replace("[U0P1, U0P2, U0P3]", "[U0P1, U0P2]")
    changed = tmp_path / "org.yaml"
    changed.write_text(org)
    assert main(["org", "import", str(changed)]) == 0
    capsys.readouterr()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        bot.rt.wait_idle()
        if any("Work needing cover" in render_blocks(m.get("blocks") or []) for m in fake.dms(QI)):
            break
        time.sleep(0.05)
    dm = cover_dm(fake, "Action “Update the chronology after the review”")
    assert "left the directory" in render_blocks(dm["blocks"])
    values = [e.get("value") for b in dm["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert f"action:{action_id}:" in values
    assert fake.problems == []
