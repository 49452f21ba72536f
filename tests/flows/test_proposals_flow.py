"""Case proposals, driven the way managers use them in Slack: signed requests, buttons and fields by label."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.app.sandbox.render import render_blocks, render_view
from storage.models import AuditLogEntry, LearningRound, OutboxMessage, Proposal
from tests.conftest import london

MANAGERS = [f"U0SM{i}" for i in range(1, 5)] + [f"U0TM{i}" for i in range(1, 9)]
REASON = "Why would this case give most learning?"


@pytest.fixture(autouse=True)
def _slack_saw_nothing_wrong(fake):
    yield
    assert fake.problems == []


def seen(message: dict) -> str:
    return render_blocks(message.get("blocks"), message.get("text"))


def proposals_in(bot) -> list[Proposal]:
    with bot.rt.db.session() as session:
        related = (selectinload(Proposal.team), selectinload(Proposal.team_manager),
                   selectinload(Proposal.proposed_by))
        return list(session.scalars(select(Proposal).options(*related).order_by(Proposal.id)))


def outbox_count(bot) -> int:
    with bot.rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def open_quarter(bot) -> None:
    outcome = bot.run_job("open-proposals", at=london(2026, 4, 1, 9))
    assert outcome.status == "done", outcome.line()


def propose(slack, fake, user: str, case_ref: str = "CIC-10234", holder: str = "U0P1",
            reason: str = "Strong multi-agency work and a plan that changed course.", **more):
    reply = slack.command(user, "/propose-case")
    assert fake.latest_view(user) is not None, reply.text
    return slack.submit(user, {"Case reference": case_ref, "Case holder": holder, REASON: reason, **more})


def test_opening_the_quarter_asks_every_manager_once_with_a_propose_button(bot, fake):
    open_quarter(bot)
    for user in MANAGERS:
        dms = fake.dms(user)
        assert len(dms) == 1, user
        words = seen(dms[0])
        assert "2026-27 Q1 (Apr-Jun 2026)" in words
        assert "Fri 17 Apr 2026" in words  # ten working days, skipping Good Friday and Easter Monday
        assert "not* a performance management tool" in words
        assert "has no proposals so far" in words
        assert "Propose a case" in words
    for user in ("U0P1", "U0QI1", "U0ADM1", "U0DLT1"):
        assert fake.dms(user) == []
    with bot.rt.db.session() as session:
        round_ = session.get(LearningRound, "2026-27Q1")
        assert round_ is not None and round_.deadline.isoformat() == "2026-04-17"

    sent = outbox_count(bot)
    assert bot.run_job("open-proposals", at=london(2026, 4, 1, 9, 30)).status == "already-done"
    assert bot.run_job("open-proposals", at=london(2026, 4, 2, 9)).status == "already-done"
    assert outbox_count(bot) == sent
    assert all(len(fake.dms(user)) == 1 for user in MANAGERS)


def test_the_job_is_not_due_before_the_first_working_day_opens(bot, fake):
    assert bot.run_job("open-proposals", at=london(2026, 4, 1, 8, 59)).status == "not-due"
    assert fake.dms("U0SM1") == []


def test_the_invitation_counts_the_service_proposals_so_far(bot, slack, fake):
    propose(slack, fake, "U0TM1")  # before the job ran (it was down at 09:00)
    assert bot.run_job("open-proposals", at=london(2026, 4, 2, 9)).status == "done"
    assert "Children in Care* has 1 proposal so far" in seen(fake.dms("U0SM1")[-1])
    assert "Child Protection* has no proposals so far" in seen(fake.dms("U0SM2")[-1])


def test_propose_in_the_dm_opens_the_modal_with_the_managers_own_team(bot, slack, fake):
    open_quarter(bot)
    slack.click("U0TM3", "Propose a case", message=fake.dms("U0TM3")[0])
    view = fake.latest_view("U0TM3")
    assert view["title"]["text"] == "Propose a case"
    assert view["submit"]["text"] == "Propose"
    shown = render_view(view)
    assert "Child Protection — CP East" in shown
    assert "e.g. CIC-10234" in shown
    assert "No names or identifying details" in shown
    assert "not the case record" in shown
    manager = next(b for b in view["blocks"] if b.get("block_id") == "proposal-team-manager")
    assert manager["element"]["initial_user"] == "U0TM3"


def test_a_proposal_is_stored_and_confirmed_with_edit_and_withdraw(bot, slack, fake):
    open_quarter(bot)
    slack.click("U0TM1", "Propose a case")
    reply = slack.submit("U0TM1", {"Case reference": "cic-10234", "Case holder": "U0P2",
                                   REASON: "Voice of the child came through strongly in every visit.",
                                   "Does any of these apply?": ["Previously graded Inadequate"]})
    assert reply.errors == {}
    assert fake.latest_view("U0TM1") is None  # the modal closed
    [proposal] = proposals_in(bot)
    assert (proposal.case_ref, proposal.live_ref, proposal.status) == ("CIC-10234", "CIC-10234", "proposed")
    assert proposal.previously_inadequate and not proposal.revisit
    confirmation = fake.dms("U0TM1")[-1]
    words = seen(confirmation)
    assert "CIC-10234" in words and "Previously graded Inadequate" in words
    assert "Edit" in words and "Withdraw" in words
    with bot.rt.db.session() as session:
        logged = session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity == "proposal")).all()
        assert [(e.actor, e.action) for e in logged] == [("U0TM1", "create")]


def test_the_team_manager_follows_the_chosen_team_and_defaults_to_it(bot, slack, fake):
    slack.command("U0SM1", "/qmf", "propose")
    slack.select("U0SM1", "Service and team", "Child Protection — CP West")
    view = fake.latest_view("U0SM1")
    manager = next(b for b in view["blocks"] if b.get("block_id") == "proposal-team-manager")
    assert manager["element"]["initial_user"] == "U0TM4"
    slack.submit("U0SM1", {"Case reference": "CP-5511", "Case holder": "U0P9",
                           REASON: "Drift was turned round."})
    [proposal] = proposals_in(bot)
    assert (proposal.team.key, proposal.team_manager.slack_id) == ("cp-west", "U0TM4")


@pytest.mark.parametrize(
    ("fields", "block", "words"),
    [
        ({"Case reference": "child smith"}, "proposal-case-ref", "e.g. CIC-10234"),
        ({REASON: "   "}, "proposal-reason", "Please say why"),
        ({REASON: "Family moved to SW1A 1AA and the plan stalled."}, "proposal-reason", "postcode"),
        ({"Case holder": "U0NOTHERE"}, "proposal-case-holder", "<@U0ADM1>"),
    ],
    ids=["bad case reference", "missing answer", "postcode in free text", "case holder not in directory"],
)
def test_bad_input_is_refused_inline_and_nothing_is_stored(bot, slack, fake, fields, block, words):
    open_quarter(bot)
    before = outbox_count(bot)
    slack.click("U0TM1", "Propose a case")
    values = {"Case reference": "CIC-10234", "Case holder": "U0P1", REASON: "Good learning about drift."}
    values |= fields
    reply = slack.submit("U0TM1", values)
    assert words in reply.errors[block]
    assert fake.latest_view("U0TM1") is not None  # still open, with what was typed
    assert proposals_in(bot) == []
    assert outbox_count(bot) == before


def test_a_duplicate_proposal_names_who_proposed_it_and_stores_nothing(bot, slack, fake):
    open_quarter(bot)
    propose(slack, fake, "U0TM1", case_ref="CIC-10234")
    bot.set_time(london(2026, 4, 2, 10))
    before = outbox_count(bot)
    reply = propose(slack, fake, "U0SM1", case_ref="cic-10234")
    assert reply.errors["proposal-case-ref"] == (
        "CIC-10234 was already proposed for 2026-27 Q1 by <@U0TM1> on 1 Apr.")
    assert len(proposals_in(bot)) == 1
    assert outbox_count(bot) == before


def test_people_who_do_not_manage_are_politely_refused(bot, slack, fake):
    reply = slack.command("U0P1", "/propose-case")
    assert "tell your team manager" in reply.text
    assert fake.latest_view("U0P1") is None
    stranger = slack.command("U0STRANGER", "/qmf", "propose")
    assert "not in the QMF directory" in stranger.text and "<@U0ADM1>" in stranger.text


def test_quality_and_improvement_may_propose(bot, slack, fake):
    reply = propose(slack, fake, "U0QI1", case_ref="FD-2001", holder="U0P16",
                    **{"Service and team": "Front Door/MASH — MASH"})
    assert reply.errors == {}
    assert [p.case_ref for p in proposals_in(bot)] == ["FD-2001"]


def test_the_proposer_edits_from_the_list_and_the_change_is_stored(bot, slack, fake):
    propose(slack, fake, "U0TM1")
    slack.command("U0TM1", "/qmf", "proposals")
    listing = seen(fake.ephemerals("U0TM1")[-1])
    assert "CIC-10234" in listing and "Withdraw" in listing
    slack.click("U0TM1", "Edit", message=fake.ephemerals("U0TM1")[-1])
    view = fake.latest_view("U0TM1")
    assert "CIC-10234" in render_view(view)
    reply = slack.submit("U0TM1", {"Case reference": "CIC-10999",
                                   "Does any of these apply?": ["A re-visit of an earlier audit"]})
    assert reply.errors == {}
    [proposal] = proposals_in(bot)
    assert (proposal.case_ref, proposal.live_ref, proposal.revisit) == ("CIC-10999", "CIC-10999", True)
    assert proposal.reason.startswith("Strong multi-agency")  # untouched fields kept
    assert "updated your proposal of *CIC-10999*" in seen(fake.dms("U0TM1")[-1])


def test_withdrawing_frees_the_case_to_be_proposed_again(bot, slack, fake):
    propose(slack, fake, "U0TM1")
    reply = slack.click("U0TM1", "Withdraw", message=fake.dms("U0TM1")[-1])
    assert "You withdrew *CIC-10234*" in reply.text
    [proposal] = proposals_in(bot)
    assert (proposal.status, proposal.live_ref) == ("withdrawn", None)
    again = propose(slack, fake, "U0TM2", case_ref="CIC-10234", holder="U0P4")
    assert again.errors == {}
    assert [(p.proposed_by.slack_id, p.status) for p in proposals_in(bot)] == [
        ("U0TM1", "withdrawn"), ("U0TM2", "proposed")]


def test_someone_else_replaying_edit_or_withdraw_is_refused(bot, slack, fake):
    propose(slack, fake, "U0TM1")
    confirmation = fake.dms("U0TM1")[-1]
    edit = slack.click("U0TM2", "Edit", message=confirmation)
    assert "Only the person who proposed this case" in edit.text
    assert fake.latest_view("U0TM2") is None
    withdraw = slack.click("U0TM2", "Withdraw", message=confirmation)
    assert "Only the person who proposed this case" in withdraw.text
    [proposal] = proposals_in(bot)
    assert proposal.status == "proposed"


def test_a_copied_edit_form_submitted_by_someone_else_changes_nothing(bot, slack, fake):
    propose(slack, fake, "U0TM1")
    slack.click("U0TM1", "Edit")
    tm1_form = fake.latest_view("U0TM1")
    reply = slack.submit("U0TM2", {"Case reference": "CIC-77777"}, view=tm1_form)
    assert reply.json["response_action"] == "update"
    assert "Only the person who proposed this case" in render_view(reply.json["view"])
    [proposal] = proposals_in(bot)
    assert proposal.case_ref == "CIC-10234"


def test_nothing_changes_after_allocation(bot, slack, fake):
    propose(slack, fake, "U0TM1")
    with bot.rt.db.session() as session:
        session.get(LearningRound, "2026-27Q1").allocated_at = datetime(2026, 4, 20, 9, tzinfo=UTC)
    bot.set_time(london(2026, 4, 21, 10))
    edit = slack.click("U0TM1", "Edit", message=fake.dms("U0TM1")[-1])
    assert "closed when the cases were allocated on Mon 20 Apr 2026" in edit.text
    withdraw = slack.click("U0TM1", "Withdraw", message=fake.dms("U0TM1")[-1])
    assert "can no longer be added, edited or withdrawn" in withdraw.text
    new = slack.command("U0TM2", "/propose-case")
    assert "Proposals for 2026-27 Q2 open on Wed 1 Jul 2026" in new.text
    assert fake.latest_view("U0TM2") is None
    slack.command("U0TM1", "/qmf", "proposals")
    listing = seen(fake.ephemerals("U0TM1")[-1])
    assert "CIC-10234" in listing and "Withdraw" not in listing
    [proposal] = proposals_in(bot)
    assert proposal.status == "proposed" and proposal.live_ref == "CIC-10234"


def test_a_form_opened_before_allocation_is_refused_when_submitted_after(bot, slack, fake):
    slack.command("U0TM1", "/propose-case")
    with bot.rt.db.session() as session:
        from bot.learning_audits.rounds import ensure_round
        round_ = ensure_round(session, calendar=bot.rt.calendar(session), policy=bot.rt.policy(session),
                              quarter=bot.rt.calendar(session).quarter(bot.rt.now()), now=bot.rt.now())
        round_.allocated_at = datetime(2026, 4, 20, 9, tzinfo=UTC)
    reply = slack.submit("U0TM1", {"Case reference": "CIC-10234", "Case holder": "U0P1",
                                   REASON: "Good learning."})
    assert reply.json["response_action"] == "update"
    assert "closed when the cases were allocated" in render_view(reply.json["view"])
    assert proposals_in(bot) == []
