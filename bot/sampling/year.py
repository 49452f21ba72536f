"""The random sample's part of the Board's year (``bot.core.year``): agreed grades by quarter and
service, the corrected grade counted where Q&I corrected one. Counts under the threshold withheld."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from bot.core.calendar import Quarter
from bot.core.council import policy_of
from bot.core.grades import Grade
from bot.core.privacy import SmallCounts
from bot.core.year import YearTable
from bot.sampling.results import build_report
from bot.sampling.service import draw_for

COLUMNS = ("Quarter", "Service", "Cases drawn", "Moderated", *(g.label for g in Grade), "Corrected")


def year_tables(session: Session, quarters: Sequence[Quarter], today: date, shown: SmallCounts) -> list[YearTable]:
    policy = policy_of(session)
    rows: list[tuple[str | int, ...]] = []
    for quarter in quarters:
        draw = draw_for(session, quarter.key)
        if draw is None:
            rows.append((quarter.label, "no random sample", "", "", *("" for _ in Grade), ""))
            continue
        v = build_report(session, draw, policy=policy).view
        rows.append((quarter.label, v.service, shown.export(v.total_cases), shown.export(v.moderated),
                     *(shown.export(v.by_grade.get(g, 0)) for g in Grade), shown.export(v.corrected)))
    return [YearTable(
        title="Random sample grades",
        columns=COLUMNS,
        rows=rows,
        order=10,
        note="Agreed grades of moderated cases; where Q&I corrected an agreed grade, the corrected grade is counted.",
    )]
