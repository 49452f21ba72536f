"""Issue #14 item 4: the independence rule cannot be walked round by naming another team.

A CiC North team manager proposed a case choosing team "CP East" with a CiC North practitioner as
case holder, and the allocation gave it to the Children in Care Service Manager. Here the form
refuses such a proposal inline, and rows that already say so (an old proposal, a register line) are
judged on the real people's teams and services: by the allocation, the random sample's draw and a
themed audit's auditors alike. Driven through signed requests, as Slack uses the app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app.sandbox.harness import LocalBot
from bot.sampling.draw_run import explain
from bot.sampling.service import latest_draw
from storage.models import LearningAudit, LearningRound, OutboxMessage, Person, Proposal, Team
from storage.models.commissions import ThemedAudit
from storage.models.sampling import CaseRegisterEntry
from tests.conftest import assert_channels_carry_no_case_detail, london

REASON = "Why would this case give most learning?"
CP_EAST = "Child Protection — CP East"
QUARTER = "2026-27Q1"


@pytest.fixture(autouse=True)
def _slack_saw_nothing_wrong(fake):  # type: ignore[no-untyped-def]
    yield
    assert fake.problems == []


def count(bot: LocalBot, model: Any) -> int:  # noqa: ANN401
    with bot.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def person_id(session: Any, slack_id: str) -> int:  # noqa: ANN401
    return int(session.scalar(select(Person.id).where(Person.slack_id == slack_id)))


# ---------------------------------------------------------------------------------------------
# the proposal form


def test_the_issues_proposal_is_refused_inline_naming_the_team_and_nothing_is_stored(bot, slack, fake):
    """U0TM1 (CiC North) names team CP East with U0P1 (CiC North) as case holder; the team manager
    field still holds U0TM1, as the form opened with their own team."""
    before = count(bot, OutboxMessage)
    slack.command("U0TM1", "/propose-case")
    reply = slack.submit("U0TM1", {"Case reference": "CP-20999", "Service and team": CP_EAST,
                                   "Case holder": "U0P1", REASON: "Strong multi-agency work."})
    assert reply.errors["proposal-case-holder"] == (
        "<@U0P1> is not in team CP East. Choose the team the case is held in, or the case holder who holds it.")
    assert "<@U0TM1> does not manage team CP East" in reply.errors["proposal-team-manager"]
    assert fake.latest_view("U0TM1") is not None  # still open, with what was typed
    assert count(bot, Proposal) == 0 and count(bot, OutboxMessage) == before


def test_choosing_the_team_moves_the_manager_but_the_case_holder_must_still_be_in_it(bot, slack, fake):
    slack.command("U0TM1", "/propose-case")
    slack.select("U0TM1", "Service and team", CP_EAST)  # the team manager follows: U0TM3
    reply = slack.submit("U0TM1", {"Case reference": "CP-20999", "Case holder": "U0P1",
                                   REASON: "Strong multi-agency work."})
    assert set(reply.errors) == {"proposal-case-holder"}
    assert "not in team CP East" in reply.errors["proposal-case-holder"]
    fixed = slack.submit("U0TM1", {"Case holder": "U0P6"})  # the CP East worker who holds it
    assert fixed.errors == {}
    [proposal] = _proposals(bot)
    assert (proposal["team"], proposal["holder"], proposal["manager"]) == ("cp-east", "U0P6", "U0TM3")


def test_a_case_holder_who_manages_the_team_is_in_it(bot, slack, fake):
    slack.command("U0SM2", "/propose-case")  # their service's first team, CP East
    reply = slack.submit("U0SM2", {"Case reference": "CP-20998", "Case holder": "U0TM3",
                                   REASON: "The manager held it through a crisis."})
    assert reply.errors == {}


def test_editing_a_proposal_into_another_team_is_refused_and_the_proposal_is_unchanged(bot, slack, fake):
    slack.command("U0TM1", "/propose-case")
    assert slack.submit("U0TM1", {"Case reference": "CIC-10234", "Case holder": "U0P1",
                                  REASON: "Strong multi-agency work."}).errors == {}
    slack.click("U0TM1", "Edit", message=fake.dms("U0TM1")[-1])
    reply = slack.submit("U0TM1", {"Service and team": CP_EAST})
    assert "<@U0P1> is not in team CP East" in reply.errors["proposal-case-holder"]
    assert "<@U0TM1> does not manage team CP East" in reply.errors["proposal-team-manager"]
    [proposal] = _proposals(bot)
    assert (proposal["team"], proposal["holder"], proposal["manager"]) == ("cic-north", "U0P1", "U0TM1")


def _proposals(bot: LocalBot) -> list[dict[str, str]]:
    with bot.rt.db.session() as session:
        return [{"team": p.team.key, "holder": p.case_holder.slack_id, "manager": p.team_manager.slack_id}
                for p in session.scalars(select(Proposal).order_by(Proposal.id))]


# ---------------------------------------------------------------------------------------------
# the allocation: an old row that claims CP East


def _store_old_proposal(bot: LocalBot, *, away: tuple[str, ...] = ()) -> None:
    """The issue's proposal as a row stored before the form checked the team: claimed CP East (and
    its manager, as the form defaulted), held by U0P1 of CiC North, proposed by U0TM1."""
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=QUARTER, deadline=date(2026, 4, 17), audits_due=date(2026, 6, 5)))
        team = session.scalar(select(Team).where(Team.key == "cp-east"))
        session.add(Proposal(quarter=QUARTER, case_ref="CP-20999", live_ref="CP-20999", service_id=team.service_id,
                             team_id=team.id, case_holder_id=person_id(session, "U0P1"),
                             team_manager_id=team.team_manager_id, proposed_by_id=person_id(session, "U0TM1"),
                             reason="Lots to learn from"))
        for slack_id in away:
            session.get(Person, person_id(session, slack_id)).away_until = date(2026, 12, 31)


def test_an_old_row_claiming_cp_east_is_not_allocated_to_the_children_in_care_service_manager(bot):
    _store_old_proposal(bot, away=("U0SM3", "U0SM4"))  # left: the CiC and CP Service Managers
    outcome = bot.run_job("allocate-learning-audits", at=london(2026, 4, 20, 9), seed=7)
    assert outcome.status == "done", outcome.summary
    assert count(bot, LearningAudit) == 0
    with bot.rt.db.session() as session:
        proposal = session.scalar(select(Proposal))
        assert proposal.status == "not_allocated"
        # the proposer reads it in plain words; the stored plan keeps the ids (issue 15 item 3)
        assert proposal.not_allocated_reason.startswith("No Service Manager was entirely independent of it")
        assert "no independent Service Manager: all 2 conflict (own service: U0SM1, U0SM2)" in (
            session.get(LearningRound, QUARTER).allocation_explanation)


def test_with_everyone_in_the_old_row_goes_to_a_service_manager_of_neither_service(bot):
    _store_old_proposal(bot)
    assert bot.run_job("allocate-learning-audits", at=london(2026, 4, 20, 9), seed=7).status == "done"
    with bot.rt.db.session() as session:
        audit = session.scalar(select(LearningAudit))
        assert audit.auditor.slack_id in {"U0SM3", "U0SM4"}
        explanation = session.get(LearningRound, QUARTER).allocation_explanation
    assert "CP-20999 (proposal 1, cp): one of 2 independent Service Managers" in explanation


# ---------------------------------------------------------------------------------------------
# the random sample's draw: a Practice Consultant who works in a team

SAMPLING_ORG = """\
organisation: Walkround Council
timezone: Europe/London
channels:
  quality_improvement: C0QI
