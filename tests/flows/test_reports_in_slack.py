"""Reports where people look (#17 items 1 and 5): `/qmf report sample|themes|year` and App Home's
report buttons upload the file into the asker's DM with QMF Bot (files_upload_v2 through the
outbox), for the people allowed to have it, audit-logged; `qmf-bot report year` gives the Board's
rolling four quarters from the same builder, small counts withheld."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.core.grades import Grade
from storage.models import LearningRound
from storage.models.ops import AuditLogEntry
from tests.flows.test_sampling_flow import draw_now, import_cases, moderate, submit_audit
from tests.unit.test_themes import ASSESS, MULTI, Q1, RISK, VOICE, seed_standard_quarter

QI, DLT, ADMIN, SM_CIC, TM = "U0QI1", "U0DLT1", "U0ADM1", "U0SM1", "U0TM1"


def files_to(fake: Any, user: str) -> list[dict[str, Any]]:
    """The files uploaded into the person's DM with the bot (the D... id conversations.open gives)."""
    return [f for f in fake.files if f["channel_id"] == f"D{user}"]


def exports(bot: Any, actor: str) -> list[AuditLogEntry]:
    with bot.rt.db.session() as session:
        rows = session.scalars(select(AuditLogEntry).where(AuditLogEntry.actor == actor,
                                                           AuditLogEntry.action == "export")).all()
        session.expunge_all()
    return list(rows)


