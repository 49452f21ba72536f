"""Sections of practice in the random-sample audit (issue 17 item 4), through signed requests: a grade per
section the council sets, blind until both are in, agreed per section in moderation, and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.grades import Grade
from bot.core.policy import DEFAULT_PRACTICE_SECTIONS
from bot.sampling.service import slack_id_of
from bot.sampling.types import AGREED_SECTION_PREFIX, SECTION_PREFIX, section_block_id
from storage.models.sampling import SampleAudit, SampledCase, SampleFlag, SampleModeration
from tests.conftest import london
from tests.flows.test_sampling_flow import (
    AUDIT_ANSWERS,
    _grades_plan,
    all_dm_text,
    buttons,
    draw_now,
    import_cases,
    message_text,
    moderate,
    pair_cases,
    section_answers,
    submit_audit,
)

G = Grade
COUNCIL_SECTIONS = ["Child's voice & wishes", "Risk analysis", "Plans that change things"]


def _open_audit(slack: Any, fake: Any, user: str, case_id: int) -> dict[str, Any]:
    dm = next(m for m in reversed(fake.dms(user)) if ("Record sample audit", str(case_id)) in buttons(m))
    assert slack.click(user, "Record sample audit", message=dm, value=str(case_id)).status == 200
    view = fake.latest_view(user)
    assert view is not None and view["title"]["text"] == "Sample audit"
    return view


def _selects(view: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [b for b in view.get("blocks") or [] if str(b.get("block_id", "")).startswith(prefix)]


def _optional(fake: Any, view: dict[str, Any], block_id: str) -> None:
    """A client that skips Slack's own required-field check: the field may arrive empty."""
    with fake._lock:
        live = fake._views[view["id"]].view
        for block in live["blocks"]:
            if block.get("block_id") == block_id:
                block["optional"] = True


def _first_case(bot: Any) -> tuple[int, str, str, str]:
    import_cases(bot)
    draw_now(bot)
    case_id, ref, pc = pair_cases(bot, "U0QI1")[0]
    return case_id, ref, "U0QI1", pc


def test_the_grading_modal_asks_each_section_the_council_set_in_its_org_file(bot, slack, fake, tmp_path: Path):
    org = tmp_path / "org.yaml"
    listed = "".join(f"    - \"{s}\"\n" for s in COUNCIL_SECTIONS)
    org.write_text(SAMPLE_ORG.read_text() + f"\nsettings:\n  practice_sections:\n{listed}")
    bot.import_org(org)
    case_id, _, qi, pc = _first_case(bot)
    view = _open_audit(slack, fake, pc, case_id)
    selects = _selects(view, SECTION_PREFIX)
    assert [b["label"]["text"] for b in selects] == COUNCIL_SECTIONS
    assert all(b["element"]["type"] == "static_select" and not b.get("optional") for b in selects)
    assert [o["text"]["text"] for o in selects[0]["element"]["options"]] == [g.label for g in Grade]
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert "Overall grade" in labels and labels.index("Overall grade") > labels.index(COUNCIL_SECTIONS[-1])
    values = dict(AUDIT_ANSWERS, **{"Overall grade": G.GOOD.label, "Service-user feedback": "They listen.",
                                    COUNCIL_SECTIONS[0]: G.OUTSTANDING.label, COUNCIL_SECTIONS[1]: G.GOOD.label,
                                    COUNCIL_SECTIONS[2]: G.REQUIRES_IMPROVEMENT.label})
    assert slack.submit(pc, values).errors == {}
    with bot.rt.db.session() as session:
        row = session.scalars(select(SampleAudit).where(SampleAudit.case_id == case_id)).one()
        assert row.section_grades == {COUNCIL_SECTIONS[0]: 1, COUNCIL_SECTIONS[1]: 2, COUNCIL_SECTIONS[2]: 3}


def test_a_missing_section_grade_is_an_inline_error_under_that_section_and_nothing_is_stored(bot, slack, fake):
    case_id, _, _, pc = _first_case(bot)
    view = _open_audit(slack, fake, pc, case_id)
    missing = DEFAULT_PRACTICE_SECTIONS[2]
    _optional(fake, view, section_block_id(missing))
    answers = dict(AUDIT_ANSWERS, **section_answers(view), **{"Overall grade": G.GOOD.label,
                                                               "Service-user feedback": "They listen."})
    del answers[missing]
    reply = slack.submit(pc, answers)
    assert reply.errors == {section_block_id(missing): f"Choose a grade for {missing}."}
    with bot.rt.db.session() as session:
        assert session.scalars(select(SampleAudit).where(SampleAudit.case_id == case_id)).all() == []


