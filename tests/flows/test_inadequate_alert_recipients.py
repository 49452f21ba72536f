"""Who hears of an Inadequate sample grade at once: the case's team manager and service manager,
never the auditing pair (they are blind until both grades are in, and then told in their own way).

The sample organisation never puts a manager in a pair, so it cannot tell "sent to the managers"
from "sent to the managers unless they are auditing the case". Here a Practice Consultant becomes
the service's manager after the draw (the draw itself keeps a service's manager off its cases, by
the independence rule): when they audit a case of their own service, the alert must not reach them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app.sandbox.harness import LocalBot
from bot.core.council import policy_of
from bot.core.grades import Grade
from bot.sampling.register import import_register
from bot.sampling.service import latest_draw
from tests.conftest import assert_channels_carry_no_case_detail, london
from tests.flows.test_sampling_flow import message_text, moderate, submit_audit

SERVICE_MANAGER = "U0PC1"  # a Practice Consultant in the draw, then made manager of the only service
ORG = """\
organisation: Alert Recipients Council
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
    service_manager: {manager}
    teams:
      - key: cic-north
        name: CiC North
        team_manager: U0TM1
        practitioners: [U0P1, U0P2]
      - key: cic-south
        name: CiC South
        team_manager: U0TM2
        practitioners: [U0P3, U0P4]
people:
  quality_improvement: [U0QI1, U0QI2]
  practice_consultants: [U0PC1, U0PC2]
"""
CASES = "case_ref,service,team,case_holder,team_manager,reviewing_officer,status\n" + "".join(
    f"CIC-{100 + n},cic,{team},{holder},{tm},,open\n"
    for n, (team, holder, tm) in enumerate([("cic-north", "U0P1", "U0TM1"), ("cic-south", "U0P3", "U0TM2"),
                                            ("cic-north", "U0P2", "U0TM1"), ("cic-south", "U0P4", "U0TM2")] * 2)
)


@pytest.fixture
def org_bot(database_url: str, tmp_path: Path) -> Iterator[LocalBot]:
    org = tmp_path / "org.yaml"
    org.write_text(ORG.format(manager="U0SM1"))
    with LocalBot(database_url, start=london(2026, 4, 1, 9, 0)) as local:
        local.import_org(org)
        with local.rt.db.session() as session:
            result = import_register(session, CASES, policy=policy_of(session))
        assert result.imported and not result.errors
        yield local
        assert_channels_carry_no_case_detail(local)


def alerts(fake: Any, case_ref: str, *, agreed: bool) -> set[str]:
    """The people (by DM channel) who were sent the Inadequate alert for the case, of one kind."""
    kind = "the moderated grade for" if agreed else "before moderation"
    return {m["channel"] for m in fake.messages()
            if (m.get("text") or "").startswith(f"Inadequate grade: {case_ref} ") and kind in message_text(m)}


def test_the_inadequate_alert_goes_to_the_case_managers_and_never_to_the_auditing_pair(org_bot, tmp_path):
    bot, slack, fake = org_bot, org_bot.slack, org_bot.fake
    assert bot.run_job("draw-random-sample", at=london(2026, 4, 1, 9, 0)).status == "done"
    promoted = tmp_path / "promoted.yaml"
    promoted.write_text(ORG.format(manager=SERVICE_MANAGER))
    bot.import_org(promoted)
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None and row.service.service_manager.slack_id == SERVICE_MANAGER
        cases = {c.pair.pc.slack_id: (c.id, c.case_ref, c.pair.qi.slack_id, c.team_manager.slack_id)
                 for c in row.cases}
    # one case audited by the service manager's own pair, one by the other pair
    own_id, own_ref, own_qi, own_tm = cases[SERVICE_MANAGER]
    other_id, other_ref, other_qi, other_tm = cases["U0PC2"]
    assert len({own_qi, other_qi, SERVICE_MANAGER, "U0PC2", own_tm}) == 5
    assert len({own_qi, other_qi, SERVICE_MANAGER, "U0PC2", other_tm}) == 5

    # blind Inadequate grades: the Q&I auditor grades the first, the PC the second
    assert submit_audit(slack, fake, own_qi, own_id, Grade.INADEQUATE, feedback=None).errors == {}
    assert submit_audit(slack, fake, "U0PC2", other_id, Grade.INADEQUATE).errors == {}
    # the service manager auditing the case is not alerted (it would unblind them); the Q&I auditor neither
    assert alerts(fake, own_ref, agreed=False) == {f"D{own_tm}"}
    assert alerts(fake, other_ref, agreed=False) == {f"D{other_tm}", f"D{SERVICE_MANAGER}"}
    assert "Inadequate" not in "\n".join(message_text(m) for m in fake.dms(SERVICE_MANAGER)
                                         if own_ref in message_text(m))  # still blind on their own case

    # the partners grade, see both grades in their own message, and agree Inadequate
    assert submit_audit(slack, fake, SERVICE_MANAGER, own_id, Grade.REQUIRES_IMPROVEMENT).errors == {}
    assert submit_audit(slack, fake, other_qi, other_id, Grade.REQUIRES_IMPROVEMENT, feedback=None).errors == {}
    for person, ref in ((own_qi, own_ref), (SERVICE_MANAGER, own_ref), (other_qi, other_ref), ("U0PC2", other_ref)):
        assert any((m.get("text") or "").startswith(f"Both blind audits of {ref} are in")
                   for m in fake.dms(person)), f"{person} was not shown both grades of {ref}"
    assert moderate(slack, fake, own_qi, own_id, Grade.INADEQUATE).errors == {}
    assert moderate(slack, fake, "U0PC2", other_id, Grade.INADEQUATE).errors == {}
    assert alerts(fake, own_ref, agreed=True) == {f"D{own_tm}"}
    assert alerts(fake, other_ref, agreed=True) == {f"D{other_tm}", f"D{SERVICE_MANAGER}"}
    # each alert was sent once to each recipient, and to nobody else at all
    every = [m["channel"] for m in fake.messages() if (m.get("text") or "").startswith("Inadequate grade:")]
    assert sorted(every) == sorted([f"D{own_tm}"] * 2 + [f"D{other_tm}", f"D{SERVICE_MANAGER}"] * 2)
    assert fake.problems == []