def moderate_cases(bot: Any, slack: Any, fake: Any, grades: list[Grade]) -> None:
    """Blind-grade and moderate the first cases of the draw, each agreed at the grade given."""
    from bot.sampling.service import latest_draw

    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None
        cases = [(c.id, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases]
    for (case_id, qi, pc), grade in zip(cases, grades, strict=False):
        assert submit_audit(slack, fake, qi, case_id, grade).errors == {}
        assert submit_audit(slack, fake, pc, case_id, grade).errors == {}
        assert moderate(slack, fake, qi, case_id, grade).errors == {}


@pytest.fixture
def sampled(bot, slack, fake):  # type: ignore[no-untyped-def]
    """A Q1 draw with six cases agreed Good and one Requires improvement."""
    import_cases(bot)
    draw_now(bot)
    moderate_cases(bot, slack, fake, [Grade.GOOD] * 6 + [Grade.REQUIRES_IMPROVEMENT])
    return bot


@pytest.fixture
def themed(bot):  # type: ignore[no-untyped-def]
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
        seed_standard_quarter(session)
    return bot


def test_qi_gets_the_sample_report_as_xlsx_in_their_dm_and_it_opens(sampled, slack, fake):
    reply = slack.command(QI, "/qmf", "report sample")
    assert "On its way" in (reply.text or "") and "random-sample report for 2026-27 Q1" in (reply.text or "")
    [sent] = files_to(fake, QI)
    assert sent["filename"] == "random-sample-2026-27Q1.xlsx"
    book = load_workbook(io.BytesIO(sent["content"]))
    grades = {r[0]: r[1] for r in book["Grades"].iter_rows(min_row=2, values_only=True)}
    assert grades[Grade.GOOD.label] == 6 and grades[Grade.REQUIRES_IMPROVEMENT.label] == 1
    assert "Here is the random-sample report" in (sent["initial_comment"] or "")
    [entry] = exports(sampled, QI)
    assert (entry.entity, entry.entity_id) == ("sample_report", "2026-27Q1")
    assert entry.detail and entry.detail["format"] == "xlsx"
    assert fake.problems == []


def test_csv_and_md_in_any_order_with_a_quarter_typed_as_people_write_it(sampled, slack, fake):
    slack.command(DLT, "/qmf", "report sample csv 2026-27 Q1")
    slack.command(ADMIN, "/qmf", "report sample md 2026-27Q1")
    [as_csv] = files_to(fake, DLT)
    rows = list(csv.reader(io.StringIO(as_csv["content"].decode("utf-8"))))
    assert as_csv["filename"].endswith(".csv") and rows[0][:2] == ["section", "item"]
    [as_md] = files_to(fake, ADMIN)
    assert as_md["filename"].endswith(".md") and as_md["content"].decode().startswith("#")
    assert [e.detail["format"] for e in exports(sampled, DLT) + exports(sampled, ADMIN)] == ["csv", "md"]


@pytest.mark.parametrize(("user", "text", "says"), [
    (TM, "report sample", "Quality & Improvement"),
    (SM_CIC, "report sample", "Quality & Improvement"),
    (TM, "report year", "Quality & Improvement"),
    (TM, "report themes", "each Service Manager for their own service"),
    (SM_CIC, "report themes all", "`/qmf report themes cic`"),
    (SM_CIC, "report themes cp", "`/qmf report themes cic`"),
    (QI, "report sample pdf", "xlsx (the default), csv and md"),
    (QI, "report sample 2026-Q9", "2026-27 Q1"),
    (QI, "report themes nowhere", "`cic`"),
    (QI, "report year 2026-27Q1", "only a format"),
    (QI, "report", "`/qmf report year [xlsx|csv|md]`"),
    (QI, "report sample xlsx csv", "One format at a time"),
])
def test_refusals_and_bad_words_are_answered_ephemerally_and_nothing_is_sent(sampled, slack, fake, user, text, says):
    before = len(fake.files)
    reply = slack.command(user, "/qmf", text)
    assert says in (reply.text or ""), reply.text
    assert reply.text and "Traceback" not in reply.text
    assert len(fake.files) == before
    assert exports(sampled, user) == []


def test_a_service_manager_gets_their_own_services_themes_with_small_counts_withheld(themed, slack, fake):
    slack.command(SM_CIC, "/qmf", "report themes 2026-27Q1 csv")
    [sent] = files_to(fake, SM_CIC)
    assert sent["filename"] == "learning-themes-2026-27Q1-cic.csv"
    text = sent["content"].decode("utf-8")
    assert RISK in text and "<5" in text  # Assessment raised by 3 of 8 audits: withheld
    [entry] = exports(themed, SM_CIC)
    assert entry.entity == "learning_themes" and entry.detail == {"service": "cic", "format": "csv", "door": "slack"}


def test_qi_gets_all_services_themes_as_xlsx_that_opens(themed, slack, fake):
    slack.command(QI, "/qmf", "report themes all 2026-27Q1")
    [sent] = files_to(fake, QI)
    book = load_workbook(io.BytesIO(sent["content"]))
    cells = [c for row in book["Learning themes"].iter_rows(values_only=True) for c in row if c is not None]
    assert RISK in cells and VOICE in cells


def test_the_year_in_slack_and_on_the_command_line_is_the_same_and_withholds_small_counts(
        sampled, slack, fake, tmp_path, monkeypatch):
    with sampled.rt.db.session() as session:
        seed_standard_quarter(session)
    slack.command(QI, "/qmf", "report year")
    [sent] = files_to(fake, QI)
    assert sent["filename"] == "qmf-year-2026-27Q1.xlsx"
    book = load_workbook(io.BytesIO(sent["content"]))
    grades = list(book["Random sample grades"].iter_rows(values_only=True))
    header, rows = grades[0], {r[0]: r for r in grades[1:] if r and r[1]}  # the note has one cell
    assert [r for r in rows] == ["2025-26 Q2", "2025-26 Q3", "2025-26 Q4", "2026-27 Q1"]
    q1 = dict(zip(header, rows["2026-27 Q1"], strict=True))
    assert q1["Service"] == "Children in Care" and q1["Moderated"] == "7"
    assert q1[Grade.GOOD.label] == "6" and q1[Grade.REQUIRES_IMPROVEMENT.label] == "<5"  # 1 case: withheld
    assert q1[Grade.INADEQUATE.label] == "0"
    themes = {(r[0], r[2]): r[3] for r in book["Learning themes"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert themes[("2026-27 Q1", RISK)] == "9"  # 7 in Children in Care and 2 in Child Protection
    assert themes[("2026-27 Q1", VOICE)] == "8"
    assert themes[("2026-27 Q1", MULTI)] == "<5" and themes[("2025-26 Q4", ASSESS)] == "<5"
    assert "Actions" in book.sheetnames

    from bot.app.cli import main

    monkeypatch.setenv("DATABASE_URL", sampled.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    out = tmp_path / "year.md"
    assert main(["report", "year", "--format", "md", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "# The year:" in text and "Counts under 5 are shown as <5" in text
    with sampled.rt.db.session() as session:
        cli = session.scalars(select(AuditLogEntry).where(AuditLogEntry.actor == "cli",
                                                          AuditLogEntry.entity == "year_report")).all()
        assert len(cli) == 1 and cli[0].detail["format"] == "md"
    assert [e.entity for e in exports(sampled, QI)] == ["year_report"]


def test_the_cli_year_needs_an_output_for_xlsx_and_has_help(bot, monkeypatch, capsys, tmp_path):
    from bot.app.cli import main

    monkeypatch.setenv("DATABASE_URL", bot.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["report", "year", "--format", "xlsx"]) != 0
    assert "--output" in capsys.readouterr().err
    out = tmp_path / "year.xlsx"
    assert main(["report", "year", "--format", "xlsx", "--output", str(out)]) == 0
    assert {"Random sample grades", "Learning themes", "Actions", "About"} <= set(load_workbook(out).sheetnames)
    with pytest.raises(SystemExit):
        main(["report", "year", "--help"])
    assert "four quarters" in capsys.readouterr().out


def test_app_home_offers_the_reports_as_buttons_to_those_allowed_and_they_send_the_file(sampled, slack, fake):
    slack.open_home(QI)
    labels = {e["text"]["text"] for b in fake.home(QI)["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert {"Random-sample report (xlsx)", "Learning themes report (xlsx)", "Year report (xlsx)"} <= labels
    slack.click(QI, "Random-sample report (xlsx)", home=True)
    [sent] = files_to(fake, QI)
    assert load_workbook(io.BytesIO(sent["content"]))["Grades"]["B1"].value == "Cases (agreed)"
    assert "On its way" in str(fake.latest_view(QI))
    assert [e.entity for e in exports(sampled, QI)] == ["sample_report"]

    slack.open_home(SM_CIC)
    labels = {e["text"]["text"] for b in fake.home(SM_CIC)["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert "Learning themes report (xlsx)" in labels and "Random-sample report (xlsx)" not in labels
    slack.open_home(TM)
    labels = {e["text"]["text"] for b in fake.home(TM)["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert not any("report (xlsx)" in label for label in labels)


def test_a_forged_home_button_is_refused_on_the_server(sampled, slack, fake):
    forged = {"id": "VFORGED", "type": "home", "blocks": [{"type": "actions", "block_id": "x", "elements": [
        {"type": "button", "action_id": "home-report-year", "value": "year",
         "text": {"type": "plain_text", "text": "Year report (xlsx)"}}]}]}
    slack.click(TM, "Year report (xlsx)", view=forged)
    assert files_to(fake, TM) == [] and exports(sampled, TM) == []
    assert "Quality & Improvement" in str(fake.latest_view(TM))


def test_help_lists_the_report_commands_exactly_as_spelt(bot, slack):
    text = slack.command(QI, "/qmf", "help").text or ""
    for spelt in ("`/qmf report sample [QUARTER] [xlsx|csv|md]`",
                  "`/qmf report themes [SERVICE|all] [QUARTER] [xlsx|csv|md]`",
                  "`/qmf report year [xlsx|csv|md]`"):
        assert spelt in text


def test_messages_no_longer_send_people_to_a_command_line() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for name in ("bot/sampling/messages.py", "handlers/themes.py"):
        assert "qmf-bot report" not in (root / name).read_text(encoding="utf-8"), name


def test_the_draws_explanation_comes_to_qi_in_slack_as_the_draw_message_says(bot, slack, fake):
    import_cases(bot)
    draw_now(bot, seed=4242)
    assert "Quality & Improvement" in (slack.command(TM, "/qmf", "report sample explain").text or "")
    slack.command(QI, "/qmf", "report sample explain")
    [sent] = files_to(fake, QI)
    assert sent["filename"] == "random-sample-2026-27Q1-explanation.txt"
    assert "Seed: 4242" in sent["content"].decode("utf-8")
    with bot.rt.db.session() as session:
        viewed = session.scalars(select(AuditLogEntry).where(AuditLogEntry.actor == QI,
                                                             AuditLogEntry.entity == "sample_draw")).all()
        assert [v.action for v in viewed] == ["view"]
