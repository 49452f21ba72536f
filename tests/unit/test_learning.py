"""Learning audits after the proposals close, without Slack: who may audit what, the allocation job,
reminders, to-dos, and the rules on reflections and audit records."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import delete, func, select

from bot.app.runtime import build_runtime
from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core import directory
from bot.core.calendar import Quarter
from bot.core.directory import import_org
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.jobs import JobContext
from bot.core.orgfile import load_org_file
from bot.core.settings import Settings
from bot.learning_audits import allocation_run
from bot.learning_audits import jobs as learning_jobs
from bot.learning_audits import record as audit_record
from bot.learning_audits import reflection as reflections
from bot.learning_audits.allocation import conflicts
from bot.learning_audits.types import AuditField, ReflectionField
from schedules.jobs import run_job
from storage.models import (
    JobRun,
    LearningAudit,
    LearningRound,
    OutboxMessage,
    Person,
    Proposal,
    Reflection,
    Team,
    TeamMember,
    ThemeTag,
)

LONDON = ZoneInfo("Europe/London")
Q1 = Quarter(2026, 1)
JOB = "allocate-learning-audits"
SERVICE_MANAGERS = {"U0SM1": "cic", "U0SM2": "cp", "U0SM3": "cin", "U0SM4": "fd"}
QI_PEOPLE = ["U0QI1", "U0QI2", "U0QI3", "U0QI4", "U0QI5"]

# (case reference, team, case holder, proposed by, flagged): 4 services, 15 proposals.
PROPOSALS = [
    ("CIC-1001", "cic-north", "U0P1", "U0TM1", True),
    ("CIC-1002", "cic-north", "U0P2", "U0SM1", False),
    ("CIC-1003", "cic-south", "U0P4", "U0TM2", False),
    ("CIC-1004", "cic-south", "U0P5", "U0TM2", True),
    ("CP-2001", "cp-east", "U0P6", "U0TM3", False),
    ("CP-2002", "cp-east", "U0P7", "U0SM2", True),
    ("CP-2003", "cp-west", "U0P9", "U0TM4", False),
    ("CP-2004", "cp-west", "U0P10", "U0SM1", False),  # proposed across services, by SM1
    ("CIN-3001", "cin-central", "U0P11", "U0TM5", False),
    ("CIN-3002", "cin-central", "U0P12", "U0TM5", True),
    ("CIN-3003", "cin-outreach", "U0P14", "U0SM3", False),
    ("FD-4001", "fd-mash", "U0P16", "U0TM7", False),
    ("FD-4002", "fd-mash", "U0P17", "U0SM4", False),
    ("FD-4003", "fd-assessment", "U0P19", "U0TM8", True),
    ("FD-4004", "fd-assessment", "U0P20", "U0TM8", False),
]
CASE_REFS = [p[0] for p in PROPOSALS]


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


@pytest.fixture
def rt(database_url):
    settings = Settings(
        slack_bot_token="xoxb-test", database_url=database_url, slack_api_url="http://127.0.0.1:9/api/"
    )
    runtime = build_runtime(settings, client=WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"))
    with runtime.db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
    yield runtime
    runtime.db.dispose()


# ---------------------------------------------------------------------------------------------
# helpers: the proposals engineer's rows, made directly


def person_id(session, slack_id: str) -> int:
    return session.scalar(select(Person.id).where(Person.slack_id == slack_id))


def add_proposal(
    session,
    quarter: str,
    case_ref: str,
    team_key: str,
    holder: str,
    proposer: str,
    flagged: bool = False,
    status: str = "proposed",
) -> Proposal:
    team = session.scalar(select(Team).where(Team.key == team_key))
    proposal = Proposal(
        quarter=quarter,
        case_ref=case_ref,
        live_ref=case_ref if status != "withdrawn" else None,
        service_id=team.service_id,
        team_id=team.id,
        case_holder_id=person_id(session, holder),
        team_manager_id=team.team_manager_id,
        proposed_by_id=person_id(session, proposer),
        reason="Strong multi-agency work to learn from",
        lots_of_learning=flagged,
        status=status,
    )
    session.add(proposal)
    session.flush()
    return proposal


def deadline(rt) -> date:
    with rt.db.session() as session:
        return rt.calendar(session).add_working_days(Q1.start, 10)


def open_round(rt, proposals=PROPOSALS, audits_due: date | None = date(2026, 6, 5)) -> date:
    closes = deadline(rt)
    with rt.db.session() as session:
        session.add(LearningRound(quarter=Q1.key, deadline=closes, audits_due=audits_due))
        for case_ref, team, holder, proposer, flagged in proposals:
            add_proposal(session, Q1.key, case_ref, team, holder, proposer, flagged)
    return closes


def allocation_day(rt) -> datetime:
    with rt.db.session() as session:
        day = rt.calendar(session).next_working_day(deadline(rt), include_today=False)
    return london(day.year, day.month, day.day, 9)


def allocate(rt, **options):
    return run_job(rt, JOB, at=allocation_day(rt), options=options)


def audits(session) -> list[LearningAudit]:
    return list(session.scalars(select(LearningAudit).order_by(LearningAudit.id)))


def outbox_rows(session, channel: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    return list(session.scalars(query))


def words(row: OutboxMessage) -> str:
    return row.text + json.dumps(row.blocks or [])


def context_for(rt, session, at: datetime) -> JobContext:
    return JobContext(
        rt=rt, session=session, now=at, calendar=rt.calendar(session), policy=rt.policy(session)
    )


# ---------------------------------------------------------------------------------------------
# who could audit what


def test_every_active_service_manager_is_an_auditor_with_their_services_and_teams(rt):
    with rt.db.session() as session:
        cin_central = session.scalar(select(Team).where(Team.key == "cin-central"))
        session.add(TeamMember(team_id=cin_central.id, person_id=person_id(session, "U0SM1"), position=9))
    with rt.db.session() as session:
        auditors = {a.person_id: a for a in allocation_run.build_auditors(session, Q1)}
    assert set(auditors) == set(SERVICE_MANAGERS)
    for slack_id, service in SERVICE_MANAGERS.items():
        assert auditors[slack_id].service_keys == {service}
    assert auditors["U0SM1"].team_keys == {"cin-central"}  # belongs to a team in another service
    assert auditors["U0SM2"].team_keys == frozenset()


def test_last_quarters_audited_services_are_remembered(rt):
    previous = Q1.previous().key
    with rt.db.session() as session:
        old = add_proposal(session, previous, "CP-9001", "cp-east", "U0P6", "U0TM3", status="allocated")
        session.add(
            LearningAudit(
                quarter=previous,
                proposal_id=old.id,
                auditor_id=person_id(session, "U0SM1"),
                case_ref=old.case_ref,
                service_id=old.service_id,
                team_id=old.team_id,
                case_holder_id=old.case_holder_id,
                team_manager_id=old.team_manager_id,
            )
        )
    with rt.db.session() as session:
        auditors = {a.person_id: a for a in allocation_run.build_auditors(session, Q1)}
    assert auditors["U0SM1"].last_quarter_service_keys == {"cp"}
    assert auditors["U0SM3"].last_quarter_service_keys == frozenset()


def test_candidates_are_the_quarters_live_proposals_by_slack_id(rt):
    with rt.db.session() as session:
        add_proposal(session, Q1.key, "CIC-1001", "cic-north", "U0P1", "U0TM1", flagged=True)
        add_proposal(session, Q1.key, "CIC-1009", "cic-north", "U0P2", "U0TM1", status="withdrawn")
        add_proposal(session, Q1.next().key, "CP-2001", "cp-east", "U0P6", "U0TM3")
    with rt.db.session() as session:
        candidates = allocation_run.build_candidates(session, Q1)
    assert [c.case_ref for c in candidates] == ["CIC-1001"]
    only = candidates[0]
    assert (
        only.service_key,
        only.team_key,
        only.case_holder,
        only.team_manager,
        only.proposed_by,
        only.flagged,
    ) == ("cic", "cic-north", "U0P1", "U0TM1", "U0TM1", True)


# ---------------------------------------------------------------------------------------------
# the allocation job


def test_every_service_manager_gets_two_cases_they_are_entirely_independent_of(rt):
    open_round(rt)
    outcome = allocate(rt)
    assert outcome.status == "done", outcome.summary
    with rt.db.session() as session:
        rows = audits(session)
        per_auditor = Counter(a.auditor.slack_id for a in rows)
        assert per_auditor == dict.fromkeys(SERVICE_MANAGERS, 2)
        auditors = {a.person_id: a for a in allocation_run.build_auditors(session, Q1)}
        for row in rows:
            sm = row.auditor.slack_id
            who = directory.who(session, sm)
            assert row.service.key not in {s.key for s in who.services_managed}
            assert row.team.key not in who.team_keys
            assert row.proposal.proposed_by.slack_id != sm
            assert sm not in (row.case_holder.slack_id, row.team_manager.slack_id)
            assert conflicts(auditors[sm], allocation_run.candidate_for(row.proposal)) == []
            assert row.status == "allocated" and row.due_on == date(2026, 6, 5)
            assert row.proposal.status == "allocated"
        left = session.scalars(select(Proposal).where(Proposal.status == "not_allocated")).all()
        assert len(left) == len(PROPOSALS) - 8
        assert all(p.not_allocated_reason for p in left)
        assert (
            session.scalar(select(func.count()).select_from(Proposal).where(Proposal.status == "proposed"))
            == 0
        )
        learning_round = session.get(LearningRound, Q1.key)
        assert learning_round.allocation_seed is not None and 0 <= learning_round.allocation_seed < 2**31
        assert learning_round.allocated_at is not None
        assert "Unallocated cases:" in learning_round.allocation_explanation
    assert outcome.summary.startswith(
        "8 cases allocated to 4 Service Managers; 7 not allocated; 0 Service Managers"
    )


def test_the_allocation_prefers_flagged_cases_and_spreads_services(rt):
    open_round(rt)
    allocate(rt, seed=5)
    flagged = {p[0] for p in PROPOSALS if p[4]}
    with rt.db.session() as session:
        rows = audits(session)
        assert flagged <= {a.case_ref for a in rows}  # 5 flagged cases, 8 places
        for sm in SERVICE_MANAGERS:
            services = [a.service.key for a in rows if a.auditor.slack_id == sm]
            assert len(set(services)) == 2


def test_the_job_is_not_due_without_a_round_or_before_the_first_working_day_after_the_deadline(rt):
    assert run_job(rt, JOB, at=london(2026, 4, 20, 9)).status == "not-due"
    closes = open_round(rt)
    on_deadline = run_job(rt, JOB, at=london(closes.year, closes.month, closes.day, 9))
    assert on_deadline.status == "not-due"
    assert "allocation is due on" in on_deadline.summary
    assert allocate(rt).status == "done"


def test_rerunning_the_job_changes_nothing_and_sends_nothing_twice(rt):
    open_round(rt)
    first = allocate(rt)
    with rt.db.session() as session:
        before = [(a.id, a.proposal_id, a.auditor_id) for a in audits(session)]
        sent = [(m.channel, m.dedupe_key) for m in outbox_rows(session)]
        seed = session.get(LearningRound, Q1.key).allocation_seed
    assert allocate(rt).status == "already-done"
    with rt.db.session() as session:  # even with the run-once record gone, the round is allocated once
        session.execute(delete(JobRun))
    again = allocate(rt)
    assert again.status == "done" and "already allocated" in again.summary
    with rt.db.session() as session:
        assert [(a.id, a.proposal_id, a.auditor_id) for a in audits(session)] == before
        assert [(m.channel, m.dedupe_key) for m in outbox_rows(session)] == sent
        assert session.get(LearningRound, Q1.key).allocation_seed == seed
    assert first.status == "done"


def test_a_dry_run_explains_the_plan_and_changes_nothing(rt):
    open_round(rt)
    outcome = run_job(rt, JOB, at=allocation_day(rt), dry_run=True, options={"seed": 77})
    assert outcome.status == "dry-run"
    assert outcome.summary.startswith("Learning-audit allocation (seed 77, 2 cases per Service Manager)")
    assert "Unallocated cases:" in outcome.summary and "CIC-1001" in outcome.summary
    with rt.db.session() as session:
        assert audits(session) == []
        assert outbox_rows(session) == []
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0
        assert {p.status for p in session.scalars(select(Proposal))} == {"proposed"}
        assert session.get(LearningRound, Q1.key).allocation_seed is None


def test_a_recorded_seed_replays_the_same_plan(rt):
    open_round(rt)
    dry = run_job(rt, JOB, at=allocation_day(rt), dry_run=True, options={"seed": 1234})
    allocate(rt, seed=1234)
    with rt.db.session() as session:
        assert session.get(LearningRound, Q1.key).allocation_explanation == dry.summary


def test_shortfalls_go_to_the_qi_channel_without_case_references_and_to_qi_people_with_them(rt):
    open_round(rt, proposals=PROPOSALS[:3] + PROPOSALS[4:6])  # 5 cases for 8 places: 2 SMs short
    outcome = allocate(rt)
    assert "; 0 not allocated; 2 Service Managers short" in outcome.summary
    with rt.db.session() as session:
        short = [
            a
            for a in allocation_run.build_auditors(session, Q1)
            if sum(1 for x in audits(session) if x.auditor.slack_id == a.person_id) < 2
        ]
        assert len(short) == 2
        [post] = outbox_rows(session, "C0QI")
        channel_words = words(post)
        for ref in CASE_REFS:
            assert ref not in channel_words
        assert "2 Service Managers short" in channel_words and "fewer than 2 cases" in channel_words
        for auditor in short:
            [service_key] = auditor.service_keys
            assert directory.service_by_key(session, service_key).name in channel_words
        for qi in QI_PEOPLE:
            [dm] = outbox_rows(session, qi)
            detail = words(dm)
            assert all(f"<@{a.person_id}>" in detail for a in short)


def test_unallocated_cases_are_counted_by_service_for_the_channel(rt):
    open_round(rt)
    allocate(rt)
    with rt.db.session() as session:
        [post] = outbox_rows(session, "C0QI")
        left = session.scalars(select(Proposal).where(Proposal.status == "not_allocated")).all()
        text = words(post)
        assert f"{len(left)} cases proposed but not allocated" in text
        for ref in CASE_REFS:
            assert ref not in text
        dm = words(outbox_rows(session, "U0QI1")[0])
        assert all(p.case_ref in dm for p in left)


def test_a_qi_person_away_is_not_sent_the_detail(rt):
    open_round(rt)
    with rt.db.session() as session:
        session.scalar(select(Person).where(Person.slack_id == "U0QI2")).away_until = date(2026, 5, 1)
    allocate(rt)
    with rt.db.session() as session:
        assert outbox_rows(session, "U0QI2") == []
        assert len(outbox_rows(session, "U0QI1")) == 1


@pytest.mark.parametrize("away_from, back_on, allocated", [
    (None, date(2026, 7, 1), False),
    (None, date(2026, 5, 20), True),
    (date(2026, 6, 1), date(2026, 7, 1), True),  # goes away only after most of the audit window
])
def test_a_service_manager_away_past_the_due_date_is_left_out_and_qi_is_told(rt, away_from, back_on, allocated):
    """Audits are due on 5 June: away until July, U0SM2 could do none; back in May, they can; away
    only from June, they can audit before they go."""
    open_round(rt)
    with rt.db.session() as session:
        sm2 = session.scalar(select(Person).where(Person.slack_id == "U0SM2"))
        sm2.away_from, sm2.away_until = away_from, back_on
    allocate(rt)
    with rt.db.session() as session:
        auditors = {a.auditor.slack_id for a in audits(session)}
        assert ("U0SM2" in auditors) is allocated and len(auditors - {"U0SM2"}) >= 3
        detail = words(outbox_rows(session, "U0QI1")[0]) if outbox_rows(session, "U0QI1") else ""
        assert ("<@U0SM2> (0 of 2): marked away until" in detail) is not allocated


def test_auditor_case_holder_and_team_manager_are_each_told_what_is_theirs(rt):
    open_round(rt)
    allocate(rt)
    with rt.db.session() as session:
        row = audits(session)[0]
        sm, holder, tm = row.auditor.slack_id, row.case_holder.slack_id, row.team_manager.slack_id
        to_auditor = [m for m in outbox_rows(session, sm) if row.case_ref in m.text]
        assert len(to_auditor) == 1
        said = words(to_auditor[0])
        for expected in (
            row.case_ref,
            row.service.name,
            row.team.name,
            f"<@{tm}>",
            f"<@{holder}>",
            "Fri 5 Jun 2026",
            "not* performance",
            "in person",
            "Set up meeting",
            "Record learning audit",
        ):
            assert expected in said, expected
        to_holder = [m for m in outbox_rows(session, holder) if row.case_ref in m.text]
        assert len(to_holder) == 1 and "Start reflection" in words(to_holder[0])
        to_tm = [m for m in outbox_rows(session, tm) if row.case_ref in m.text]
        assert len(to_tm) == 1 and f"<@{sm}>" in words(to_tm[0]) and "reflection" in words(to_tm[0])
        assert "grade" not in said.lower().replace("not graded", "")


def test_audits_due_defaults_to_the_audit_window_after_allocation(rt):
    open_round(rt, audits_due=None)
    allocate(rt)
    with rt.db.session() as session:
        expected = rt.calendar(session).add_working_days(allocation_day(rt).date(), 30)
        assert session.get(LearningRound, Q1.key).audits_due == expected
        assert {a.due_on for a in audits(session)} == {expected}


# ---------------------------------------------------------------------------------------------
# reminders and to-dos


def reminders_at(rt, at: datetime) -> str:
    with rt.db.session() as session:
        return learning_jobs.send_learning_reminders(context_for(rt, session, at))


def test_reminders_go_once_before_and_once_on_the_due_day_to_whoever_has_not_finished(rt):
    open_round(rt, audits_due=date(2026, 6, 5))  # a Friday; 2 working days before is Wednesday 3 June
    allocate(rt)
    with rt.db.session() as session:
        rows = audits(session)
        done = rows[0]
        session.add(
            Reflection(
                audit_id=done.id,
                case_holder_id=done.case_holder_id,
                trying_to_achieve="a",
                difference_made="b",
                child_family_said="c",
                do_differently="d",
            )
        )
        away = rows[1].case_holder
        away.away_until = date(2026, 6, 5)
        away_id = away.slack_id
        done_holder = done.case_holder.slack_id
        start = len(outbox_rows(session))
    assert reminders_at(rt, london(2026, 6, 2, 9)) == "learning audits: 0 reminders sent"
    assert (
        reminders_at(rt, london(2026, 6, 3, 9)) == "learning audits: 14 reminders sent"
    )  # 8 SMs + 6 holders
    assert reminders_at(rt, london(2026, 6, 3, 15)) == "learning audits: 0 reminders sent"
    assert reminders_at(rt, london(2026, 6, 4, 9)) == "learning audits: 0 reminders sent"
    assert reminders_at(rt, london(2026, 6, 5, 9)) == "learning audits: 14 reminders sent"
    assert reminders_at(rt, london(2026, 6, 6, 9)).endswith("not a working day, no reminders")
    with rt.db.session() as session:
        new = outbox_rows(session)[start:]
        assert not [m for m in new if m.channel == away_id]
        assert not [m for m in new if m.channel == done_holder and "reflection" in m.text]
        due_day = [m for m in new if "today" in m.text]
        assert len(due_day) == 14


def test_a_person_back_from_leave_still_gets_the_reminder_before_the_due_day(rt):
    open_round(rt, audits_due=date(2026, 6, 5))
    allocate(rt)
    with rt.db.session() as session:
        holder = audits(session)[0].case_holder
        holder.away_until = date(2026, 6, 3)
        slack_id = holder.slack_id
    reminders_at(rt, london(2026, 6, 3, 9))
    reminders_at(rt, london(2026, 6, 4, 9))
    with rt.db.session() as session:
        assert len([m for m in outbox_rows(session, slack_id) if m.text.startswith("Reminder")]) == 1


def test_todos_are_reflections_meetings_and_audits_with_the_dm_buttons_action_ids(rt):
    open_round(rt)
    allocate(rt)
    with rt.db.session() as session:
        row = audits(session)[0]
        sm, holder, audit_id = row.auditor.slack_id, row.case_holder.slack_id, row.id
        [todo] = learning_jobs.todo_for(session, holder, date(2026, 4, 21))
        assert (todo.button_label, todo.action_id, todo.value, todo.due) == (
            "Start reflection",
            "learning-reflection",
            str(audit_id),
            date(2026, 6, 5),
        )
        mine = learning_jobs.todo_for(session, sm, date(2026, 4, 21))
        assert [t.action_id for t in mine] == ["learning-set-up-meeting"] * 2
        row.meeting_channel = "G0MEETING"
        session.add(
            Reflection(
                audit_id=audit_id,
                case_holder_id=row.case_holder_id,
                trying_to_achieve="a",
                difference_made="b",
                child_family_said="c",
                do_differently="d",
            )
        )
    with rt.db.session() as session:
        assert learning_jobs.todo_for(session, holder, date(2026, 4, 21)) == []
        labels = sorted(t.button_label for t in learning_jobs.todo_for(session, sm, date(2026, 4, 21)))
        assert labels == ["Record learning audit", "Set up meeting"]
        assert learning_jobs.todo_for(session, "U0NOBODY", date(2026, 4, 21)) == []


# ---------------------------------------------------------------------------------------------
# the reflection and the record, as rules


def first_audit(rt) -> tuple[int, str, str]:
    open_round(rt)
    allocate(rt)
    with rt.db.session() as session:
        row = audits(session)[0]
        return row.id, row.auditor.slack_id, row.case_holder.slack_id


REFLECTION = {
    ReflectionField.TRYING.value: "Keep the children safe at home with their mother.",
    ReflectionField.DIFFERENCE.value: "School attendance rose; the family says mornings are calmer.",
    ReflectionField.FAMILY_SAID.value: "The eldest said she felt listened to.",
    ReflectionField.DIFFERENTLY.value: "Bring in the health visitor earlier.",
    ReflectionField.SUPPORT.value: "Time in supervision to think about the next steps.",
    ReflectionField.THEMES.value: ["Multi-agency working", "Voice and lived experience of the child"],
}


def save(rt, audit_id: int, actor: str, values: dict) -> None:
    with rt.db.session() as session:
        reflections.save_reflection(
            session,
            audit_id=audit_id,
            actor=actor,
            answers=reflections.ReflectionAnswers.model_validate(values),
            policy=rt.policy(session),
            today=date(2026, 4, 22),
        )


def test_only_the_case_holder_may_save_the_reflection(rt):
    audit_id, sm, _holder = first_audit(rt)
    with pytest.raises(NotPermitted, match="only the case holder"):
        save(rt, audit_id, sm, REFLECTION)
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Reflection)) == 0


def test_a_reflection_with_a_postcode_or_a_blank_answer_is_refused_inline(rt):
    audit_id, _sm, holder = first_audit(rt)
    bad = {
        **REFLECTION,
        ReflectionField.FAMILY_SAID.value: "They moved to B33 8TH last month",
        ReflectionField.DIFFERENTLY.value: "   ",
    }
    with pytest.raises(InvalidInput) as caught:
        save(rt, audit_id, holder, bad)
    assert set(caught.value.errors) == {ReflectionField.FAMILY_SAID.value, ReflectionField.DIFFERENTLY.value}
    assert "postcode" in caught.value.errors[ReflectionField.FAMILY_SAID.value]
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Reflection)) == 0


def test_amending_a_reflection_replaces_its_theme_tags(rt):
    audit_id, _sm, holder = first_audit(rt)
    save(rt, audit_id, holder, REFLECTION)
    save(rt, audit_id, holder, {**REFLECTION, ReflectionField.THEMES.value: ["Risk and safety"]})
    with rt.db.session() as session:
        tags = session.scalars(select(ThemeTag).where(ThemeTag.audit_id == audit_id)).all()
        assert [(t.source, t.kind, t.theme) for t in tags] == [("reflection", "improve", "Risk and safety")]
        reflection = session.scalar(select(Reflection))
        assert reflection.themes == ["Risk and safety"]


def test_a_reflection_counts_what_went_well_as_good_practice_and_the_rest_as_to_develop(rt):
    audit_id, _sm, holder = first_audit(rt)
    save(rt, audit_id, holder, {**REFLECTION, ReflectionField.THEMES_GOOD.value: ["Risk and safety"],
                                ReflectionField.THEMES.value: ["Multi-agency working"]})
    with rt.db.session() as session:
        tags = session.scalars(select(ThemeTag).where(ThemeTag.audit_id == audit_id).order_by(ThemeTag.kind)).all()
        assert [(t.source, t.kind, t.theme) for t in tags] == [
            ("reflection", "good", "Risk and safety"), ("reflection", "improve", "Multi-agency working")]
        reflection = session.scalar(select(Reflection))
        assert reflection_answers_of(reflection) == (["Risk and safety"], ["Multi-agency working"])


def reflection_answers_of(reflection: Reflection) -> tuple[list[str], list[str]]:
    answers = reflections.reflection_answers(reflection) or {}
    return answers["themes_good"], answers["themes"]


def test_a_reflection_saved_before_strengths_were_asked_still_reads_its_themes_as_to_develop(rt):
    """Rows from before migration 0008 have no themes_good: their themes were areas to develop."""
    from bot.learning_audits.record_messages import reflection_read_only
    from bot.learning_audits.service import case_card

    audit_id, _sm, holder = first_audit(rt)
    save(rt, audit_id, holder, REFLECTION)
    with rt.db.session() as session:
        reflection = session.scalar(select(Reflection))
        reflection.themes_good = None  # as stored before 0008
        session.flush()
        assert reflection_answers_of(reflection) == ([], ["Multi-agency working", "Voice and lived experience of the child"])
        view = reflection_read_only(card=case_card(reflection.audit, rt.policy(session)),
                                    answers=reflections.reflection_answers(reflection) or {}, recorded_on=None)
    shown = json.dumps(view.to_dict())
    assert "*Themes that went well in this case:* none chosen" in shown
    assert "*Themes to develop:* Multi-agency working, Voice and lived experience of the child" in shown


AUDIT = {
    AuditField.OUTCOMES.value: "The children stayed at home safely; attendance is up.",
    AuditField.FEEDBACK.value: "Mum said the worker was honest and kind.",
    AuditField.FEEDBACK_SOURCE.value: "Mum, by phone before the meeting.",
    AuditField.WORKER_IMPACT.value: "The worker felt confident and supported.",
    AuditField.NEEDED.value: "An earlier health referral.",
    AuditField.GOOD_PRACTICE.value: "Direct work with the eldest child.",
    AuditField.WIDER.value: "Share the direct-work tools across teams.",
    AuditField.IMPROVE_THEMES.value: ["Timeliness, drift and delay"],
    AuditField.GOOD_THEMES.value: ["Voice and lived experience of the child", "Multi-agency working"],
}


def record(rt, audit_id: int, actor: str, values: dict) -> None:
    with rt.db.session() as session:
        audit_record.record_audit(
            session,
            audit_id=audit_id,
            actor=actor,
            answers=audit_record.AuditAnswers.model_validate(values),
            policy=rt.policy(session),
            calendar=rt.calendar(session),
            now=london(2026, 5, 12, 14),
        )


def test_recording_stores_the_ungraded_record_and_its_themes_once(rt):
    audit_id, sm, holder = first_audit(rt)
    save(rt, audit_id, holder, REFLECTION)
    record(rt, audit_id, sm, AUDIT)
    with rt.db.session() as session:
        row = session.get(LearningAudit, audit_id)
        assert row.status == "recorded" and row.outcomes == AUDIT[AuditField.OUTCOMES.value]
        assert not hasattr(row, "grade")
        tags = Counter(
            (t.source, t.kind) for t in session.scalars(select(ThemeTag).where(ThemeTag.audit_id == audit_id))
        )
        assert tags == {("audit", "improve"): 1, ("audit", "good"): 2, ("reflection", "improve"): 2}
    with pytest.raises(Conflict, match="already recorded on Tue 12 May 2026"):
        record(rt, audit_id, sm, AUDIT)
    with pytest.raises(NotPermitted):  # and the reflection is now read-only
        save(rt, audit_id, holder, REFLECTION)


def test_only_the_allocated_auditor_may_record(rt):
    audit_id, _sm, holder = first_audit(rt)
    for someone_else in (holder, "U0QI1"):
        with pytest.raises(NotPermitted):
            record(rt, audit_id, someone_else, AUDIT)


def test_every_free_text_of_the_record_is_checked_for_identifying_details(rt):
    audit_id, sm, _holder = first_audit(rt)
    bad = {
        **AUDIT,
        AuditField.WIDER.value: "Call 07700 900123 for the tools",
        AuditField.FEEDBACK.value: "Mum (DOB 3/11/1990) was pleased",
        AuditField.OUTCOMES.value: " ",
    }
    with pytest.raises(InvalidInput) as caught:
        record(rt, audit_id, sm, bad)
    assert set(caught.value.errors) == {
        AuditField.WIDER.value,
        AuditField.FEEDBACK.value,
        AuditField.OUTCOMES.value,
    }
    with rt.db.session() as session:
        assert session.get(LearningAudit, audit_id).status == "allocated"
