"""Random sampling audits, driven the way Slack, the scheduler and Q&I use them."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app.sandbox.harness import SAMPLE_CASES as CASES_CSV  # noqa: E402
from bot.app.sandbox.render import buttons
from bot.core.council import policy_of
from bot.core.grades import Grade, needs_qi_attention, sample_stats
from bot.core.privacy import SmallCounts
from bot.sampling.draw_run import reproduce, stored_assignments
from bot.sampling.register import import_register
from bot.sampling.reminders import todo_for
from bot.sampling.results import digest_lines
from bot.sampling.service import draw_for, latest_draw
from bot.sampling.types import AGREED_SECTION_PREFIX, SECTION_PREFIX
from storage.models import Action, AuditLogEntry
from storage.models.sampling import CaseRegisterEntry, SampleAudit, SampledCase, SampleDraw, SampleFlag
from tests.conftest import london

QI = ["U0QI1", "U0QI2", "U0QI3", "U0QI4", "U0QI5"]
PCS = ["U0PC1", "U0PC2", "U0PC3", "U0PC4", "U0PC5"]
QUARTER_STARTS = [london(2026, 4, 1, 9, 0), london(2026, 7, 1, 9, 0), london(2026, 10, 1, 9, 0),
                  london(2027, 1, 4, 9, 0)]  # 1 Jan 2027 is a bank holiday; the 4th is the first working day


def import_cases(bot: Any) -> None:
    with bot.rt.db.session() as session:
        result = import_register(session, CASES_CSV.read_text(), policy=policy_of(session))
    assert result.imported and not result.errors


def message_text(message: dict[str, Any]) -> str:
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text.get("text", ""))
        for f in block.get("fields") or []:
            parts.append(f.get("text", ""))
        for e in block.get("elements") or []:
            if isinstance(e, dict) and isinstance(e.get("text"), str):
                parts.append(e["text"])
    return "\n".join(parts)


def all_dm_text(fake: Any, user: str) -> str:
    return "\n".join(message_text(m) for m in fake.dms(user))


def draw_now(bot: Any, at: Any = QUARTER_STARTS[0], **options: Any) -> SampleDraw:
    outcome = bot.run_job("draw-random-sample", at=at, **options)
    assert outcome.status == "done", outcome.line()
    with bot.rt.db.session() as session:
        row = draw_for(session, bot.rt.calendar(session).quarter(at).key)
        assert row is not None
        return row


def pair_cases(bot: Any, qi: str) -> list[tuple[int, str, str]]:
    """(case id, case ref, PC) of the Q&I auditor's cases in the latest draw."""
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None
        return [(c.id, c.case_ref, c.pair.pc.slack_id) for c in row.cases if c.pair.qi.slack_id == qi]


AUDIT_ANSWERS = {
    "Discussions held": ["Case holder", "Team manager"],
    "Strengths": "Clear plan reviewed monthly; the child's views are recorded at each visit.",
    "Areas for improvement": "Supervision notes do not show how risk was weighed.",
    "Themes": ["Management oversight and supervision", "Voice and lived experience of the child"],
    "Why this grade?": "Most of the work is timely and purposeful, with gaps in oversight.",
}


def section_answers(view: dict[str, Any], sections: dict[str, Grade] | None = None) -> dict[str, str]:
    """A grade for each section of practice the modal asks about (by its label): Good unless given."""
    labels = [b["label"]["text"] for b in view.get("blocks") or []
              if str(b.get("block_id", "")).startswith(SECTION_PREFIX)]
    return {label: (sections or {}).get(label, Grade.GOOD).label for label in labels}


def submit_audit(slack: Any, fake: Any, user: str, case_id: int, grade: Grade, *, case_study: str | None = None,
                 feedback: str | None = "Parent said the worker listens and explains things.",
                 sections: dict[str, Grade] | None = None) -> Any:
    dm = next(m for m in reversed(fake.dms(user)) if ("Record sample audit", str(case_id)) in buttons(m))
    opened = slack.click(user, "Record sample audit", message=dm, value=str(case_id))
    assert opened.status == 200
    view = fake.latest_view(user)
    assert view is not None and view["title"]["text"] == "Sample audit"
    values: dict[str, Any] = dict(AUDIT_ANSWERS, **section_answers(view, sections), **{"Overall grade": grade.label})
    if feedback is not None:
        values["Service-user feedback"] = feedback
    if case_study:
        values["Use as a case study"] = ["yes"]
        values["Case study note (anonymised)"] = case_study
    reply = slack.submit(user, values)
    if not reply.errors and fake.latest_view(user) is not None:
        slack.close_modal(user)  # the person reads the confirmation and closes it
    return reply


