"""`qmf-bot report themes`: a quarter's learning themes as Markdown, CSV or Excel.

Exports leave the bot, so they follow the channel rules: counts under the suppression threshold
are written "<5", and no case reference or person appears (the learning points are the same
checked, anonymised text the channel post uses).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from bot.core import directory
from bot.core.calendar import Quarter
from bot.core.privacy import SmallCounts, safe_cell, xlsx_append
from bot.themes.collation import collate
from bot.themes.content import arrow
from bot.themes.types import KINDS, UNTHEMED, Collation

CSV_COLUMNS = ("service", "quarter", "section", "theme", "this_quarter", "last_quarter", "average_last_four",
               "direction", "text", "last_four_quarters")
SECTION_WORDS = {"improve": "area to improve", "good": "good practice"}


@dataclass(frozen=True)
class Row:
    service: str
    quarter: str
    section: str
    theme: str = ""
    this_quarter: str = ""
    last_quarter: str = ""
    average_last_four: str = ""
    direction: str = ""
    text: str = ""
    last_four_quarters: str = ""  # this quarter and the three before, added up

    def values(self) -> list[str]:
        return [getattr(self, c) for c in CSV_COLUMNS]


def report_rows(collations: list[Collation], shown: SmallCounts) -> list[Row]:
    """One flat table for CSV and Excel: theme counts, learning points, wider learning, actions."""
    rows: list[Row] = []
    for col in collations:
        base = {"service": col.scope_name, "quarter": col.quarter.label}
        rows.append(Row(**base, section="learning audits recorded", this_quarter=shown.export(col.audits_recorded),
                        last_quarter=shown.export(col.audits_previous),
                        last_four_quarters=shown.export(col.rolling.audits) if col.rolling else ""))
        for kind in KINDS:
            year = _rolling(col, kind)
            for c in col.counts(kind):
                average = shown.average(c.average_last_four)
                rows.append(Row(
                    **base, section=f"theme: {SECTION_WORDS[kind]}", theme=c.theme,
                    this_quarter=shown.export(c.count), last_quarter=shown.export(c.previous),
                    average_last_four=("<" + str(shown.threshold)) if average and average.startswith("fewer")
                    else (average or ""),
                    direction=arrow(c, shown), last_four_quarters=shown.export(year.get(c.theme)),
                ))
        for section, points in (("good practice to share", col.good_points),
                                ("what would have improved the case", col.improve_points)):
            rows.extend(Row(**base, section=section, theme=p.theme or UNTHEMED, text=p.text) for p in points)
        rows.extend(Row(**base, section="wider learning", text=t) for t in col.wider_learning)
        for state in ("open", "done", "overdue"):
            rows.append(Row(**base, section=f"actions: {state}", this_quarter=shown.export(col.actions.get(state, 0))))
    return rows


def _rolling(col: Collation, kind: str) -> dict[str, int]:
    """Each theme's count over the last four quarters (this one included), most raised first."""
    return dict(col.rolling.counts(kind)) if col.rolling is not None else {}


def report_csv(collations: list[Collation], shown: SmallCounts) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in report_rows(collations, shown):
        writer.writerow([safe_cell(v) for v in row.values()])
    return buffer.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(collations: list[Collation], shown: SmallCounts) -> str:
    out: list[str] = []
    for col in collations:
        out.append(f"# Learning themes: {col.scope_name}, {col.quarter.label} ({col.quarter.months_label})")
        out.append("")
        out.append(f"Learning audits recorded: {shown.export(col.audits_recorded)} "
                   f"(last quarter: {shown.export(col.audits_previous)}). "
                   f"Counts under {shown.threshold} are shown as <{shown.threshold}.")
        out.append("")
        if col.by_service:
            out.append("| Service | Learning audits recorded |")
            out.append("|---|---|")
            out.extend(f"| {_md(name)} | {shown.export(n)} |" for name, n in col.by_service)
            out.append("")
        for kind in KINDS:
            out.append(f"## Themes: {SECTION_WORDS[kind]}")
            out.append("")
            if not col.counts(kind):
                out.append("None recorded.")
                out.append("")
                continue
            year = _rolling(col, kind)
            if shown.too_small(c.count for c in col.counts(kind)):
                # every count would be "<5": the themes ranked, and the last four quarters counted
                out.append("Too few to count this quarter; most raised first (themes on one line were raised "
                           "equally often):")
                out.append("")
                places = shown.ranked((c.theme, c.count) for c in col.counts(kind))
                out.extend(f"{n}. {', '.join(_md(t) for t in place)}" for n, place in enumerate(places, start=1))
                out.append("")
                out.append("| Theme | Last four quarters |")
                out.append("|---|---|")
                out.extend(f"| {_md(t)} | {shown.export(n)} |" for t, n in year.items())
                out.append("")
                continue
            out.append("| Theme | This quarter | Last quarter | Average of the last four quarters | Direction "
                       "| Last four quarters |")
            out.append("|---|---|---|---|---|---|")
            for c in col.counts(kind):
                average = shown.average(c.average_last_four) or ""
                if average.startswith("fewer"):
                    average = f"<{shown.threshold}"
                out.append(f"| {_md(c.theme)} | {shown.export(c.count)} | {shown.export(c.previous)} | "
                           f"{average} | {arrow(c, shown)} | {shown.export(year.get(c.theme))} |")
            out.append("")
        for title, points in (("Good practice to share", col.good_points),
                              ("What would have improved the cases", col.improve_points)):
            out.append(f"## {title}")
            out.append("")
            if not points:
                out.append("None recorded.")
            groups: dict[str, list[str]] = {}
            for p in points:
                groups.setdefault(p.theme or UNTHEMED, []).append(p.text)
            for theme, texts in groups.items():
                out.append(f"### {theme}")
                out.extend(f"- {_md(t)}" for t in texts)
                out.append("")
            out.append("")
        if col.wider_learning:
            out.append("## Wider learning for the service")
            out.append("")
            out.extend(f"- {_md(t)}" for t in col.wider_learning)
            out.append("")
        a = col.actions
        out.append("## Actions from these learning audits")
        out.append("")
        out.append(f"Open: {shown.export(a.get('open', 0))}; done: {shown.export(a.get('done', 0))}; "
                   f"overdue: {shown.export(a.get('overdue', 0))}.")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_xlsx(path: Path, collations: list[Collation], shown: SmallCounts) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Learning themes"
    xlsx_append(sheet, [c.replace("_", " ").capitalize() for c in CSV_COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in report_rows(collations, shown):
        xlsx_append(sheet, row.values())
    widths = {"A": 24, "B": 12, "C": 34, "D": 40, "E": 12, "F": 12, "G": 16, "H": 10, "I": 90, "J": 16}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    note = book.create_sheet("About")
    xlsx_append(note, [f"Counts under {shown.threshold} are shown as <{shown.threshold}. No case references or names."])
    book.save(path)


def collations_for(session: Session, quarter: Quarter, service_key: str | None, today: date) -> list[Collation]:
    """One service's collation, or all services' followed by each service that recorded audits."""
    if service_key:
        service = directory.service_by_key(session, service_key)
        if service is None:
            keys = ", ".join(s.key for s in directory.active_services(session))
            raise LookupError(f"there is no service {service_key!r}; services: {keys}")
        return [collate(session, quarter=quarter.key, service_id=service.id, today=today)]
    overall = collate(session, quarter=quarter.key, service_id=None, today=today)
    out = [overall]
    for service in directory.active_services(session):
        col = collate(session, quarter=quarter.key, service_id=service.id, today=today)
        if col.audits_recorded:
            out.append(col)
    return out
