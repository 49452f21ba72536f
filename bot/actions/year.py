"""Action plans' part of the Board's year (``bot.core.year``): actions open, done and overdue, by
the quarter of the work they came from. Counts under the threshold withheld."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from bot.actions.service import action_counts
from bot.core.calendar import Quarter
from bot.core.formatting import day
from bot.core.privacy import SmallCounts
from bot.core.year import YearTable


def year_tables(session: Session, quarters: Sequence[Quarter], today: date, shown: SmallCounts) -> list[YearTable]:
    rows: list[tuple[str | int, ...]] = []
    for quarter in quarters:
        counts = action_counts(session, today=today, quarter=quarter.key)
        rows.append((quarter.label, shown.export(counts["open"]), shown.export(counts["done"]),
                     shown.export(counts["overdue"])))
    return [YearTable(
        title="Actions",
        columns=("Quarter", "Open", "Done", "Overdue"),
        rows=rows,
        order=30,
        note=f"Actions by the quarter of the work they came from; overdue ones are counted in open too "
             f"(as of {day(today)}).",
    )]
