"""`qmf-bot report sample`: the quarter's random-sample report as Markdown, CSV or XLSX, or the draw's
explanation (seed, pool snapshot, every exclusion) with ``--explain``.

The figures are the ones the Q&I channel gets (``bot.sampling.results.build_report``: moderated cases only).
Exports are for Q&I, so they add a table of the sampled cases by reference; even there a blind grade
is shown only once both auditors of the case have submitted.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from bot.core.grades import Grade
from bot.core.policy import Policy
from bot.core.privacy import safe_cell, xlsx_append
from bot.sampling.report_messages import report_lines
from bot.sampling.service import draw_for, latest_draw, quarter_of
from bot.sampling.types import CaseRow, SampleReport
from storage.models.sampling import SampleDraw

CASE_COLUMNS = ("Case", "Team", "Q&I auditor", "Q&I grade", "Practice Consultant", "PC grade", "Agreed grade",
                "Status")


def _grade(g: Grade | None) -> str:
    return g.label if g is not None else ""


def _agreed(row: CaseRow) -> str:
    """The grade of record; a Q&I correction says what the pair had agreed."""
    if row.agreed is not None and row.corrected_from is not None:
        return f"{row.agreed.label} (corrected from {row.corrected_from.label})"
    return _grade(row.agreed)


def _status(row: CaseRow) -> str:
    if row.agreed is not None:
        return "moderated, grade corrected" if row.corrected_from is not None else "moderated"
    if row.qi_grade is not None and row.pc_grade is not None:
        return "awaiting moderation"
    return "awaiting blind audits"


def case_table(report: SampleReport) -> list[list[str]]:
    return [[r.case_ref, r.team, r.qi, _grade(r.qi_grade), r.pc, _grade(r.pc_grade), _agreed(r), _status(r)]
            for r in report.cases]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: SampleReport, *, include_cases: bool = True) -> str:
    v = report.view
    lines = [f"# Random sample {v.quarter_label}: {v.service}", ""]
    if not report.complete:
        lines += ["_Only cases with a moderated grade are counted; the sample is not complete yet._", ""]
    sections = report_lines(v)
    for name, items in sections.items():
        lines += [f"## {name}", ""]
        if name == "Grades (agreed)":
            lines += ["| Grade | Cases |", "|---|---:|"] + [f"| {g.label} | {v.by_grade.get(g, 0)} |" for g in Grade]
        elif name == "Grades by section of practice (agreed)" and any(f.by_grade for f in v.sections):
            lines += ["| Section | " + " | ".join(g.label for g in Grade) + " |", "|---|" + "---:|" * len(Grade)]
            lines += [f"| {_md_escape(f.section)} | " + " | ".join(str(f.by_grade.get(g, 0)) for g in Grade) + " |"
                      for f in v.sections]
            if v.not_by_section:
                lines += ["", f"{v.not_by_section} moderated case(s) recorded before sections of practice: not "
                              "graded by section."]
        elif name == "Agreement by section before moderation" and any(f.pairs for f in v.sections):
            lines += ["| Section | Both blind grades | Matched | % matched |", "|---|---:|---:|---:|"]
            lines += [f"| {_md_escape(f.section)} | {f.pairs} | {f.matched} | {_pct(f.matched, f.pairs)} |"
                      for f in v.sections]
        elif name == "Themes for further exploration" and v.themes:
            lines += ["| Theme | Cases |", "|---|---:|"] + [f"| {_md_escape(t)} | {n} |" for t, n in v.themes]
        elif name == "Case studies" and v.case_studies:
            for note in v.case_studies:
                lines += ["\n".join(f"> {line}" for line in note.splitlines()), ""]
            continue
        else:
            lines += [f"- {item}" for item in items]
        lines.append("")
    if include_cases:
        lines += ["## Sampled cases (Q&I only)", "", "| " + " | ".join(CASE_COLUMNS) + " |",
                  "|" + "---|" * len(CASE_COLUMNS)]
        lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in case_table(report)]
        lines.append("")
    return "\n".join(lines)


def _pct(part: int, total: int) -> str:
    return f"{100 * part / total:.1f}" if total else ""


SECTION_COLUMNS = ("Section", *(g.label for g in Grade), "Cases with both blind grades", "Blind grades matched",
                   "% matched")


def section_table(report: SampleReport) -> list[list[int | float | str]]:
    """One row a section of practice: agreed grades counted, then agreement before moderation."""
    return [[f.section, *(f.by_grade.get(g, 0) for g in Grade), f.pairs, f.matched,
             round(100 * f.matched / f.pairs, 1) if f.pairs else ""] for f in report.view.sections]


def summary_rows(report: SampleReport) -> list[tuple[str, str, str]]:
    """(section, item, value): the report's figures in one long table for CSV and the XLSX summary."""
    v = report.view
    rows: list[tuple[str, str, str]] = [
        ("Report", "Quarter", v.quarter_label), ("Report", "Service", v.service),
        ("Headlines", "Cases sampled", str(v.total_cases)), ("Headlines", "Cases moderated", str(v.moderated)),
        ("Headlines", "% good or better", f"{v.pct_good_or_better:.1f}"),
        ("Headlines", "% inadequate", f"{v.pct_inadequate:.1f}"),
    ]
    rows += [("Grades (agreed)", g.label, str(v.by_grade.get(g, 0))) for g in Grade]
    rows += [("Agreement before moderation", "Cases with both blind grades", str(v.pairs)),
             ("Agreement before moderation", "% exact", f"{v.exact_agreement_pct:.1f}"),
             ("Agreement before moderation", "% within one grade", f"{v.within_one_pct:.1f}"),
             ("Moderation", "Moved to a better grade", str(v.moved_up)),
             ("Moderation", "Moved to a worse grade", str(v.moved_down)),
             ("Moderation", "In line with the blind grades", str(v.moved_same)),
             ("Moderation", "Flagged for Q&I", str(v.flags)),
             ("Moderation", "Agreed grades corrected by Q&I", str(v.corrected))]
    for f in v.sections:
        rows += [("Grades by section of practice (agreed)", f"{f.section}: {g.label}", str(f.by_grade.get(g, 0)))
                 for g in Grade]
    rows += [("Grades by section of practice (agreed)", "Moderated cases not graded by section",
              str(v.not_by_section))]
    for f in v.sections:
        rows += [("Agreement by section before moderation", f"{f.section}: cases with both blind grades", str(f.pairs)),
                 ("Agreement by section before moderation", f"{f.section}: blind grades matched", str(f.matched))]
    rows += [("Themes for further exploration", theme, str(n)) for theme, n in v.themes]
    rows += [("Case studies", str(i), note) for i, note in enumerate(v.case_studies, start=1)]
    return rows


