"""Records older than the retention setting are purged with what hangs off them; newer ones stay."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.app.runtime import build_runtime
from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.directory import import_org
from bot.core.orgfile import load_org_file
from bot.core.settings import Settings
from schedules.jobs import run_job
from storage.models import (
    Action,
    LearningAudit,
    LearningRound,
    OutboxMessage,
    Person,
    Proposal,
    Reflection,
    Service,
    Team,
    ThemeTag,
)

LONDON = ZoneInfo("Europe/London")


def _quarter_of_work(session, quarter: str) -> None:
    service = session.scalar(select(Service).where(Service.key == "cic"))
    team = session.scalar(select(Team).where(Team.key == "cic-north"))
    people = {p.slack_id: p for p in session.scalars(select(Person))}
    session.add(LearningRound(quarter=quarter, deadline=date(2018, 4, 20)))
    proposal = Proposal(quarter=quarter, case_ref=f"CIC-{quarter[:4]}1", live_ref=f"CIC-{quarter[:4]}1",
                        service_id=service.id, team_id=team.id, case_holder_id=people["U0P1"].id,
                        team_manager_id=people["U0TM1"].id, proposed_by_id=people["U0TM1"].id, reason="r")
    session.add(proposal)
    session.flush()
    audit = LearningAudit(quarter=quarter, proposal_id=proposal.id, auditor_id=people["U0SM2"].id,
                          case_ref=proposal.case_ref, service_id=service.id, team_id=team.id,
                          case_holder_id=people["U0P1"].id, team_manager_id=people["U0TM1"].id, status="recorded")
    session.add(audit)
    session.flush()
    session.add(Reflection(audit_id=audit.id, case_holder_id=people["U0P1"].id, trying_to_achieve="a",
                           difference_made="b", child_family_said="c", do_differently="d"))
    session.add(ThemeTag(quarter=quarter, service_id=service.id, audit_id=audit.id, source="audit",
                         kind="improve", theme="Risk and safety"))
    session.add(Action(source_kind="learning_audit", source_id=audit.id, owner_id=people["U0P1"].id,
                       description="x", due_on=date(2018, 6, 1), service_id=service.id, quarter=quarter))


def test_the_purge_deletes_only_what_is_past_retention(database_url):
    settings = Settings(slack_bot_token="xoxb-test", database_url=database_url)
    rt = build_runtime(settings, client=WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"))
    with rt.db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
        _quarter_of_work(session, "2018-19Q1")  # ended June 2018: past 7 years by December 2026
        _quarter_of_work(session, "2024-25Q1")
    outcome = run_job(rt, "purge-old-records", at=datetime(2026, 12, 1, 3, tzinfo=LONDON))
    assert outcome.status == "done", outcome.line()
    with rt.db.session() as session:
        for model in (LearningRound, Proposal, LearningAudit, Reflection, ThemeTag, Action):
            quarters = {q for q in session.scalars(select(model.quarter if hasattr(model, "quarter")
                                                          else model.id))}
            assert session.scalar(select(func.count()).select_from(model)) == 1, model.__name__
            assert "2018-19Q1" not in quarters
    again = run_job(rt, "purge-old-records", at=datetime(2026, 12, 2, 3, tzinfo=LONDON))
    assert again.status == "already-done"
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    rt.db.dispose()