def test_a_form_opened_before_the_council_changed_its_sections_asks_to_be_opened_again(bot, slack, fake,
                                                                                        tmp_path: Path):
    case_id, _, _, pc = _first_case(bot)
    view = _open_audit(slack, fake, pc, case_id)
    org = tmp_path / "org.yaml"
    org.write_text(SAMPLE_ORG.read_text() + "\nsettings:\n  practice_sections:\n    - Recording\n    - Something new\n")
    bot.import_org(org)
    reply = slack.submit(pc, dict(AUDIT_ANSWERS, **section_answers(view), **{
        "Overall grade": G.GOOD.label, "Service-user feedback": "They listen."}))
    assert "changed since this form was opened" in reply.errors.get("sample-grade", "")
    with bot.rt.db.session() as session:
        assert session.scalars(select(SampleAudit).where(SampleAudit.case_id == case_id)).all() == []


def test_section_grades_stay_blind_until_both_submit_and_two_apart_flags_the_section(bot, slack, fake):
    case_id, ref, qi, pc = _first_case(bot)
    voice, recording = DEFAULT_PRACTICE_SECTIONS[0], "Recording"
    assert submit_audit(slack, fake, pc, case_id, G.GOOD, sections={recording: G.INADEQUATE}).errors == {}
    assert "Inadequate" not in all_dm_text(fake, qi)  # the PC's section grade does not reach the Q&I auditor
    # the Q&I auditor opens their form: it shows nothing of the partner's grades
    view = _open_audit(slack, fake, qi, case_id)
    assert "Inadequate" not in str([b for b in view["blocks"] if b["type"] != "input"])
    assert submit_audit(slack, fake, qi, case_id, G.GOOD, feedback=None,
                        sections={recording: G.GOOD, voice: G.OUTSTANDING}).errors == {}
    both = next(m for m in fake.dms(qi) if "Both blind audits" in message_text(m))
    text = message_text(both)
    assert "By section of practice" in text and f"{recording}: <@{qi}> Good, <@{pc}> Inadequate" in text
    with bot.rt.db.session() as session:
        flag = session.scalars(select(SampleFlag).join(SampledCase).where(
            SampledCase.id == case_id, SampleFlag.kind == "disagreement")).one()
    assert flag.reason == "section grades two or more apart: Recording (Good vs Inadequate)"
    assert voice not in flag.reason  # one grade apart is left to the pair


def test_moderation_asks_the_agreed_grade_per_section_prefilled_where_they_agree(bot, slack, fake):
    case_id, ref, qi, pc = _first_case(bot)
    recording, planning = "Recording", "Planning and review"
    assert submit_audit(slack, fake, pc, case_id, G.GOOD, sections={recording: G.REQUIRES_IMPROVEMENT}).errors == {}
    assert submit_audit(slack, fake, qi, case_id, G.GOOD, feedback=None).errors == {}
    dm = next(m for m in reversed(fake.dms(qi)) if ("Record moderated grade", str(case_id)) in buttons(m))
    slack.click(qi, "Record moderated grade", message=dm, value=str(case_id))
    view = fake.latest_view(qi)
    assert view is not None
    selects = {b["label"]["text"]: b for b in _selects(view, AGREED_SECTION_PREFIX)}
    assert list(selects) == list(DEFAULT_PRACTICE_SECTIONS)
    assert selects[planning]["element"]["initial_option"]["text"]["text"] == "Good"
    assert "initial_option" not in selects[recording]["element"]
    assert selects[recording]["hint"]["text"] == "Q&I: Good · Practice Consultant: Requires improvement to be good"
    # the section the pair differ on must be answered, under its own box
    _optional(fake, view, section_block_id(recording, agreed=True))
    reply = slack.submit(qi, {"Agreed grade": "Good", "Reason for the agreed grade": "Agreed."})
    assert reply.errors == {section_block_id(recording, agreed=True): "Choose the grade you agreed for Recording."}
    slack.close_modal(qi)
    assert moderate(slack, fake, qi, case_id, G.GOOD,
                    sections={recording: G.REQUIRES_IMPROVEMENT, planning: G.OUTSTANDING}).errors == {}
    with bot.rt.db.session() as session:
        mod = session.scalars(select(SampleModeration).where(SampleModeration.case_id == case_id)).one()
        audits = {a.role: a.section_grades for a in session.scalars(
            select(SampleAudit).where(SampleAudit.case_id == case_id))}
    assert mod.section_grades[recording] == int(G.REQUIRES_IMPROVEMENT)
    assert mod.section_grades[planning] == int(G.OUTSTANDING)  # a prefilled grade can be changed
    assert mod.section_grades[DEFAULT_PRACTICE_SECTIONS[0]] == int(G.GOOD)
    assert audits["pc"][recording] == int(G.REQUIRES_IMPROVEMENT) and audits["qi"][recording] == int(G.GOOD)


