"""The learning themes' part of the Board's year (``bot.core.year``): for each of the four
quarters, the audits recorded and the themes most raised, across all services. Counts under the
threshold withheld (shown as "<N")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from bot.core.calendar import Quarter
from bot.core.privacy import SmallCounts
from bot.core.year import YearTable
from bot.themes.collation import collate

TOP = 3
"""Themes per kind per quarter: the Board reads the headline, the themes report has the rest."""
KIND_WORDS = {"improve": "to improve", "good": "done well"}


def year_tables(session: Session, quarters: Sequence[Quarter], today: date, shown: SmallCounts) -> list[YearTable]:
    rows: list[tuple[str | int, ...]] = []
    for quarter in quarters:
        col = collate(session, quarter=quarter.key, service_id=None, today=today)
        rows.append((quarter.label, "audits recorded", "", shown.export(col.audits_recorded)))
        for kind, words in KIND_WORDS.items():
            raised = [c for c in col.counts(kind) if c.count > 0][:TOP]
            rows += [(quarter.label, words, c.theme, shown.export(c.count)) for c in raised]
    return [YearTable(
        title="Learning themes",
        columns=("Quarter", "Kind", "Theme", "Audits raising it"),
        rows=rows,
        order=20,
        note=f"The {TOP} themes most raised to improve and done well in each quarter, across all services.",
    )]
