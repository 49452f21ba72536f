"""The year for the Board: a rolling four-quarter view gathered from every feature.

Each feature that has something to say about the year gives a ``YearSource`` in the registry
(``bot.app.features.FEATURES``, ``year=``); this module asks them through the list it is handed
(``rt.features.year_sources()``), so no feature imports another. The tables are written as
Markdown, CSV or Excel here, once, for both doors (``qmf-bot report year`` and
``/qmf report year``). Counts reach the Board, so sources write them with the one small-count
rule (``bot.core.privacy.SmallCounts``) before they get here; cells are guarded against formula
injection by ``safe_cell`` / ``xlsx_append``."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from bot.core.calendar import Quarter
from bot.core.privacy import SmallCounts, safe_cell, xlsx_append

Cell = str | int


@dataclass(frozen=True)
class YearTable:
    """One table of the year: a title, its columns and rows, and a note under it."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    note: str = ""
    order: int = 50
    """Where the table reads in the report (grades 10, themes 20, actions 30), whatever the registry's order."""


YearSource = Callable[[Session, Sequence[Quarter], date, SmallCounts], list[YearTable]]
"""(session, the four quarters oldest first, today, how counts are written) -> the feature's tables."""


@dataclass(frozen=True)
class YearReport:
    quarters: tuple[Quarter, ...]
    tables: list[YearTable]
    threshold: int

    @property
    def label(self) -> str:
        return f"{self.quarters[0].label} to {self.quarters[-1].label}"


def last_four(current: Quarter) -> tuple[Quarter, ...]:
    """The rolling year: the three quarters before ``current`` and ``current`` itself, oldest first."""
    return tuple(current.shift(n) for n in (-3, -2, -1, 0))


def build_year(session: Session, sources: Sequence[YearSource], current: Quarter, today: date,
               threshold: int) -> YearReport:
    quarters = last_four(current)
    shown = SmallCounts(threshold, suppress=True)  # the Board's report: small counts withheld
    tables = [table for source in sources for table in source(session, quarters, today, shown)]
    tables.sort(key=lambda t: t.order)
    return YearReport(quarters=quarters, tables=tables, threshold=threshold)


def _about(report: YearReport) -> str:
    return (f"Counts under {report.threshold} are shown as <{report.threshold}. "
            "No case references or names.")


def _md(value: Cell) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: YearReport) -> str:
    out = [f"# The year: {report.label}", "", _about(report), ""]
    for table in report.tables:
        out += [f"## {table.title}", ""]
        if table.rows:
            out.append("| " + " | ".join(_md(c) for c in table.columns) + " |")
            out.append("|" + "---|" * len(table.columns))
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows]
        else:
            out.append("Nothing recorded in these quarters.")
        if table.note:
            out += ["", table.note]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_csv(report: YearReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["Table", "Values"])
    for table in report.tables:
        writer.writerow([safe_cell(table.title), *(safe_cell(c) for c in table.columns)])
        for row in table.rows:
            writer.writerow([safe_cell(table.title), *(safe_cell(c) for c in row)])
    writer.writerow(["About", _about(report)])
    return buf.getvalue()


def xlsx_bytes(report: YearReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for n, table in enumerate(report.tables, 1):
        title = "".join(ch for ch in table.title if ch not in "[]:*?/\\")[:28] or f"Table {n}"
        sheet = book.create_sheet(title if title not in book.sheetnames else f"{title[:25]} {n}")
        xlsx_append(sheet, list(table.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            xlsx_append(sheet, [int(c) if isinstance(c, int) else c for c in row])
        if table.note:
            sheet.append([])
            xlsx_append(sheet, [table.note])
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(max(12, width + 2), 60)
    about = book.create_sheet("About")
    xlsx_append(about, [f"The year: {report.label}"])
    xlsx_append(about, [_about(report)])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
