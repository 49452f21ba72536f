"""Random sampling without Slack: the case register import, the draw, blind audits, moderation, the report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.cli_reports import cases_import as cli_import
from bot.app.sandbox.harness import SAMPLE_CASES as CASES_CSV  # noqa: E402
from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.council import policy_of
from bot.core.directory import import_org
from bot.core.errors import Conflict, InvalidInput, NotPermitted
from bot.core.grades import Grade, sample_stats
from bot.core.orgfile import load_org_file
from bot.core.policy import DEFAULT_PRACTICE_SECTIONS, Policy
from bot.sampling.draw_run import make_draw, recently_audited, stored_assignments
from bot.sampling.grading import (
    audit_form,
    blind_grades,
    moderation_form,
    parse_audit,
    record_moderation,
    submit_audit,
)
from bot.sampling.register import import_register
from bot.sampling.results import build_report, digest_lines
from bot.sampling.service import latest_draw
from bot.sampling.types import SampleIds, section_block_id
from storage.models import OutboxMessage
from storage.models.sampling import CaseRegisterEntry, SampleAudit, SampledCase, SampleDraw

HEADER = "case_ref,service,team,case_holder,team_manager,reviewing_officer,status\n"
CALENDAR = WorkingCalendar()
NOW = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
Q1 = Quarter(2026, 1)


@pytest.fixture
def org(db):
    with db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
    return db


@pytest.fixture
def registered(org):
    with org.session() as session:
        result = import_register(session, CASES_CSV.read_text(), policy=policy_of(session))
        assert result.imported, result.summary()
    return org


def draw(db, seed: int = 7, quarter: Quarter = Q1, now: datetime = NOW) -> int:
    with db.session() as session:
        return make_draw(session, quarter=quarter, calendar=CALENDAR, policy=Policy(), now=now,
                         seed=seed).id


# --- the case register ------------------------------------------------------------------------


def test_the_sample_register_imports_every_row(registered):
    with registered.session() as session:
        entries = session.scalars(select(CaseRegisterEntry)).all()
        assert len(entries) == 68
        assert sum(e.status == "open" for e in entries) == 60
        assert {e.service.key for e in entries} == {"cic", "cp", "cin", "fd"}


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(org):
    text = HEADER + "\n".join([
        "CIC-5001,cic,cic-north,U0P1,U0TM1,,open",         # line 2: fine
        "CIC-5002,nope,cic-north,U0P1,U0TM1,,open",        # line 3: unknown service
        "CIC-5003,cic,cp-east,U0P1,U0TM1,,open",           # line 4: team in another service
        "CIC-5004,cic,cic-north,U0NOBODY,U0TM1,,open",     # line 5: unknown person
        "Jo Bloggs,cic,cic-north,U0P1,U0TM1,,open",        # line 6: not a case reference
        "CIC-5001,cic,cic-north,U0P1,U0TM1,,open",         # line 7: duplicate
        "CIC-5007,cic,cic-north,U0P1,U0TM1,,pending",      # line 8: bad status
        "CIC-5008,cic,cic-north,sw@example.org,U0TM1,,open",  # line 9: email with no Slack to ask
        "CIC-5009,cic,cic-north,,U0TM1,,open",             # line 10: empty case holder
    ]) + "\n"
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session))
        assert not result.imported
        assert session.scalars(select(CaseRegisterEntry)).all() == []
    by_line = {e.line: e.message for e in result.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "service 'nope'" in by_line[3]
    assert "cp-east is not in service cic" in by_line[4]
    assert "U0NOBODY" in by_line[5] and "not in the QMF directory" in by_line[5]
    assert "does not look like a case reference" in by_line[6]
    assert "already on line 2" in by_line[7]
    assert "open or closed" in by_line[8]
    assert "SLACK_BOT_TOKEN" in by_line[9]
    assert "case_holder is empty" in by_line[10]
    assert "line 3:" in result.summary() and "Nothing imported" in result.summary()


def test_skip_bad_imports_the_good_rows_only(org):
    text = HEADER + "CIC-5001,cic,cic-north,U0P1,U0TM1,,open\nCIC-5002,nope,cic-north,U0P1,U0TM1,,open\n"
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session), skip_bad=True)
        assert result.imported and result.added == 1 and result.skipped == 1
        assert [e.case_ref for e in session.scalars(select(CaseRegisterEntry))] == ["CIC-5001"]


def test_a_missing_column_is_an_error_on_line_one(org):
    with org.session() as session:
        result = import_register(session, "case_ref,service,team\nCIC-5001,cic,cic-north\n",
                                 policy=policy_of(session))
    assert [e.line for e in result.errors] == [1] and "case_holder" in result.errors[0].message


def test_people_can_be_named_by_email_when_slack_can_look_them_up(org):
    emails = {"worker@council.example": "U0P2"}
    text = HEADER + "CIC-5001,cic,cic-north,worker@council.example,U0TM1,,open\n" \
                    "CIC-5002,cic,cic-north,gone@council.example,U0TM1,,open\n"
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session), skip_bad=True,
                                 lookup_email=emails.get)
        entry = session.scalar(select(CaseRegisterEntry))
        assert entry is not None and entry.case_holder.slack_id == "U0P2"
    assert [e.line for e in result.errors] == [3] and "no user with that email" in result.errors[0].message


def test_a_reimport_updates_rows_and_closes_cases_no_longer_in_the_register(registered):
    lines = CASES_CSV.read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if not ln.startswith("CIC-1001,")]
    kept = [ln.replace("CIC-1002,cic,cic-south,U0P4", "CIC-1002,cic,cic-south,U0P5") for ln in kept]
    with registered.session() as session:
        result = import_register(session, "\n".join(kept) + "\n", policy=policy_of(session))
        assert (result.added, result.updated, result.closed) == (0, 1, 1)
        gone = session.scalar(select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref == "CIC-1001"))
        assert gone is not None and gone.status == "closed"


def test_the_cli_import_reports_errors_by_line_and_exits_1(org, database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "CIC-5001,cic,cic-north,U0P1,U0TM1,,open\nCIC-5002,zzz,cic-north,U0P1,U0TM1,,open\n")
    assert cli_import(type("Args", (), {"file": str(bad), "skip_bad": False})()) == 1
    assert "line 3: service 'zzz'" in capsys.readouterr().out
    assert cli_import(type("Args", (), {"file": str(bad), "skip_bad": True})()) == 0
    assert "1 added" in capsys.readouterr().out
    with org.session() as session:
        assert len(session.scalars(select(CaseRegisterEntry)).all()) == 1


# --- the draw ---------------------------------------------------------------------------------


def test_the_same_seed_and_pool_give_the_same_draw(registered):
    def assignments(seed: int) -> list[tuple[str, str, str]]:
        session = registered.sessions()
        try:
            row = make_draw(session, quarter=Q1, calendar=CALENDAR, policy=Policy(), now=NOW, seed=seed)
            return stored_assignments(row)
        finally:
            session.rollback()
            session.close()

    first, again, other = assignments(11), assignments(11), assignments(12)
    assert first == again
    assert len(first) == 10
    assert other != first  # a different seed draws differently (these two seeds are known to differ)


def test_a_draw_is_refused_twice_for_a_quarter(registered):
    draw(registered)
    with pytest.raises(Conflict):
        draw(registered)


def test_a_different_service_is_sampled_each_quarter_and_never_sampled_first(registered):
    keys = []
    for n in range(5):
        q = Q1.shift(n)
        row_id = draw(registered, seed=n, quarter=q, now=datetime.combine(q.start, datetime.min.time(), UTC))
        with registered.session() as session:
            row = session.get(SampleDraw, row_id)
            keys.append(row.service.key)
    assert sorted(keys[:4]) == ["cic", "cin", "cp", "fd"]
    assert keys[4] == keys[0]  # least recently sampled comes round again
    assert all(a != b for a, b in zip(keys, keys[1:], strict=False))


def test_a_case_audited_in_the_last_twelve_months_is_not_given_to_the_same_auditor(registered):
    first = draw(registered, seed=3)
    with registered.session() as session:
        row = session.get(SampleDraw, first)
        recent = recently_audited(session, ["U0QI1"], since=datetime(2025, 6, 1, tzinfo=UTC),
                                  calendar=CALENDAR)
        mine = {c.case_ref for c in row.cases if c.pair.qi.slack_id == "U0QI1"}
    assert set(recent["U0QI1"]) == mine


# --- blind audits and moderation --------------------------------------------------------------

AGREED_SECTIONS = {section_block_id(s, agreed=True): str(int(Grade.GOOD)) for s in DEFAULT_PRACTICE_SECTIONS}


def answers(grade: Grade, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        SampleIds.DISCUSSIONS.value: ["case_holder", "team_manager"],
        SampleIds.FEEDBACK.value: "The young person said their worker keeps promises.",
        SampleIds.STRENGTHS.value: "Purposeful visits.",
        SampleIds.IMPROVE.value: "Plans lack measurable outcomes.",
        SampleIds.THEMES.value: ["SMART planning and review"],
        SampleIds.GRADE.value: str(int(grade)),
        SampleIds.RATIONALE.value: "Consistent work, weak planning.",
        SampleIds.CASE_STUDY.value: [],
        SampleIds.CASE_STUDY_NOTE.value: None,
        **{section_block_id(s): str(int(Grade.GOOD)) for s in DEFAULT_PRACTICE_SECTIONS},
    }
    values.update(changes)
    return values


def test_the_practice_consultant_must_record_service_user_feedback_but_qi_need_not():
    today = NOW.date()
    with pytest.raises(InvalidInput) as caught:
        parse_audit(answers(Grade.GOOD, **{SampleIds.FEEDBACK.value: ""}), role="pc", policy=Policy(),
                    today=today)
    assert set(caught.value.errors) == {SampleIds.FEEDBACK.value}
    parsed = parse_audit(answers(Grade.GOOD, **{SampleIds.FEEDBACK.value: ""}), role="qi",
                         policy=Policy(), today=today)
    assert parsed.service_user_feedback is None and parsed.grade is Grade.GOOD


def test_every_free_text_is_checked_and_a_case_study_needs_a_note():
    values = answers(Grade.GOOD, **{
        SampleIds.STRENGTHS.value: "Email the family at mum@example.com",
        SampleIds.RATIONALE.value: "Lives at SW1A 1AA",
        SampleIds.CASE_STUDY.value: ["yes"],
    })
    with pytest.raises(InvalidInput) as caught:
        parse_audit(values, role="qi", policy=Policy(), today=NOW.date())
    errors = caught.value.errors
    assert "email address" in errors[SampleIds.STRENGTHS.value]
    assert "postcode" in errors[SampleIds.RATIONALE.value]
    assert "case study" in errors[SampleIds.CASE_STUDY_NOTE.value]


def _case(db) -> tuple[int, str, str]:
    draw(db)
    with db.session() as session:
        case = session.scalars(select(SampledCase).order_by(SampledCase.id)).first()
        assert case is not None
        return case.id, case.pair.qi.slack_id, case.pair.pc.slack_id


def _submit(db, case_id: int, person: str, grade: Grade) -> bool:
    with db.session() as session:
        _, _, both = submit_audit(session, case_id=case_id, slack_id=person, values=answers(grade),
                                  now=NOW, calendar=CALENDAR, policy=Policy())
        return both


def test_a_grade_is_locked_once_submitted_and_hidden_until_both_are_in(registered):
    case_id, qi, pc = _case(registered)
    assert _submit(registered, case_id, qi, Grade.GOOD) is False
    with registered.session() as session:
        case = session.get(SampledCase, case_id)
        assert blind_grades(case) is None
        report = build_report(session, case.draw, policy=Policy())
        row = next(r for r in report.cases if r.case_ref == case.case_ref)
        assert row.qi_grade is None and row.pc_grade is None  # not even the export shows a lone grade
    with pytest.raises(Conflict, match="locked"):
        _submit(registered, case_id, qi, Grade.OUTSTANDING)
    with pytest.raises(Conflict, match="Record your own blind audit"), registered.session() as session:
        moderation_form(session, case_id=case_id, slack_id=pc)
    with pytest.raises(Conflict, match="has not submitted"), registered.session() as session:
        moderation_form(session, case_id=case_id, slack_id=qi)
    with pytest.raises(NotPermitted), registered.session() as session:
        audit_form(session, case_id=case_id, slack_id="U0QI5" if qi != "U0QI5" else "U0QI4",
                   policy=Policy())
    assert _submit(registered, case_id, pc, Grade.INADEQUATE) is True
    with registered.session() as session:
        audits = session.scalars(select(SampleAudit).where(SampleAudit.case_id == case_id)).all()
        assert sorted(Grade(a.grade) for a in audits) == [Grade.GOOD, Grade.INADEQUATE]
        keys = set(session.scalars(select(OutboxMessage.dedupe_key)))
        assert {f"sample-both:{case_id}:{qi}", f"sample-both:{case_id}:{pc}"} <= keys


def test_moderation_keeps_the_originals_and_only_the_pair_may_moderate(registered):
    case_id, qi, pc = _case(registered)
    _submit(registered, case_id, qi, Grade.GOOD)
    _submit(registered, case_id, pc, Grade.OUTSTANDING)
    values = {SampleIds.AGREED_GRADE.value: str(int(Grade.GOOD)), SampleIds.AGREED_REASON.value: "Agreed: good.", **AGREED_SECTIONS}
    with pytest.raises(NotPermitted), registered.session() as session:
        record_moderation(session, case_id=case_id, slack_id="U0SM1", values=values, now=NOW,
                          calendar=CALENDAR, policy=Policy())
    with registered.session() as session:
        record_moderation(session, case_id=case_id, slack_id=pc, values=values, now=NOW,
                          calendar=CALENDAR, policy=Policy())
    with pytest.raises(Conflict, match="already been moderated"), registered.session() as session:
        record_moderation(session, case_id=case_id, slack_id=qi, values=values, now=NOW,
                          calendar=CALENDAR, policy=Policy())
    with registered.session() as session:
        case = session.get(SampledCase, case_id)
        assert {a.role: Grade(a.grade) for a in case.audits} == {"qi": Grade.GOOD, "pc": Grade.OUTSTANDING}
        assert Grade(case.moderation.agreed_grade) is Grade.GOOD


def test_the_report_counts_moderated_cases_only_and_matches_sample_stats(registered):
    draw(registered)
    plan = [(Grade.GOOD, Grade.GOOD, Grade.GOOD), (Grade.OUTSTANDING, Grade.REQUIRES_IMPROVEMENT, Grade.GOOD),
            (Grade.INADEQUATE, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE), (Grade.GOOD, Grade.GOOD, None)]
    with registered.session() as session:
        cases = [(c.id, c.pair.qi.slack_id, c.pair.pc.slack_id)
                 for c in session.scalars(select(SampledCase).order_by(SampledCase.id))]
    for (case_id, qi, pc), (a, b, agreed) in zip(cases, plan, strict=False):
        _submit(registered, case_id, qi, a)
        _submit(registered, case_id, pc, b)
        if agreed is not None:
            with registered.session() as session:
                record_moderation(
                    session, case_id=case_id, slack_id=qi, now=NOW, calendar=CALENDAR, policy=Policy(),
                    values={SampleIds.AGREED_GRADE.value: str(int(agreed)), SampleIds.AGREED_REASON.value: "Agreed.", **AGREED_SECTIONS})
    with registered.session() as session:
        report = build_report(session, latest_draw(session), policy=Policy())
    expected = sample_stats([p for p in plan if p[2] is not None])
    v = report.view
    assert (v.total_cases, v.moderated) == (10, 3)
    assert v.by_grade == expected.by_grade
    assert (v.pct_good_or_better, v.pct_inadequate) == (expected.pct_good_or_better, expected.pct_inadequate)
    assert (v.exact_agreement_pct, v.within_one_pct) == (expected.exact_agreement_pct, expected.within_one_pct)
    assert (v.moved_up, v.moved_down, v.moved_same) == (expected.moderated_up, expected.moderated_down,
                                                        expected.moderated_same)
    assert v.themes == [("SMART planning and review", 3)]
    assert v.flags == 1  # Outstanding vs RI is two grades apart
    assert not report.complete


def test_the_cib_digest_has_headlines_and_no_case_references(registered):
    case_id, qi, pc = _case(registered)
    with registered.session() as session:
        ref = session.get(SampledCase, case_id).case_ref
        lines = digest_lines(session, NOW.date(), NOW.date())
    assert lines == ["Random sample 2026-27 Q1 (Children in Care): 0 of 10 case(s) moderated."]
    assert ref not in lines[0]


def test_the_cib_digest_and_the_shared_report_never_show_a_count_under_the_threshold(registered):
    """#15 item 6: the Board's digest and the report for the Q&I channel and the Service Manager follow
    the one small-count rule (SmallCounts): one Inadequate in ten is not "1 Inadequate" nor "10%"."""
    import re

    from bot.core.privacy import SmallCounts
    from bot.sampling.report_messages import report_lines

    draw(registered)
    g = Grade
    plan = [(g.GOOD, g.GOOD, g.GOOD)] * 5 + [(g.REQUIRES_IMPROVEMENT, g.GOOD, g.REQUIRES_IMPROVEMENT)] * 4 + [
        (g.INADEQUATE, g.REQUIRES_IMPROVEMENT, g.INADEQUATE)]
    with registered.session() as session:
        cases = [(c.id, c.pair.qi.slack_id, c.pair.pc.slack_id)
                 for c in session.scalars(select(SampledCase).order_by(SampledCase.id))]
    for (case_id, qi, pc), (a, b, agreed) in zip(cases, plan, strict=True):
        _submit(registered, case_id, qi, a)
        _submit(registered, case_id, pc, b)
        with registered.session() as session:
            record_moderation(session, case_id=case_id, slack_id=qi, now=NOW, calendar=CALENDAR, policy=Policy(),
                              values={SampleIds.AGREED_GRADE.value: str(int(agreed)),
                                      SampleIds.AGREED_REASON.value: "Agreed.", **AGREED_SECTIONS})
    small = re.compile(r"(?<![\w.-])[1-4](?![\w.-])")
    with registered.session() as session:
        [line] = digest_lines(session, NOW.date(), NOW.date())
        view = build_report(session, latest_draw(session), policy=Policy()).view
    assert line.startswith("Random sample 2026-27 Q1 (Children in Care): 10 of 10 case(s) moderated")
    assert "50% good or better" in line and "fewer than 5 Inadequate" in line
    assert "10%" not in line and not small.search(line), line
    shared = "\n".join(sum(report_lines(view, SmallCounts(5)).values(), []))
    assert "Inadequate: fewer than 5" in shared and "Good: 5" in shared and "50% good or better" in shared
    assert "inadequate" not in shared.split("\n")[1] and not small.search(shared), shared
    exact = "\n".join(sum(report_lines(view).values(), []))  # Q&I's own view keeps every figure
    assert "Inadequate: 1" in exact and "10% inadequate" in exact


# --- hostile registers (issue 14 item 8) -------------------------------------------------------


def test_a_200_kb_field_is_refused_as_a_bad_row_naming_its_line_and_nothing_is_imported(org):
    text = HEADER + "CIC-5001,cic,cic-north,U0P1,U0TM1,,open\n" + "CIC-5002,cic,cic-north,U0P1,U0TM1," + \
        "x" * 200_000 + ",open\nCIC-5003,cic,cic-north,U0P1,U0TM1,,open\n"
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session))
        assert not result.imported
        assert [str(e).split(":")[0] for e in result.errors] == ["line 3"]
        assert "too long" in str(result.errors[0])
        assert session.scalars(select(CaseRegisterEntry)).all() == []


def test_a_nul_byte_in_the_register_is_a_bad_row_naming_its_line(org):
    text = HEADER + "CIC-5001,cic,cic-north,U0P1,U0TM1,,open\nCIC-5002,cic,cic-\x00north,U0P1,U0TM1,,open\n"
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session))
        assert not result.imported and [e.line for e in result.errors] == [3]
        assert "NUL" in str(result.errors[0])