def moderate(slack: Any, fake: Any, user: str, case_id: int, grade: Grade, reason: str = "Agreed after talking "
             "through the oversight gaps and the quality of the plan.", sections: dict[str, Grade] | None = None) -> Any:
    dm = next(m for m in reversed(fake.dms(user)) if ("Record moderated grade", str(case_id)) in buttons(m))
    slack.click(user, "Record moderated grade", message=dm, value=str(case_id))
    view = fake.latest_view(user)
    assert view is not None and view["title"]["text"] == "Moderated grade"
    agreed = {b["label"]["text"]: (sections or {}).get(b["label"]["text"], grade).label
              for b in view.get("blocks") or [] if str(b.get("block_id", "")).startswith(AGREED_SECTION_PREFIX)
              and (sections and b["label"]["text"] in sections or not b["element"].get("initial_option"))}
    reply = slack.submit(user, {"Agreed grade": grade.label, "Reason for the agreed grade": reason, **agreed})
    if not reply.errors and fake.latest_view(user) is not None:
        slack.close_modal(user)
    return reply


# ---------------------------------------------------------------------------------------------


def test_four_quarters_sample_four_services_in_pairs_and_nobody_audits_their_own_case(bot, fake):
    import_cases(bot)
    with bot.rt.db.session() as session:
        register = {e.case_ref: (e.case_holder.slack_id, e.team_manager.slack_id)
                    for e in session.scalars(select(CaseRegisterEntry))}
    services: list[str] = []
    previous_pairs: set[tuple[str, str]] = set()
    for at in QUARTER_STARTS:
        if at.day > 1:  # the quarter has begun on a bank holiday: not drawn until its first working day
            early = bot.run_job("draw-random-sample", at=at.replace(day=1))
            assert early.status == "not-due", early.line()
        draw_now(bot, at)
        with bot.rt.db.session() as session:
            row = draw_for(session, bot.rt.calendar(session).quarter(at).key)
            assert row is not None
            services.append(row.service.key)
            pairs = {(p.qi.slack_id, p.pc.slack_id) for p in row.pairs}
            per_qi = Counter(c.pair.qi.slack_id for c in row.cases)
            assert sorted(per_qi) == QI and set(per_qi.values()) == {2}
            assert {pc for _, pc in pairs} <= set(PCS) and len({pc for _, pc in pairs}) == 5
            assert not pairs & previous_pairs, "a pair was repeated from last quarter although it was avoidable"
            previous_pairs = pairs
            for c in row.cases:
                holder, manager = register[c.case_ref]
                assert {c.pair.qi.slack_id, c.pair.pc.slack_id}.isdisjoint({holder, manager})
                assert c.service.key == row.service.key
            # the same seed and pool reproduce the same draw
            reproduced_pairs, reproduced = reproduce(row)
            assert sorted((a.case_ref, a.qi, a.pc) for a in reproduced.assignments) == \
                stored_assignments(row)
            assert {(p.qi, p.pc) for p in reproduced_pairs} == pairs
            # the exclusions did real work: cases held or managed by an auditor were in the pool
            assert any(e["reason"] in ("holds the case", "manages the case") for e in row.exclusions)
            label = bot.rt.calendar(session).quarter(at).label
        for person in QI + PCS:
            latest = [m for m in fake.dms(person) if buttons(m)][-1]
            assert f"Random sample {label}" in message_text(latest)
            assert [b[0] for b in buttons(latest)] == ["Record sample audit"] * 2
    assert sorted(services) == ["cic", "cin", "cp", "fd"]
    assert fake.problems == []