divisions:
  - name: Children's Social Care
    leadership_team: [U0DLT1]
services:
  - key: cic
    name: Children in Care
    division: Children's Social Care
    service_manager: U0SM1
    teams:
      - key: cic-north
        name: CiC North
        team_manager: U0TM1
        practitioners: [U0P1, U0PC1]
      - key: cic-south
        name: CiC South
        team_manager: U0TM2
        practitioners: [U0P3]
people:
  quality_improvement: [U0QI1]
  practice_consultants: [U0PC1]
"""


def _register(session: Any, rows: list[tuple[str, str, str, str]]) -> None:  # noqa: ANN401
    """Register lines as stored (an old import need not have checked them): ref, team, holder, manager."""
    for ref, team_key, holder, manager in rows:
        team = session.scalar(select(Team).where(Team.key == team_key))
        session.add(CaseRegisterEntry(case_ref=ref, service_id=team.service_id, team_id=team.id,
                                      case_holder_id=person_id(session, holder),
                                      team_manager_id=person_id(session, manager), status="open"))


@pytest.fixture
def sampling_bot(database_url: str, tmp_path: Path) -> Iterator[LocalBot]:
    org = tmp_path / "org.yaml"
    org.write_text(SAMPLING_ORG)
    with LocalBot(database_url, start=london(2026, 4, 1, 9, 0)) as local:
        local.import_org(org)
        with local.rt.db.session() as session:
            _register(session, [
                ("CIC-101", "cic-north", "U0P1", "U0TM1"),  # held in the PC's own team
                ("CIC-102", "cic-north", "U0P1", "U0TM1"),
                ("CIC-103", "cic-south", "U0P1", "U0TM2"),  # says CiC South, held in CiC North
                ("CIC-104", "cic-south", "U0P3", "U0TM2"),
            ])
        yield local
        assert_channels_carry_no_case_detail(local)


def test_the_draw_keeps_a_pair_off_cases_of_its_own_team_whatever_the_register_line_says(sampling_bot):
    bot = sampling_bot
    assert bot.run_job("draw-random-sample", at=london(2026, 4, 1, 9, 0), seed=11).status == "done"
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None
        assert [c.case_ref for c in row.cases] == ["CIC-104"]  # the only case neither of them is tied to
        excluded = {(e["case_ref"], e["person"]): e["reason"] for e in row.exclusions}
        record = explain(row)
    assert excluded[("CIC-101", "U0PC1")] == "belongs to team cic-north"
    assert excluded[("CIC-103", "U0PC1")] == "belongs to team cic-north, the team of the person who holds the case"
    assert ("CIC-104", "U0PC1") not in excluded and not any(p == "U0QI1" for _, p in excluded)
    assert "gives the same pairs and cases" in record  # re-run from the stored ties, it agrees


# ---------------------------------------------------------------------------------------------
# themed audits: auditors of cases the register knows

THEMED = {
    "Theme": "Management oversight of drift in plans",
    "The theory to test": "Plans drift where supervision does not review the plan's actions each month.",
    "Commissioned by": "Divisional Leadership Team",
    "Improvement-plan priority it serves": "Priority 3: timely, purposeful plans",
    "Sampling focus": "Plans open more than six months",
    "Sample size (cases)": 3,
    "Workshop date": date(2026, 6, 10),
    "CIB meeting it reports to": "Wed 15 Jul 2026",
}


def _register_sample_cases(bot: LocalBot) -> None:
    with bot.rt.db.session() as session:
        _register(session, [("CP-2999", "cp-east", "U0P1", "U0TM3"),  # says CP East, held in CiC North
                            ("CP-2001", "cp-east", "U0P6", "U0TM3")])


def test_a_themed_audit_auditor_tied_to_a_listed_case_is_refused_inline(bot, slack, fake):
    _register_sample_cases(bot)
    slack.command("U0DLT1", "/qmf", "commission themed")
    reply = slack.submit("U0DLT1", THEMED | {"Case references in the sample": "CP-2999",
                                              "Auditors": ["U0SM1", "U0QI1"]})
    assert reply.errors == {"themed-auditors": (
        "One of the auditors you chose is the Service Manager of Children in Care, where CP-2999 is held or "
        "managed, so can't audit "
        "it: auditors must be independent of the cases.")}
    assert count(bot, ThemedAudit) == 0
    assert slack.submit("U0DLT1", {"Auditors": ["U0SM3", "U0QI1"]}).errors == {}
    assert count(bot, ThemedAudit) == 1


def test_a_themed_audit_auditor_cannot_add_a_case_of_their_own_service(bot, slack, fake):
    _register_sample_cases(bot)
    slack.command("U0DLT1", "/qmf", "commission themed")
    assert slack.submit("U0DLT1", THEMED | {"Case references in the sample": "CP-2001",
                                            "Auditors": ["U0SM1", "U0QI1"]}).errors == {}
    slack.click("U0SM1", "Record findings for another case")
    reply = slack.submit("U0SM1", {
        "Case reference": "CP-2999",
        "What you found, tested against the theory": "Supervision notes record the plan but not its progress.",
        "Evidence": "Three supervisions in six months.",
        "Themes": ["Management oversight and supervision"],
    })
    assert "You are the Service Manager of Children in Care, where CP-2999" in reply.errors["themed-findings-case"]
    with bot.rt.db.session() as session:
        assert [c.case_ref for c in session.scalar(select(ThemedAudit)).cases] == ["CP-2001"]