def test_the_report_shows_grades_and_agreement_per_section_in_slack_and_the_xlsx(bot, slack, fake, tmp_path,
                                                                                  monkeypatch):
    import_cases(bot)
    draw_now(bot)
    with bot.rt.db.session() as session:
        cases = [(c.id, c.pair.qi.slack_id, c.pair.pc.slack_id)
                 for c in session.scalars(select(SampledCase).order_by(SampledCase.id))]
    plan = _grades_plan()
    recording = "Recording"
    for n, ((case_id, qi, pc), (a, b, agreed)) in enumerate(zip(cases, plan, strict=True)):
        # the pair differ on Recording in the first 4 cases; they agree on every other section
        pc_recording = G.REQUIRES_IMPROVEMENT if n < 4 else G.GOOD
        assert submit_audit(slack, fake, qi, case_id, a, feedback=None).errors == {}
        assert submit_audit(slack, fake, pc, case_id, b, sections={recording: pc_recording}).errors == {}
        agreed_recording = G.REQUIRES_IMPROVEMENT if n < 6 else G.GOOD
        assert moderate(slack, fake, qi, case_id, agreed, sections={recording: agreed_recording}).errors == {}

    # the Q&I channel's copy: small counts withheld (fewer than 5), large ones shown
    post = next(m for m in fake.messages("C0QI") if "Grades by section of practice" in message_text(m))
    text = message_text(post)
    assert "Recording: Outstanding 0, Good fewer than 5, Requires improvement to be good 6, Inadequate 0" in text
    assert "Planning and review: Outstanding 0, Good 10," in text
    assert "Recording: blind grades matched in 60% of 10 case(s)" in text
    assert "Planning and review: blind grades matched in 100% of 10 case(s)" in text

    from bot.app.cli import main

    monkeypatch.setenv("DATABASE_URL", bot.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    out = tmp_path / "sample.xlsx"
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--format", "xlsx", "--output", str(out)]) == 0
    book = load_workbook(out)
    rows = list(book["Sections"].iter_rows(values_only=True))
    assert rows[0] == ("Section", *(g.label for g in Grade), "Cases with both blind grades", "Blind grades matched",
                       "% matched")
    by_name = {r[0]: r for r in rows[1:]}
    assert list(by_name) == list(DEFAULT_PRACTICE_SECTIONS)
    assert by_name[recording] == (recording, 0, 4, 6, 0, 10, 6, 60)
    assert by_name["Planning and review"] == ("Planning and review", 0, 10, 0, 0, 10, 10, 100)
    md = tmp_path / "sample.md"
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--format", "md", "--output", str(md)]) == 0
    assert "| Recording | 0 | 4 | 6 | 0 |" in md.read_text()
    assert "| Recording | 10 | 6 | 60.0 |" in md.read_text()


def test_the_findings_dm_lists_the_agreed_section_grades(bot, slack, fake):
    case_id, ref, qi, pc = _first_case(bot)
    assert submit_audit(slack, fake, pc, case_id, G.GOOD).errors == {}
    assert submit_audit(slack, fake, qi, case_id, G.GOOD, feedback=None).errors == {}
    assert moderate(slack, fake, qi, case_id, G.GOOD, sections={"Recording": G.REQUIRES_IMPROVEMENT}).errors == {}
    with bot.rt.db.session() as session:
        holder = slack_id_of(session, session.get(SampledCase, case_id).case_holder_id)
    assert holder is not None
    assert bot.run_job("send-reminders", at=london(2026, 4, 2, 9, 30)).status == "done"
    text = all_dm_text(fake, holder)
    assert "by section of practice" in text and "Recording: Requires improvement to be good" in text
