"""Themed audits, learning visits and the CIB: the rules, without Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app.sandbox.harness import SAMPLE_CASES, SAMPLE_ORG
from bot.cib import service as cib
from bot.core.calendar import WorkingCalendar
from bot.core.directory import import_org
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.orgfile import load_org_file
from bot.core.policy import Policy
from bot.core.privacy import case_refs_in, parse_case_refs, redact_case_refs, small_count
from bot.core.todo import Todo
from bot.sampling.register import import_register
from bot.themed_audits import service as themed
from bot.themed_audits.feedback import findings_back
from bot.themed_audits.messages import auditor_brief_message, findings_back_message
from bot.themed_audits.types import FindingLine, ThemedAuditIds, ThemedAuditInput
from bot.visits import service as visits
from bot.visits.types import VisitIds, VisitInput
from storage.models import CibMeeting, Division, DivisionLeader, JobRun, OutboxMessage, Person, Service
from storage.models.commissions import CibItem, LearningVisit, ThemedAudit, ThemedAuditFinding
from storage.models.sampling import CaseRegisterEntry
from tests.conftest import london

CALENDAR = WorkingCalendar()
POLICY = Policy()
TODAY = date(2026, 4, 1)
NOW = london(2026, 4, 1, 9, 0)


@pytest.fixture
def session(db) -> Iterator[Session]:  # noqa: ANN001
    with db.session() as s:
        import_org(s, load_org_file(SAMPLE_ORG))
    s = db.sessions()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def person(session: Session, slack_id: str) -> Person:
    return session.scalars(select(Person).where(Person.slack_id == slack_id)).one()


def visit_input(**changes: object) -> VisitInput:
    values: dict[str, object] = dict(
        service_key="cic", need_or_risk="Placement stability has fallen.", visit_on=date(2026, 5, 12),
        visitors=("U0SEN1", "U0SM2"), lead_reviewer="U0SEN1", activities=("observation", "interviews"),
        preparation_notes="Read the stability dashboard.", performance_info=None)
    values.update(changes)
    return VisitInput(**values)  # type: ignore[arg-type]


def themed_input(session: Session, **changes: object) -> ThemedAuditInput:
    meeting = session.scalar(select(CibMeeting).where(CibMeeting.meets_on == date(2026, 7, 15)))
    values: dict[str, object] = dict(
        theme="Drift in plans", theory="Supervision that reviews the plan prevents drift.",
        source="Safeguarding Children Partnership", priority="Timely plans", sampling_focus="CiN plans",
        sample_size=4, case_refs="CIN-10001, cin-10002", auditors=("U0SM1", "U0QI1"), service_user_views=True,
        workshop_on=date(2026, 6, 10), cib_meeting_id=meeting.id if meeting else None)
    values.update(changes)
    return ThemedAuditInput(**values)  # type: ignore[arg-type]


def commission(session: Session, actor: str = "U0DLT1", **changes: object) -> ThemedAudit:
    return themed.commission_themed_audit(session, actor=actor, data=themed_input(session, **changes),
                                               today=TODAY, calendar=CALENDAR, policy=POLICY)


def home_todos(session: Session, slack_id: str, day: date) -> list[Todo]:
    """What App Home gathers from the three features, in their order."""
    return [*themed.todo_for(session, slack_id, day), *visits.todo_for(session, slack_id, day),
            *cib.todo_for(session, slack_id, day)]


def dms_to(session: Session, slack_id: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == slack_id)))


# --- pure rules -------------------------------------------------------------------------------


def test_small_counts_are_suppressed_in_channel_posts():
    assert small_count(0, 5) == "none"
    assert small_count(1, 5) == "fewer than 5"
    assert small_count(4, 5) == "fewer than 5"
    assert small_count(5, 5) == "5"
    assert small_count(2, 2) == "2"


def test_case_reference_lists_are_split_checked_and_deduplicated():
    good, bad = parse_case_refs("CIC-10234, cic-10235\nCIC-10234; not-a-ref  CP1234", POLICY)
    assert good == ["CIC-10234", "CIC-10235", "CP1234"]
    assert bad == ["not-a-ref"]
    assert parse_case_refs("", POLICY) == ([], [])


def test_case_references_are_found_and_redacted_in_free_text_but_ordinary_words_are_not():
    text = "Seen on CIC-10234 and cp1234; 12 visits in 2026-27 Q1 (KS2)."
    assert case_refs_in(text, POLICY) == ["CIC-10234", "cp1234"]
    assert redact_case_refs(text, POLICY) == (
        "Seen on [case reference] and [case reference]; 12 visits in 2026-27 Q1 (KS2).")
    assert case_refs_in("Supervision reviews the plan monthly.", POLICY) == []


def test_findings_are_collated_by_theme_most_raised_first_and_a_finding_counts_under_each_theme():
    def line(ref: str, *themes: str) -> FindingLine:
        return FindingLine(case_ref=ref, auditor="U0SM1", against_theory="found", evidence="seen",
                           service_user_views=None, themes=themes)

    collation = themed.collate(
        [line("A-1001", "Risk and safety", "Transitions"), line("A-1002", "Transitions"), line("A-1001"),
         line("A-1003", "Assessment and analysis")],
        theme_order=POLICY.learning_themes)
    assert [(theme, len(lines)) for theme, lines in collation.by_theme] == [
        ("Transitions", 2), ("Assessment and analysis", 1), ("Risk and safety", 1)]
    assert len(collation.unthemed) == 1
    assert (collation.cases, collation.findings) == (3, 4)


def test_the_digest_is_due_from_n_working_days_before_the_meeting_until_the_day_before():
    meeting = date(2026, 7, 15)  # a Wednesday
    due = lambda day, n=3: cib.digest_due_meeting([meeting], day, CALENDAR, n)  # noqa: E731
    assert due(date(2026, 7, 9)) is None
    assert due(date(2026, 7, 10)) == meeting  # Friday: three working days before
    assert due(date(2026, 7, 14)) == meeting  # missed days are caught up
    assert due(date(2026, 7, 15)) is None  # not on the day itself
    assert due(date(2026, 7, 15), 0) == meeting  # unless the setting is 0
    # a bank holiday is skipped when counting back: Spring bank holiday is Mon 25 May 2026
    assert cib.digest_due_meeting([date(2026, 5, 26)], date(2026, 5, 22), CALENDAR, 1) == date(2026, 5, 26)
    assert cib.digest_due_meeting([], TODAY, CALENDAR, 3) is None


# --- learning visits --------------------------------------------------------------------------


def test_only_dlt_members_commission_a_visit(session):
    with pytest.raises(NotPermitted, match="Divisional Leadership Team"):
        visits.commission_visit(session, actor="U0SM1", data=visit_input(), today=TODAY, calendar=CALENDAR,
                                     policy=POLICY)
    assert session.scalar(select(func.count(LearningVisit.id))) == 0


@pytest.mark.parametrize(("visitor", "why"), [
    ("U0SM1", "One of the visitors you chose is the Service Manager of Children in Care"),
    ("U0TM2", "One of the visitors you chose is the Team Manager of CiC South in Children in Care"),
    ("U0P4", "One of the visitors you chose is a practitioner in CiC South (Children in Care)"),
])
def test_a_visitor_must_be_independent_of_the_visited_service(session, visitor, why):
    with pytest.raises(InvalidInput) as refused:
        visits.commission_visit(session, actor="U0DLT1", data=visit_input(visitors=("U0SEN1", visitor)),
                                     today=TODAY, calendar=CALENDAR, policy=POLICY)
    assert why in refused.value.errors[VisitIds.VISIT_VISITORS]
    assert session.scalar(select(func.count(LearningVisit.id))) == 0
    assert session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_service_manager_of_another_service_may_visit_and_the_lead_must_be_a_visitor(session):
    with pytest.raises(InvalidInput) as refused:
        visits.commission_visit(session, actor="U0DLT1", data=visit_input(lead_reviewer="U0SEN3"),
                                     today=TODAY, calendar=CALENDAR, policy=POLICY)
    assert set(refused.value.errors) == {VisitIds.VISIT_LEAD}
    visit, warning = visits.commission_visit(session, actor="U0DLT1", data=visit_input(), today=TODAY,
                                                  calendar=CALENDAR, policy=POLICY)
    assert warning is None
    assert [v.person.slack_id for v in visit.visitors] == ["U0SEN1", "U0SM2"]
    assert visit.financial_year == "2026-27"
    assert {m.channel for m in session.scalars(select(OutboxMessage))} == {
        "U0SEN1", "U0SM2", "U0DLT1", "U0QI1", "U0QI2", "U0QI3", "U0QI4", "U0QI5"}


def test_a_dlt_member_commissions_visits_only_to_their_own_divisions_services(session):
    other = Division(name="Early Help and Prevention", active=True)
    other.leaders.append(DivisionLeader(person_id=person(session, "U0SEN3").id))
    session.add(other)
    session.flush()
    with pytest.raises(InvalidInput) as refused:
        visits.commission_visit(session, actor="U0SEN3", data=visit_input(visitors=("U0SEN1",)),
                                     today=TODAY, calendar=CALENDAR, policy=POLICY)
    assert "not on the leadership team of Children's Social Care" in refused.value.errors[VisitIds.VISIT_SERVICE]


def test_the_commissioner_is_warned_when_the_year_already_has_the_frameworks_visits(session):
    for month in (5, 6, 7, 9):
        _, warning = visits.commission_visit(session, actor="U0DLT1", data=visit_input(
            visit_on=CALENDAR.next_working_day(date(2026, month, 12))), today=TODAY, calendar=CALENDAR, policy=POLICY)
        assert warning is None
    _, warning = visits.commission_visit(session, actor="U0DLT2", data=visit_input(
        visit_on=date(2027, 1, 12)), today=TODAY, calendar=CALENDAR, policy=POLICY)
    assert warning is not None and "2026-27 already had 4 learning visit(s)" in warning
    # a visit in the next financial year starts the count again
    _, warning = visits.commission_visit(session, actor="U0DLT2", data=visit_input(
        visit_on=date(2027, 4, 13)), today=TODAY, calendar=CALENDAR, policy=POLICY)
    assert warning is None


def test_a_visit_plan_needs_an_action_and_is_queued_for_the_next_open_meeting(session):
    visit, _ = visits.commission_visit(session, actor="U0DLT1", data=visit_input(), today=TODAY,
                                            calendar=CALENDAR, policy=POLICY)
    on_the_day = date(2026, 5, 12)
    with pytest.raises(Conflict, match="record the feedback and plan from that day"):
        visits.visit_record_form(session, actor="U0SEN1", visit_id=visit.id, today=date(2026, 5, 11))
    with pytest.raises(NotPermitted):
        visits.visit_record_form(session, actor="U0SM2", visit_id=visit.id, today=on_the_day)
    with pytest.raises(InvalidInput) as refused:
        visits.record_visit(session, actor="U0SEN1", visit_id=visit.id, feedback="Good practice seen.",
                                 plan_summary=None, today=on_the_day, now=NOW, policy=POLICY)
    assert "at least one action" in refused.value.errors[VisitIds.VISIT_PLAN]
    visits.add_visit_action(session, actor="U0SEN1", visit_id=visit.id, owner="U0SM1",
                                 description="Review placement moves monthly.", due_on=date(2026, 6, 30),
                                 today=on_the_day, policy=POLICY)
    with pytest.raises(InvalidInput) as refused:  # feedback goes to the Board's channel: no case references
        visits.record_visit(session, actor="U0SEN1", visit_id=visit.id, feedback="As seen on CIC-10234.",
                                 plan_summary=None, today=on_the_day, now=NOW, policy=POLICY)
    assert "looks like a case reference" in refused.value.errors[VisitIds.VISIT_FEEDBACK]
    _, item, found = visits.record_visit(session, actor="U0SEN1", visit_id=visit.id,
                                              feedback="Good practice seen.", plan_summary=None, today=on_the_day,
                                              now=NOW, policy=POLICY)
    assert [a.status for a in found] == ["open"]
    assert item.meeting.meets_on == date(2026, 7, 15)
    assert [m.channel for m in dms_to(session, "U0SM1") if "Here is the feedback" in str(m.blocks)] == ["U0SM1"]
    with pytest.raises(Conflict, match="were recorded on"):
        visits.visit_record_form(session, actor="U0SEN1", visit_id=visit.id, today=on_the_day)


# --- themed audits ----------------------------------------------------------------------------


def test_only_dlt_qi_and_board_leads_commission_a_themed_audit(session):
    with pytest.raises(NotPermitted):
        commission(session, actor="U0SM1")
    for actor in ("U0DLT1", "U0QI2", "U0BRD1"):
        assert commission(session, actor=actor).status == "commissioned"


def test_a_themed_audit_commission_checks_every_answer_inline(session):
    with pytest.raises(InvalidInput) as refused:
        commission(session, case_refs="CIN-10001 nonsense", auditors=("U0NOBODY",), workshop_on=date(2026, 6, 13),
                   source="Other", source_other=None, sample_size=1, theme="Drift seen in CIN-10001")
    errors = refused.value.errors
    assert "nonsense" in errors[ThemedAuditIds.THEMED_CASES]
    assert "One of the people you chose is not in the QMF directory" in errors[ThemedAuditIds.THEMED_AUDITORS]
    assert "U0NOBODY" not in errors[ThemedAuditIds.THEMED_AUDITORS]
    assert "not a working day" in errors[ThemedAuditIds.THEMED_WORKSHOP]
    assert "say which board" in errors[ThemedAuditIds.THEMED_SOURCE_OTHER]
    assert "case reference" in errors[ThemedAuditIds.THEMED_THEME]
    assert session.scalar(select(func.count(ThemedAudit.id))) == 0


def test_a_workshop_after_the_meetings_digest_cannot_report_to_that_meeting(session):
    with pytest.raises(InvalidInput) as refused:
        commission(session, workshop_on=date(2026, 7, 13))
    assert "Fri 10 Jul 2026" in refused.value.errors[ThemedAuditIds.THEMED_CIB]


def test_findings_are_recorded_by_auditors_only_and_a_new_case_is_added_to_the_sample(session):
    audit = commission(session)
    assert [c.case_ref for c in audit.cases] == ["CIN-10001", "CIN-10002"]
    answers = dict(against_theory="Reviews lapsed.", evidence="Supervision notes.", service_user_views=None,
                   themes=["Risk and safety"], today=TODAY, policy=POLICY)
    with pytest.raises(NotPermitted):
        themed.record_finding(session, actor="U0SM3", audit_id=audit.id, case_id=audit.cases[0].id,
                                   case_ref=None, **answers)
    with pytest.raises(InvalidInput) as refused:
        themed.record_finding(session, actor="U0QI1", audit_id=audit.id, case_id=None, case_ref="CIN 1",
                                   **answers)
    assert ThemedAuditIds.FINDINGS_CASE in refused.value.errors
    finding, edited = themed.record_finding(session, actor="U0QI1", audit_id=audit.id, case_id=None,
                                                 case_ref="cin-10003", **answers)
    assert (finding.case.case_ref, edited) == ("CIN-10003", False)
    _, edited = themed.record_finding(session, actor="U0QI1", audit_id=audit.id, case_id=finding.case_id,
                                           case_ref=None, **answers)
    assert edited is True
    assert session.scalar(select(func.count(ThemedAuditFinding.id))) == 1


def test_collated_findings_are_sent_once_and_moderated_findings_refuse_case_references(session):
    audit = commission(session)
    themed.record_finding(session, actor="U0SM1", audit_id=audit.id, case_id=audit.cases[0].id,
                               case_ref=None, against_theory="Reviews lapsed.", evidence="Notes.",
                               service_user_views="Not explained.", themes=["Risk and safety"], today=TODAY,
                               policy=POLICY)
    assert themed.send_collated_findings(session, audit=audit, actor="U0DLT1", now=NOW, policy=POLICY) == 3
    with pytest.raises(Conflict, match="already sent"):
        themed.send_collated_findings(session, audit=audit, actor="U0DLT1", now=NOW, policy=POLICY)
    with pytest.raises(NotPermitted):
        themed.moderated_form(session, actor="U0SM1", audit_id=audit.id, policy=POLICY)
    with pytest.raises(InvalidInput) as refused:
        themed.record_moderated_findings(session, actor="U0DLT1", audit_id=audit.id,
                                              findings="Drift on CIN-10001.", recommendations="Review monthly.",
                                              themes=[], today=date(2026, 6, 10), now=NOW, policy=POLICY)
    assert "case reference" in refused.value.errors[ThemedAuditIds.MODERATED_FINDINGS]


def test_findings_moderated_after_their_meetings_digest_go_to_the_next_digest_once(session):
    audit = commission(session)
    session.add(JobRun(job="cib-digest", period="2026-07-15"))  # that meeting's digest has gone
    session.flush()
    item, moved = themed.record_moderated_findings(
        session, actor="U0QI3", audit_id=audit.id, findings="Plans drift without review.",
        recommendations="Review monthly.", themes=["Risk and safety"], today=date(2026, 7, 13), now=NOW,
        policy=POLICY)
    assert moved and item.meeting.meets_on == date(2026, 10, 21)
    october = item.meeting
    content, items = cib.build_digest(session, october, today=date(2026, 10, 16), policy=POLICY)
    assert [t.theme for t in content.themed] == ["Drift in plans"]
    assert content.themed[0].cases_audited == "none"
    for found in items:
        found.digested_at = NOW
    content, _ = cib.build_digest(session, october, today=date(2026, 10, 16), policy=POLICY)
    assert content.themed == ()
    with pytest.raises(Conflict, match="already gone"):
        themed.moderated_form(session, actor="U0DLT1", audit_id=audit.id, policy=POLICY)


def test_an_item_queued_while_no_meeting_is_scheduled_is_carried_into_the_first_digest(session):
    audit = commission(session)
    for meeting in session.scalars(select(CibMeeting)):
        session.delete(meeting)
    audit.cib_meeting_id = None
    session.flush()
    session.expire_all()
    item, _ = themed.record_moderated_findings(
        session, actor="U0DLT1", audit_id=audit.id, findings="Plans drift.", recommendations="Review.",
        themes=[], today=date(2026, 6, 10), now=NOW, policy=POLICY)
    assert item.meeting_id is None
    meeting = CibMeeting(meets_on=date(2026, 9, 16), source="slack")
    session.add(meeting)
    session.flush()
    content, items = cib.build_digest(session, meeting, today=date(2026, 9, 11), policy=POLICY)
    assert [i.id for i in items] == [item.id] and content.carried == 1


# --- the Board ----------------------------------------------------------------------------------


def test_meetings_are_scheduled_by_admins_and_qi_on_future_working_days_only(session):
    schedule = lambda actor, day: cib.schedule_meeting(  # noqa: E731
        session, actor=actor, meets_on=day, today=TODAY, calendar=CALENDAR)
    with pytest.raises(NotPermitted):
        schedule("U0SM1", date(2026, 5, 20))
    for day, why in ((date(2026, 3, 20), "passed"), (date(2026, 5, 23), "not a working day"),
                     (date(2026, 7, 15), "already scheduled")):
        with pytest.raises(InvalidInput, match=why):
            schedule("U0ADM1", day)
    assert schedule("U0QI1", date(2026, 5, 20)).source == "slack"


def test_decisions_are_recorded_by_the_chair_only_after_the_item_reached_the_board(session):
    audit = commission(session)
    item, _ = themed.record_moderated_findings(
        session, actor="U0DLT1", audit_id=audit.id, findings="Plans drift.", recommendations="Review.",
        themes=[], today=date(2026, 6, 10), now=NOW, policy=POLICY)
    decide = lambda actor, **kw: cib.record_decision(  # noqa: E731
        session, actor=actor, item_id=item.id, today=date(2026, 7, 15), now=NOW, **kw)
    with pytest.raises(Conflict, match="not been to the Board yet"):
        decide("U0BRD1", received=True, decision=None)
    item.digested_at = NOW
    with pytest.raises(NotPermitted):
        decide("U0DLT1", received=True, decision=None)
    with pytest.raises(InvalidInput, match="Tick"):
        decide("U0BRD1", received=False, decision=None)
    decide("U0BRD1", received=True, decision="Endorsed.")
    assert item.received_at is not None and item.decision == "Endorsed."
    assert any("Endorsed." in str(m.blocks) for m in dms_to(session, "U0DLT1"))


def test_todo_lists_findings_to_record_visits_to_write_up_and_decisions_to_make(session):
    audit = commission(session)
    todos = home_todos(session, "U0SM1", TODAY)
    assert [t.value for t in todos] == [f"{audit.id}:{c.id}" for c in audit.cases]
    visit, _ = visits.commission_visit(session, actor="U0DLT1", data=visit_input(), today=TODAY,
                                            calendar=CALENDAR, policy=POLICY)
    assert home_todos(session, "U0SEN1", TODAY) == []
    [todo] = home_todos(session, "U0SEN1", date(2026, 5, 12))
    assert (todo.button_label, todo.value) == ("Record visit feedback", str(visit.id))
    assert home_todos(session, "U0NOBODY", TODAY) == []


def test_the_digest_never_names_action_owners_and_suppresses_small_counts(session):
    visit, _ = visits.commission_visit(session, actor="U0DLT1", data=visit_input(), today=TODAY,
                                            calendar=CALENDAR, policy=POLICY)
    day = date(2026, 5, 12)
    visits.add_visit_action(session, actor="U0SEN1", visit_id=visit.id, owner="U0SM1",
                                 description="Follow up CIC-10234 moves.", due_on=date(2026, 6, 30), today=day,
                                 policy=POLICY)
    visits.record_visit(session, actor="U0SEN1", visit_id=visit.id, feedback="Good practice seen.",
                             plan_summary=None, today=day, now=NOW, policy=POLICY)
    meeting = session.scalar(select(CibMeeting).where(CibMeeting.meets_on == date(2026, 7, 15)))
    content, _ = cib.build_digest(session, meeting, today=date(2026, 7, 10), policy=POLICY)
    [plan] = content.visits
    assert plan.actions == (("Follow up [case reference] moves.", date(2026, 6, 30)),)
    assert plan.action_count == "fewer than 5"
    assert "• Learning visits: fewer than 5 open (fewer than 5 overdue), none done" in content.action_lines
    assert session.scalar(select(func.count(CibItem.id))) == 1


# --- findings and feedback land with practitioners (#15 item 2) --------------------------------


def _line(case_ref: str, auditor: str = "U0SM1") -> FindingLine:
    return FindingLine(case_ref=case_ref, auditor=auditor, against_theory=f"Found on {case_ref}.",
                       evidence="Notes.", service_user_views=None, themes=("Risk and safety",))


def _with_register(session: Session) -> None:
    result = import_register(session, SAMPLE_CASES.read_text(), policy=POLICY)
    assert result.imported and not result.errors


def test_findings_go_back_one_message_per_person_to_the_holders_and_managers_the_register_names(session):
    _with_register(session)
    # U0TM6 manages CIN-3002 and, here, also holds CIN-3003; U0P11 (holder of CIN-3001) has left
    entry = session.scalars(select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref == "CIN-3003")).one()
    entry.case_holder_id = person(session, "U0TM6").id
    person(session, "U0P11").active = False
    session.flush()
    lines = [_line("CIN-3001"), _line("CIN-3002", "U0QI1"), _line("CIN-3003"), _line("CIN-3003", "U0QI1"),
             _line("CIN-10009")]
    found, unknown = findings_back(session, lines, moderated_findings="Agreed.", recommendations="Do this.",
                                   auditors=("U0SM1", "U0QI1"))
    by_reader = {b.reader: b for b in found}
    assert unknown == ["CIN-10009"]
    assert sorted(by_reader) == ["U0P14", "U0TM5", "U0TM6"]  # U0P11 has left; nobody is told twice
    both = by_reader["U0TM6"]
    assert [c.case_ref for c in both.held] == ["CIN-3003"] and [c.case_ref for c in both.managed] == ["CIN-3002"]
    assert len(both.held[0].lines) == 2  # both auditors' findings on the case
    assert [c.case_ref for c in by_reader["U0TM5"].managed] == ["CIN-3001", "CIN-3003"]

    text, body = findings_back_message(themed.themed_brief(commission(session)), both)
    shown = str([b.to_dict() for b in body])
    assert "CIN-3003* (your case)" in shown and "CIN-3002* (held by <@U0P14> in your team)" in shown
    assert "<@U0TM6>" not in shown and "<@U0TM6>" not in text
    assert "message <@U0SM1> or <@U0QI1>" in shown


def test_no_findings_means_nobody_is_written_to(session):
    assert findings_back(session, [], moderated_findings="A.", recommendations="B.", auditors=()) == ([], [])


def test_a_sole_auditors_brief_names_no_one_with_them(session):
    audit = commission(session, auditors=("U0QI1",))
    _, body = auditor_brief_message(themed.themed_brief(audit), "U0QI1")
    shown = str([b.to_dict() for b in body])
    assert "You are an auditor for this themed audit.\\n" in shown and "<@U0QI1>" not in shown


def _recorded_visit(session: Session, **record: object) -> LearningVisit:
    visit, _ = visits.commission_visit(session, actor="U0DLT1", data=visit_input(), today=TODAY,
                                       calendar=CALENDAR, policy=POLICY)
    day = date(2026, 5, 12)
    visits.add_visit_action(session, actor="U0SEN1", visit_id=visit.id, owner="U0SM1",
                            description="Follow up CIC-10234 moves.", due_on=date(2026, 6, 30), today=day,
                            policy=POLICY)
    visits.record_visit(session, actor="U0SEN1", visit_id=visit.id, feedback="Good practice seen.",
                        plan_summary=None, today=day, now=NOW, policy=POLICY, **record)  # type: ignore[arg-type]
    return visit


def test_a_team_outside_the_visited_service_is_refused_and_nothing_is_sent(session):
    with pytest.raises(InvalidInput) as refused:
        _recorded_visit(session, teams=["cp-east"])
    assert "Choose teams of Children in Care" in refused.value.errors[VisitIds.VISIT_TEAMS]
    assert dms_to(session, "U0TM3") == [] and dms_to(session, "C0CIC") == []


def test_visit_feedback_with_no_team_chosen_reaches_every_team_manager_and_the_channel_without_case_refs(session):
    _recorded_visit(session)
    for manager in ("U0TM1", "U0TM2"):
        [dm] = dms_to(session, manager)
        assert "at your next team meeting" in str(dm.blocks)
    [post] = dms_to(session, "C0CIC")
    assert "Follow up [case reference] moves." in str(post.blocks) and "CIC-10234" not in str(post.blocks)
    assert "<@" not in str(post.blocks)


def test_a_service_with_no_channel_is_not_posted_to_and_the_lead_reviewer_is_told_what_to_do(session):
    session.scalars(select(Service).where(Service.key == "cic")).one().channel = None
    session.flush()
    _recorded_visit(session)
    [receipt] = dms_to(session, "U0SEN1")[-1:]
    assert "has no channel in the QMF directory" in str(receipt.blocks) and "ask a QMF admin" in str(receipt.blocks)
    assert dms_to(session, "C0CIC") == []


def test_an_auditor_refused_a_case_of_their_own_service_is_told_so_as_you_never_by_their_id(session):
    _with_register(session)
    audit = commission(session)
    with pytest.raises(InvalidInput) as refused:
        themed.record_finding(session, actor="U0SM1", audit_id=audit.id, case_id=None, case_ref="CIC-1001",
                              against_theory="Reviews lapsed.", evidence="Notes.", service_user_views=None,
                              themes=["Risk and safety"], today=TODAY, policy=POLICY)
    error = refused.value.errors[ThemedAuditIds.FINDINGS_CASE]
    assert error.startswith("You are the Service Manager of Children in Care, where CIC-1001 is held or managed")
    assert "U0SM1" not in error