def test_each_case_holders_team_manager_is_told_who_will_be_in_touch(bot, fake):
    import_cases(bot)
    row = draw_now(bot)
    with bot.rt.db.session() as session:
        row = session.get(SampleDraw, row.id)
        expected = [(c.team_manager.slack_id, c.case_ref, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases]
    for manager, ref, qi, pc in expected:
        text = all_dm_text(fake, manager)
        assert ref in text and f"<@{qi}>" in text and f"<@{pc}>" in text
    qi_channel = "\n".join(message_text(m) for m in fake.messages("C0QI"))
    assert "Random sample drawn" in qi_channel
    assert not any(ref in qi_channel for _, ref, _, _ in expected)
    assert fake.problems == []


def test_report_sample_explain_shows_the_seed_pool_and_every_exclusion(bot, monkeypatch, capsys):
    from bot.app.cli import main

    import_cases(bot)
    row = draw_now(bot, seed=4242)
    with bot.rt.db.session() as session:
        row = session.get(SampleDraw, row.id)
        assert row.seed == 4242
        exclusions = [(e["case_ref"], e["person"], e["reason"]) for e in row.exclusions]
        pool = [c["case_ref"] for c in row.pool]
    monkeypatch.setenv("DATABASE_URL", bot.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--explain"]) == 0
    text = capsys.readouterr().out
    assert "Seed: 4242" in text and "gives the same pairs and cases" in text
    assert all(ref in text for ref in pool)
    assert ("CIC-1014", "U0PC1", "holds the case") in exclusions
    assert ("CIC-1015", "U0QI2", "manages the case") in exclusions
    for ref, person, reason in exclusions:
        assert f"{ref}: {person or 'all auditors'} - {reason}" in text


def test_an_auditor_cannot_see_the_other_grade_before_submitting_even_by_replaying_buttons(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), (other_id, other_ref, _) = pair_cases(bot, "U0QI1")
    qi = "U0QI1"

    # the PC grades first; the Q&I auditor has not
    assert submit_audit(slack, fake, pc, case_id, Grade.REQUIRES_IMPROVEMENT).errors == {}
    assert "Requires improvement" not in all_dm_text(fake, qi)

    # the Q&I auditor forges a moderation button for that case: refused, nothing revealed
    forged = {"channel": f"D{qi}", "ts": "1.000001", "blocks": [{"type": "actions", "block_id": "x", "elements": [
        {"type": "button", "action_id": "sample-record-moderation", "value": str(case_id),
         "text": {"type": "plain_text", "text": "Record moderated grade"}}]}]}
    reply = slack.click(qi, "Record moderated grade", message=forged)
    assert "Record your own blind audit" in (reply.text or "")
    assert "Requires improvement" not in (reply.text or "")
    assert fake.latest_view(qi) is None

    # /qmf sample report shows nothing of a case that is not moderated
    report = slack.command(qi, "/qmf", "sample report")
    assert "0 of 10" in (report.text or "") and "Requires improvement" not in (report.text or "")

    # the PC replays their own old button: told their own grade is locked, no new modal
    dm = next(m for m in fake.dms(pc) if ("Record sample audit", str(case_id)) in buttons(m))
    replay = slack.click(pc, "Record sample audit", message=dm, value=str(case_id))
    assert "already recorded" in (replay.text or "") and "locked" in (replay.text or "")
    assert fake.latest_view(pc) is None

    # now the Q&I auditor submits: both see both grades side by side, with a moderation button
    saved = submit_audit(slack, fake, qi, case_id, Grade.GOOD, feedback=None)
    assert saved.errors == {}
    for person in (qi, pc):
        side_by_side = next(m for m in reversed(fake.dms(person)) if ("Record moderated grade", str(case_id))
                            in buttons(m))
        text = message_text(side_by_side)
        assert "Good" in text and "Requires improvement to be good" in text

    # the Q&I auditor's replay after submitting shows their own grade only
    dm = next(m for m in fake.dms(qi) if ("Record sample audit", str(case_id)) in buttons(m))
    replay = slack.click(qi, "Record sample audit", message=dm, value=str(case_id))
    assert "already recorded" in (replay.text or "")

    # somebody outside the pair cannot moderate
    outsider = slack.click("U0QI2", "Record moderated grade", message=dict(forged, channel="DU0QI2"))
    assert "Only the two auditors" in (outsider.text or "")

    # moderation keeps both originals
    assert moderate(slack, fake, pc, case_id, Grade.REQUIRES_IMPROVEMENT).errors == {}
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        originals = {a.role: Grade(a.grade) for a in case.audits}
        assert originals == {"qi": Grade.GOOD, "pc": Grade.REQUIRES_IMPROVEMENT}
        assert Grade(case.moderation.agreed_grade) is Grade.REQUIRES_IMPROVEMENT
        # Good vs RI crosses the line: flagged for Q&I, and other Q&I people were told
        assert session.scalar(select(SampleFlag).where(SampleFlag.case_id == case_id,
                                                       SampleFlag.kind == "disagreement")) is not None
    assert ref in all_dm_text(fake, "U0QI3") and "need a Q&I eye" in all_dm_text(fake, "U0QI3")
    # a second moderation is refused
    again = slack.click(qi, "Record moderated grade", message=dict(forged, channel=f"D{qi}"))
    assert "already been moderated" in (again.text or "")
    assert other_ref not in all_dm_text(fake, "U0QI3")
    assert fake.problems == []


def test_the_practice_consultant_must_give_service_user_feedback_and_free_text_is_checked(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, _, pc), _ = pair_cases(bot, "U0QI2")
    with pytest.raises(Exception, match="Service-user feedback"):
        submit_audit(slack, fake, pc, case_id, Grade.GOOD, feedback=None)  # Slack's client refuses it
    reply = submit_audit(slack, fake, pc, case_id, Grade.GOOD, feedback="Mum said call her on 07700 900123 anytime")
    assert "phone number" in reply.errors.get("sample-feedback", "")
    with bot.rt.db.session() as session:
        assert session.scalar(select(SampleAudit).where(SampleAudit.case_id == case_id)) is None
    assert fake.problems == []


def test_an_inadequate_grade_alerts_the_managers_at_once_and_opens_an_action(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), _ = pair_cases(bot, "U0QI3")
    qi = "U0QI3"
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        tm, sm = case.team_manager.slack_id, case.service.service_manager.slack_id
    submit_audit(slack, fake, qi, case_id, Grade.INADEQUATE, feedback=None)
    for manager in (tm, sm):
        assert "Inadequate" in all_dm_text(fake, manager) and ref in all_dm_text(fake, manager)
    assert "Inadequate" not in all_dm_text(fake, pc)  # the PC has not submitted: still blind
    submit_audit(slack, fake, pc, case_id, Grade.REQUIRES_IMPROVEMENT)
    moderate(slack, fake, qi, case_id, Grade.INADEQUATE)
    with bot.rt.db.session() as session:
        action = session.scalar(select(Action).where(Action.source_kind == "random_sample",
                                                     Action.source_id == case_id))
        assert action is not None and action.owner.slack_id == tm
        assert action.description == f"Agree an improvement plan for {ref} after an Inadequate sample audit"
        calendar = bot.rt.calendar(session)
        assert action.due_on == calendar.add_working_days(calendar.today(bot.rt.now()), 20)
        assert session.scalar(select(SampleFlag).where(SampleFlag.case_id == case_id,
                                                       SampleFlag.kind == "inadequate_agreed")) is not None
    assert "improvement plan" in all_dm_text(fake, tm)
    assert fake.problems == []


def _grades_plan() -> list[tuple[Grade, Grade, Grade]]:
    g = Grade
    return [(g.GOOD, g.GOOD, g.GOOD), (g.OUTSTANDING, g.GOOD, g.OUTSTANDING), (g.GOOD, g.REQUIRES_IMPROVEMENT, g.GOOD),
            (g.REQUIRES_IMPROVEMENT, g.REQUIRES_IMPROVEMENT, g.REQUIRES_IMPROVEMENT),
            (g.INADEQUATE, g.REQUIRES_IMPROVEMENT, g.INADEQUATE), (g.GOOD, g.INADEQUATE, g.REQUIRES_IMPROVEMENT),
            (g.OUTSTANDING, g.OUTSTANDING, g.OUTSTANDING), (g.REQUIRES_IMPROVEMENT, g.GOOD, g.REQUIRES_IMPROVEMENT),
            (g.GOOD, g.GOOD, g.GOOD), (g.REQUIRES_IMPROVEMENT, g.INADEQUATE, g.REQUIRES_IMPROVEMENT)]


def test_the_report_figures_match_the_grades_and_it_is_posted_when_the_sample_is_complete(
        bot, slack, fake, tmp_path, monkeypatch):
    import_cases(bot)
    draw_now(bot)
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        cases = [(c.id, c.case_ref, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases]
    plan = _grades_plan()
    assert len(cases) == len(plan)
    for n, ((case_id, _, qi, pc), (a, b, agreed)) in enumerate(zip(cases, plan, strict=True)):
        note = f"Case study {n}: persistent direct work changed the plan." if n % 3 == 0 else None
        assert submit_audit(slack, fake, qi, case_id, a, feedback=None, case_study=note).errors == {}
        assert submit_audit(slack, fake, pc, case_id, b).errors == {}
        if n < len(plan) - 1:
            assert moderate(slack, fake, qi, case_id, agreed).errors == {}
    assert not fake.messages("C0QI")[1:], "the report must wait for the last moderation"
    case_id, _, qi, _ = cases[-1]
    moderate(slack, fake, qi, case_id, plan[-1][2])

    expected = sample_stats(plan)
    posts = fake.messages("C0QI")
    report = next(m for m in posts if "Random sample 2026-27 Q1" in message_text(m) and "Headlines" in
                  message_text(m))
    text = message_text(report)
    # the channel's copy follows the one small-count rule: counts under 5 withheld, shares only of shown parts
    shown = SmallCounts(5)
    assert f"{expected.pct_good_or_better:g}% good or better" in text.replace(".0%", "%")
    assert expected.by_grade[Grade.INADEQUATE] < 5 and "inadequate" not in text.split("Headlines")[1][:200]
    for grade in Grade:
        assert f"{grade.label}: {shown.count(expected.by_grade[grade]) if expected.by_grade[grade] else 0}" in text
    assert f"{shown.count(expected.moderated_up)} case(s) to a better grade" in text
    assert f"{shown.count(expected.moderated_down)} to a worse grade" in text
    flagged = sum(needs_qi_attention(a, b) is not None for a, b, _ in plan)
    assert f"{shown.count(flagged)} case(s) flagged" in text
    assert "Management oversight and supervision: 10" in text
    assert "Case study 0: persistent direct work" in text
    assert not any(ref in text for _, ref, _, _ in cases), "no case references in the channel"
    assert any(f["channel_id"] == "C0QI" and f["filename"].endswith(".png") for f in fake.files)
    assert any(f["content"][:8] == b"\x89PNG\r\n\x1a\n" for f in fake.files)

    # /qmf sample report gives the same figures to Q&I and the DLT, and refuses everyone else
    for person in ("U0QI4", "U0DLT1"):
        ephemeral = slack.command(person, "/qmf", "sample report").text or ""
        assert f"{expected.pct_good_or_better:g}% good or better" in ephemeral.replace(".0%", "%")
    assert "Quality & Improvement" in (slack.command("U0TM1", "/qmf", "sample report").text or "")

    # the export: XLSX opens with openpyxl and has the same figures; CSV and Markdown too
    from bot.app.cli import main

    monkeypatch.setenv("DATABASE_URL", bot.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    out = tmp_path / "sample.xlsx"
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--format", "xlsx", "--output", str(out)]) == 0
    book = load_workbook(out)
    grades = {r[0]: r[1] for r in book["Grades"].iter_rows(min_row=2, values_only=True)}
    assert grades == {g.label: expected.by_grade[g] for g in Grade}
    summary = {(r[0], r[1]): r[2] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary[("Headlines", "% good or better")] == expected.pct_good_or_better
    assert summary[("Agreement before moderation", "% exact")] == expected.exact_agreement_pct
    assert summary[("Agreement before moderation", "% within one grade")] == expected.within_one_pct
    assert len(list(book["Sampled cases"].iter_rows(min_row=2))) == 10
    csv_out = tmp_path / "sample.csv"
    assert main(["report", "sample", "--quarter", "2026-27Q1", "--format", "csv", "--output", str(csv_out)]) == 0
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(csv_out.read_text()))}
    assert rows[("Headlines", "% inadequate")] == f"{expected.pct_inadequate:.1f}"
    with bot.rt.db.session() as session:
        exports = session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity == "sample_report",
                                                              AuditLogEntry.action == "export")).all()
        assert len(exports) >= 3  # the channel post and the two CLI exports
    assert fake.problems == []


def test_qi_can_choose_the_service_before_the_draw_and_nobody_else_can(bot, slack, fake):
    import_cases(bot)
    bot.set_time(london(2026, 3, 30, 12, 0))  # before the quarter starts: 2025-26 Q4 has no draw yet
    refused = slack.command("U0SM1", "/qmf", "sample service cp")
    assert "Only Quality & Improvement" in (refused.text or "")
    bot.set_time(london(2026, 4, 1, 8, 0))
    reply = slack.command("U0QI1", "/qmf", "sample service fd")
    assert "2026-27 Q1" in (reply.text or "") and "Front Door" in (reply.text or "")
    unknown = slack.command("U0QI1", "/qmf", "sample service nope")
    assert "no service `nope`" in (unknown.text or "")
    row = draw_now(bot)
    with bot.rt.db.session() as session:
        row = session.get(SampleDraw, row.id)
        assert row.service.key == "fd" and row.service_reason == "chosen by Q&I"
    # after the draw, a choice is for next quarter, and it must differ from this quarter's service
    again = slack.command("U0QI1", "/qmf", "sample service fd")
    assert "different service" in (again.text or "")
    assert "2026-27 Q2" in (slack.command("U0QI1", "/qmf", "sample service cic").text or "")
    assert fake.problems == []


def test_reminders_go_five_and_one_working_days_before_the_quarter_ends(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), _ = pair_cases(bot, "U0QI4")
    submit_audit(slack, fake, pc, case_id, Grade.GOOD)
    with bot.rt.db.session() as session:
        due = latest_draw(session).due_on
        calendar = bot.rt.calendar(session)
        five, one = calendar.add_working_days(due, -5), calendar.add_working_days(due, -1)
        six = calendar.add_working_days(due, -6)
    before = len(fake.dms("U0QI4"))
    bot.run_job("send-reminders", at=london(six.year, six.month, six.day, 9, 30))
    assert len(fake.dms("U0QI4")) == before
    bot.run_job("send-reminders", at=london(five.year, five.month, five.day, 9, 30))
    reminder = fake.dms("U0QI4")[-1]
    assert "closes in 5 working days" in message_text(reminder) and ref in message_text(reminder)
    assert ("Record sample audit", str(case_id)) in buttons(reminder)
    pc_reminders = [m for m in fake.dms(pc) if "closes in 5 working days" in message_text(m)]
    assert len(pc_reminders) == 1  # for their other case only: this one's audit is in
    assert ("Record sample audit", str(case_id)) not in buttons(pc_reminders[0])
    bot.run_job("send-reminders", at=london(one.year, one.month, one.day, 9, 30))
    assert "closes tomorrow" in message_text(fake.dms("U0QI4")[-1])
    assert fake.problems == []


def test_app_home_todo_lists_the_audit_then_the_moderation(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), _ = pair_cases(bot, "U0QI5")
    with bot.rt.db.session() as session:
        todos = todo_for(session, "U0QI5", london(2026, 4, 1).date())
        assert [(t.kind, t.button_label) for t in todos] == [("sample_audit", "Record sample audit")] * 2
    submit_audit(slack, fake, "U0QI5", case_id, Grade.GOOD, feedback=None)
    submit_audit(slack, fake, pc, case_id, Grade.GOOD)
    with bot.rt.db.session() as session:
        kinds = {t.value: t.kind for t in todo_for(session, "U0QI5", london(2026, 4, 1).date())}
        assert kinds[str(case_id)] == "moderation"
        lines = digest_lines(session, london(2026, 4, 1).date(), london(2026, 4, 30).date())
    assert lines and "Random sample 2026-27 Q1" in lines[0] and ref not in " ".join(lines)


def test_the_audit_can_be_started_from_app_home(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, _), _ = pair_cases(bot, "U0QI2")
    slack.open_home("U0QI2")
    slack.click("U0QI2", "Record sample audit", home=True, value=str(case_id))
    view = fake.latest_view("U0QI2")
    assert view is not None and view["title"]["text"] == "Sample audit" and ref in message_text(view)
    assert fake.problems == []


def test_a_refusal_from_app_home_is_told_in_a_notice_modal_not_by_dm(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, _), _ = pair_cases(bot, "U0QI2")
    slack.open_home("U0QI2")
    stale_home = fake.home("U0QI2")
    submit_audit(slack, fake, "U0QI2", case_id, Grade.GOOD, feedback=None)
    dms_before = len(fake.dms("U0QI2"))
    slack.click("U0QI2", "Record sample audit", view=stale_home, value=str(case_id))  # Home not yet refreshed
    notice = fake.latest_view("U0QI2")
    assert notice is not None and notice["title"]["text"] == "Random sample"
    assert f"You have already recorded your audit of {ref}" in message_text(notice)
    assert len(fake.dms("U0QI2")) == dms_before
    assert fake.problems == []
