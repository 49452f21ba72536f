"""Issue 15, items 3 and 4, through signed Slack requests: a proposer whose case was not allocated is
told why and can carry it into next quarter with one button (once, and only they or Q&I), and the
case holder's reflection asks apart which themes went well and which to develop, each counted where
it belongs. Also the allocation's words to Q&I: mentions, not ids; no seed; plain grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.themes.collation import collate
from storage.models import AuditLogEntry, LearningAudit, Proposal, Reflection, ThemeTag
from tests.conftest import london
from tests.flows.test_learning_quarter import PROPOSALS, dm_with, propose_from_dm, seen

Q1, Q2 = "2026-27Q1", "2026-27Q2"
CARRY = "Propose again next quarter"
RAW_ID = re.compile(r"(?<!<@)\b[UW]0[A-Z0-9]{2,}\b")
VOICE, MULTI, DRIFT, ANALYSIS = (
    "Voice and lived experience of the child", "Multi-agency working", "Timeliness, drift and delay",
    "Assessment and analysis",
)


@dataclass(frozen=True)
class Left:
    id: int
    case_ref: str
    proposer: str


@pytest.fixture(autouse=True)
def _slack_saw_nothing_wrong(fake):  # noqa: ANN001
    yield
    assert fake.problems == []


def allocate_q1(bot, slack, fake) -> list[Left]:  # noqa: ANN001
    """The quarter opens, thirteen cases are proposed from the managers' DMs, and they are allocated."""
    assert bot.run_job("open-proposals", at=london(2026, 4, 1, 9, 0)).status == "done"
    bot.set_time(london(2026, 4, 8, 10))
    for proposer, case_ref, team, holder, flags in PROPOSALS:
        propose_from_dm(slack, fake, proposer, case_ref, team, holder, flags)
    assert bot.run_job("allocate-learning-audits", at=london(2026, 4, 20, 9, 0), seed=2026).status == "done"
    with bot.rt.db.session() as session:
        rows = session.scalars(select(Proposal).where(Proposal.status == "not_allocated").order_by(Proposal.id))
        return [Left(p.id, p.case_ref, p.proposed_by.slack_id) for p in rows]


def not_allocated_dms(fake, user: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in fake.dms(user) if "Not allocated this quarter" in seen(m)]


def words_of(message: dict[str, Any]) -> str:
    return seen(message)


def test_a_proposer_is_told_why_their_case_was_not_allocated_and_can_carry_it_into_next_quarter_once(
        bot, slack, fake) -> None:  # noqa: ANN001
    left = allocate_q1(bot, slack, fake)
    assert left, "the sample quarter leaves cases over: each Service Manager audits two"

    # --- each proposer hears once, for all their cases, why, in plain words and with the button --------
    proposers = {c.proposer for c in left}
    for proposer in proposers:
        [dm] = not_allocated_dms(fake, proposer)
        said = words_of(dm)
        for case in left:
            assert (case.case_ref in said) is (case.proposer == proposer), (proposer, case.case_ref)
        assert said.count(f"[Button: {CARRY}") == sum(c.proposer == proposer for c in left)
        assert "already been given their 2 cases" in said and "2026-27 Q2" in said
        assert not RAW_ID.search(said) and "seed" not in said.lower(), said
    for person in ("U0SM1", "U0TM6", "U0QI1"):  # allocated cases' proposers and bystanders hear nothing
        if person not in proposers:
            assert not_allocated_dms(fake, person) == []

    # --- Q&I read the Service Managers as mentions, no seed, and the channel reads as a sentence --------
    detail = next(m for m in fake.dms("U0QI1") if "Allocation shortfalls" in seen(m))
    detail_words = words_of(detail)
    assert "seed" not in detail_words.lower() and not RAW_ID.search(detail_words), detail_words
    assert re.search(r"already had 2 cases: <@U0SM\d>, <@U0SM\d> and <@U0SM\d>\.", detail_words), detail_words
    assert "Each proposer has been told why" in detail_words
    [post] = [m for m in fake.messages("C0QI") if "Learning-audit allocation" in (m.get("text") or "")]
    post_words = words_of(post)
    assert "because every independent Service Manager already had 2 cases." in post_words, post_words
    assert not re.search(r"\(\d+ every", post_words) and "seed" not in post_words.lower()

    case = left[0]
    button = dm_with(fake, case.proposer, CARRY, case.case_ref)

    # --- someone else pressing it (a copied payload) is refused and changes nothing ---------------------
    stranger = next(m for m in ("U0TM3", "U0TM4", "U0TM8") if m != case.proposer)
    refused = slack.click(stranger, CARRY, message=button, value=str(case.id))
    assert "Only the person who proposed this case" in (refused.text or "")

    # --- the proposer presses it: next quarter's proposal, with the same case, people and reason --------
    bot.set_time(london(2026, 4, 21, 10))
    reply = slack.click(case.proposer, CARRY, message=button, value=str(case.id))
    assert f"{case.case_ref} is proposed again for *2026-27 Q2*" in (reply.text or ""), reply.text
    assert "Wed 1 Jul 2026" in (reply.text or "")
    again = slack.click(case.proposer, CARRY, message=button, value=str(case.id))
    assert "already proposed again for 2026-27 Q2" in (again.text or ""), again.text
    with bot.rt.db.session() as session:
        original = session.get(Proposal, case.id)
        [carried] = session.scalars(select(Proposal).where(Proposal.quarter == Q2)).all()
        assert carried.carried_from_id == case.id and carried.status == "proposed"
        assert (carried.case_ref, carried.team_id, carried.case_holder_id, carried.reason,
                carried.proposed_by_id) == (original.case_ref, original.team_id, original.case_holder_id,
                                            original.reason, original.proposed_by_id)
        logged = session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "carry")).all()
        assert [(e.actor, e.entity_id) for e in logged] == [(case.proposer, str(carried.id))]

    # --- the Q1 list shows why, and that it is proposed again -------------------------------------------
    slack.command(case.proposer, "/qmf", "proposals")
    listing = seen(fake.ephemerals(case.proposer)[-1])
    assert "Proposed again for 2026-27 Q2." in listing and "already been given their 2 cases" in listing

    # --- Q&I may carry one for its proposer, who is told -----------------------------------------------
    if len(left) > 1:
        other = left[1]
        done = slack.click("U0QI1", CARRY, message=dm_with(fake, other.proposer, CARRY, other.case_ref),
                           value=str(other.id))
        assert "proposed again for *2026-27 Q2*" in (done.text or "")
        assert any("<@U0QI1> proposed your case" in (m.get("text") or "") for m in fake.dms(other.proposer))
    carried_count = 2 if len(left) > 1 else 1
    with bot.rt.db.session() as session:
        assert len(session.scalars(select(Proposal).where(Proposal.quarter == Q2)).all()) == carried_count

    # --- next quarter opens: the carried case is an ordinary proposal, and is allocated with the rest ---
    assert bot.run_job("open-proposals", at=london(2026, 7, 1, 9, 0)).status == "done"
    bot.set_time(london(2026, 7, 1, 11))
    slack.command(case.proposer, "/qmf", "proposals")
    q2_list = fake.ephemerals(case.proposer)[-1]
    assert case.case_ref in seen(q2_list) and "[Button: Edit" in seen(q2_list)
    assert bot.run_job("allocate-learning-audits", at=london(2026, 7, 16, 9, 0)).status == "done"
    with bot.rt.db.session() as session:
        statuses = set(session.scalars(select(Proposal.status).where(Proposal.quarter == Q2)))
        assert statuses == {"allocated"}, statuses
    assert any(case.case_ref in seen(m) and "2026-27 Q2" in seen(m) for m in fake.dms(case.proposer)
               if "Learning audit" in seen(m) or "learning audit" in seen(m))


