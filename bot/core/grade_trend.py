"""The four-quarter trend of random-sample grades: how many cases were agreed at each grade, quarter by
quarter, for the Board's digest and the sample report, as a chart with words saying what it shows.

Counts come from moderated cases only (an agreed grade is the grade of record). They reach a channel,
so each count under the council's threshold is withheld (``bot.core.privacy.SmallCounts``): drawn
at zero, marked *, and said as "fewer than N" in the alt text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.core.calendar import Quarter
from bot.core.charts import alt_text
from bot.core.grades import Grade
from bot.core.privacy import SmallCounts
from storage.models.sampling import SampledCase, SampleDraw, SampleModeration

QUARTERS = 4


@dataclass(frozen=True)
class GradeTrend:
    quarters: tuple[Quarter, ...]  # oldest first
    counts: dict[Grade, tuple[int, ...]]  # agreed grades per quarter, in ``quarters`` order

    @property
    def label(self) -> str:
        return f"{self.quarters[0].label} to {self.quarters[-1].label}"

    @property
    def total(self) -> int:
        return sum(sum(v) for v in self.counts.values())

    def chart(self, shown: SmallCounts) -> dict[str, Any] | None:
        """``outbox.enqueue_chart``'s chart arguments (categories, series, chart_title, xlabel,
        horizontal, alt_text), or None when no count may be drawn (all withheld, or none yet)."""
        if not any(n > 0 and not shown.hidden(n) for values in self.counts.values() for n in values):
            return None
        marked = {q for i, q in enumerate(self.quarters) if any(shown.hidden(v[i]) for v in self.counts.values())}
        categories = [f"{q.label}{' *' if q in marked else ''}" for q in self.quarters]
        series = {g.label: [shown.drawn(n) for n in self.counts[g]] for g in Grade}
        said = {g.label: [None if shown.hidden(n) else n for n in self.counts[g]] for g in Grade}
        words = alt_text(f"agreed random-sample grades by quarter, {self.label} (cases at each grade, "
                         "quarter by quarter)", [q.label for q in self.quarters], said,
                         threshold=shown.threshold if shown.suppress else None)
        return {"categories": categories, "series": series, "xlabel": "Cases", "horizontal": False,
                "chart_title": f"Random sample agreed grades, {self.label}", "alt_text": words}

    def caption(self, shown: SmallCounts) -> str:
        text = (f"Random sample: cases agreed at each grade, {self.label} (moderated cases only).")
        if shown.suppress:
            text += (f" Counts under {shown.threshold} are not shown: drawn at zero, and their quarter "
                     "marked *.")
        return text


def grade_trend(session: Session, last: Quarter) -> GradeTrend:
    """Agreed grades in the four quarters ending with ``last``."""
    quarters = tuple(last.shift(-n) for n in range(QUARTERS - 1, -1, -1))
    keys = {q.key: i for i, q in enumerate(quarters)}
    rows = session.execute(
        select(SampleDraw.quarter, SampleModeration.agreed_grade, func.count())
        .join(SampledCase, SampledCase.draw_id == SampleDraw.id)
        .join(SampleModeration, SampleModeration.case_id == SampledCase.id)
        .where(SampleDraw.quarter.in_(list(keys)))
        .group_by(SampleDraw.quarter, SampleModeration.agreed_grade)
    ).all()
    counts = {g: [0] * QUARTERS for g in Grade}
    for quarter, grade, n in rows:
        counts[Grade(grade)][keys[quarter]] += int(n)
    return GradeTrend(quarters=quarters, counts={g: tuple(v) for g, v in counts.items()})


def enqueue_trend_chart(session: Session, *, channel: str, last: Quarter, shown: SmallCounts, key: str) -> bool:
    """The four-quarter trend of agreed grades as a chart, queued after the message it belongs to;
    False when there is nothing to draw (no sample yet, or every count withheld)."""
    found = grade_trend(session, last)
    chart = found.chart(shown)
    if chart is None:
        return False
    quarters = f"{found.quarters[0].key}-{found.quarters[-1].key}"
    return outbox.enqueue_chart(session, channel=channel, file_name=f"random-sample-grades-{quarters}.png",
                                title=f"Random sample grades, {found.label}", text=found.caption(shown),
                                dedupe_key=key, **chart)