def render_csv(report: SampleReport, *, include_cases: bool = True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "value"])
    writer.writerows([safe_cell(c) for c in row] for row in summary_rows(report))
    if include_cases:
        for row in case_table(report):
            detail = "; ".join(f"{name}: {value}" for name, value in zip(CASE_COLUMNS[1:], row[1:], strict=True)
                               if value)
            writer.writerow([safe_cell(c) for c in ("Sampled cases", row[0], detail)])
    return out.getvalue()


def write_xlsx(report: SampleReport, path: Path, *, include_cases: bool = True) -> None:
    v = report.view
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    xlsx_append(summary, ["Section", "Item", "Value"])
    for section, item, value in summary_rows(report):
        number: float | str = value
        with contextlib.suppress(ValueError):  # figures as numbers, so the sheet can sum them
            number = float(value) if "." in value else int(value)
        xlsx_append(summary, [section, item, number])
    grades = book.create_sheet("Grades")
    xlsx_append(grades, ["Grade", "Cases (agreed)"])
    for g in Grade:
        xlsx_append(grades, [g.label, v.by_grade.get(g, 0)])
    chart = BarChart()
    chart.title = f"Random sample {v.quarter_label}: agreed grades"
    chart.add_data(Reference(grades, min_col=2, min_row=1, max_row=1 + len(Grade)), titles_from_data=True)
    chart.set_categories(Reference(grades, min_col=1, min_row=2, max_row=1 + len(Grade)))
    grades.add_chart(chart, "D2")
    by_section = book.create_sheet("Sections")
    xlsx_append(by_section, list(SECTION_COLUMNS))
    for section_row in section_table(report):
        xlsx_append(by_section, section_row)
    if v.not_by_section:
        xlsx_append(by_section, [f"{v.not_by_section} moderated case(s) recorded before sections of practice: "
                                 "not graded by section"])
    themes = book.create_sheet("Themes")
    xlsx_append(themes, ["Theme", "Cases"])
    for theme, n in v.themes:
        xlsx_append(themes, [theme, n])
    studies = book.create_sheet("Case studies")
    xlsx_append(studies, ["Anonymised note"])
    for note in v.case_studies:
        xlsx_append(studies, [note])
    if include_cases:
        cases = book.create_sheet("Sampled cases")
        xlsx_append(cases, list(CASE_COLUMNS))
        for row in case_table(report):
            xlsx_append(cases, row)
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(max(12, width + 2), 80)
            for c in column:
                c.alignment = Alignment(wrap_text=True, vertical="top")
    book.save(path)


def pick_draw(session: Session, quarter: str | None, policy: Policy, current_key: str) -> SampleDraw:
    """The quarter's draw (the current one, else the latest); LookupError says what is missing."""
    if quarter:
        try:
            key = quarter_of(quarter, policy).key
        except ValueError as exc:
            raise LookupError(str(exc)) from None
        row = draw_for(session, key)
        if row is None:
            raise LookupError(f"there is no random sample for {quarter}")
        return row
    row = draw_for(session, current_key) or latest_draw(session)
    if row is None:
        raise LookupError("no random sample has been drawn yet")
    return row


def write_text(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"Written to {output}.")