def test_the_reflection_asks_what_went_well_apart_from_what_to_develop_and_counts_each_where_it_belongs(
        bot, slack, fake) -> None:  # noqa: ANN001
    allocate_q1(bot, slack, fake)
    with bot.rt.db.session() as session:
        audit = session.scalars(select(LearningAudit).order_by(LearningAudit.id)).first()
        assert audit is not None
        audit_id, ref, holder, auditor, service_id = (audit.id, audit.case_ref, audit.case_holder.slack_id,
                                                      audit.auditor.slack_id, audit.service_id)
    bot.set_time(london(2026, 4, 23, 14))
    slack.click(holder, f"Start reflection for {ref}", message=dm_with(fake, holder, "Start reflection", ref))
    form = fake.latest_view(holder)
    labels = [b["label"]["text"] for b in form["blocks"] if b.get("type") == "input"]
    assert "Themes that went well in this case" in labels and "Themes to develop" in labels
    reply = slack.submit(holder, {
        "What were you trying to achieve for the child and family?": "Keep the children safe at home.",
        "What difference did your work make, and how do you know?": "Attendance is up; school says so.",
        "What did the child or family say?": "The eldest said she felt listened to.",
        "What would you do differently?": "Ask health to join sooner.",
        "Themes that went well in this case": [VOICE],
        "Themes to develop": [MULTI],
    })
    assert reply.errors == {}
    with bot.rt.db.session() as session:
        tags = {(t.kind, t.theme) for t in session.scalars(
            select(ThemeTag).where(ThemeTag.audit_id == audit_id, ThemeTag.source == "reflection"))}
        assert tags == {("good", VOICE), ("improve", MULTI)}
        reflection = session.scalar(select(Reflection).where(Reflection.audit_id == audit_id))
        assert (reflection.themes_good, reflection.themes) == ([VOICE], [MULTI])

    # the amend form shows each answer under its own question
    slack.click(holder, "View or amend reflection", message=dm_with(fake, holder, "View or amend reflection", ref))
    amend = fake.latest_view(holder)
    chosen = {b["label"]["text"]: [o["value"] for o in b["element"].get("initial_options") or []]
              for b in amend["blocks"] if b.get("type") == "input" and "Themes" in b["label"]["text"]}
    assert chosen == {"Themes that went well in this case": [VOICE], "Themes to develop": [MULTI]}
    slack.close_modal(holder)

    # the auditor records the audit without naming the worker's strength: it still counts as good practice
    bot.set_time(london(2026, 5, 11, 14))
    slack.click(auditor, f"Record learning audit for {ref}", message=dm_with(fake, auditor, "Record learning audit", ref))
    assert slack.submit(auditor, {
        "Outcomes and the difference made for the child and family": "The children stayed safely at home.",
        "Direct service-user feedback: what was said": "Mum said the worker was honest and kind.",
        "Who gave the feedback, or why there was none": "Mum, by phone, before the meeting.",
        "Impact on the worker": "Confident, and proud of the direct work.",
        "What would have been needed to improve the case?": "An earlier health referral.",
        "Good practice to share": "A clear, evidenced analysis of what had changed.",
        "Wider learning for the service": "Share the analysis template across teams.",
        "Themes: areas to improve": [DRIFT],
        "Themes: good practice": [ANALYSIS],
    }).errors == {}
    with bot.rt.db.session() as session:
        learning = collate(session, quarter=Q1, service_id=service_id, today=date(2026, 6, 20))
    good = {c.theme: c.count for c in learning.good}
    improve = {c.theme: c.count for c in learning.improve}
    assert good == {VOICE: 1, ANALYSIS: 1}, good
    assert improve == {MULTI: 1, DRIFT: 1}, improve
