"""Ofsted grades for random sampling audits, and the statistics a sample report headlines.

Pure: no database, no Slack. Learning audits are never graded, so nothing here applies to them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class Grade(enum.IntEnum):
    """Lower is better, matching Ofsted's own 1-4 numbering so arithmetic on grades reads naturally."""

    OUTSTANDING = 1
    GOOD = 2
    REQUIRES_IMPROVEMENT = 3
    INADEQUATE = 4

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def good_or_better(self) -> bool:
        return self <= Grade.GOOD

    @classmethod
    def from_label(cls, text: str) -> Grade:
        """Accept the words auditors actually type (imports, CSVs), not only the exact label."""
        key = " ".join(text.strip().lower().split())
        try:
            return _ALIASES[key]
        except KeyError:
            valid = ", ".join(g.label for g in cls)
            raise ValueError(f"{text!r} is not a grade; use one of: {valid}") from None


_LABELS: dict[Grade, str] = {
    Grade.OUTSTANDING: "Outstanding",
    Grade.GOOD: "Good",
    Grade.REQUIRES_IMPROVEMENT: "Requires improvement to be good",
    Grade.INADEQUATE: "Inadequate",
}

_ALIASES: dict[str, Grade] = {label.lower(): grade for grade, label in _LABELS.items()} | {
    "requires improvement": Grade.REQUIRES_IMPROVEMENT,
    "ri": Grade.REQUIRES_IMPROVEMENT,
}


def needs_qi_attention(a: Grade, b: Grade) -> str | None:
    """Flag blind grades far enough apart that moderation should not be left to the pair alone.

    The Good / RI line matters more than the size of the gap: it is the line the headline
    "% good or better" is drawn on, so a one-grade disagreement across it changes the report.
    """
    gap = abs(int(a) - int(b))
    if gap >= 2:
        return f"grades differ by {gap} grades ({a.label} vs {b.label})"
    if a.good_or_better != b.good_or_better:
        return f"crosses Good / Requires improvement ({a.label} vs {b.label})"
    return None


@dataclass
class SampleStats:
    """Headline figures for one sample.

    `total` is every case in the sample; the headline percentages and `by_grade` use only the
    `moderated` ones (agreed grade recorded), because an unmoderated case has no grade of record.
    `pairs` counts cases with both blind grades, the base for agreement.
    """

    total: int
    by_grade: dict[Grade, int]
    pct_good_or_better: float
    pct_inadequate: float
    exact_agreement_pct: float
    within_one_pct: float
    moderated_up: int
    moderated_down: int
    moderated_same: int
    pairs: int
    moderated: int = field(default=0)


def _pct(part: int, whole: int) -> float:
    """Percentage to 1 dp, rounding halves up in exact integer arithmetic.

    Reports are read by people who check the sums by hand: float `round()` would turn 6.25 into
    6.2 (banker's rounding on an inexact binary value), which looks like an error.
    """
    if whole <= 0:
        return 0.0
    tenths = (part * 1000 * 2 + whole) // (2 * whole)
    return tenths / 10


def sample_stats(results: Sequence[tuple[Grade | None, Grade | None, Grade | None]]) -> SampleStats:
    """Each item is (auditor A's grade, auditor B's grade, agreed grade or None if not moderated).

    Agreement is measured on the blind grades, before moderation, so it shows how consistently
    auditors apply the grade descriptors; moderation direction compares the agreed grade with the
    mean of the two originals (lower is better, so "up" means a better grade).
    """
    by_grade = {g: 0 for g in Grade}
    pairs = exact = within_one = 0
    up = down = same = 0
    for a, b, agreed in results:
        if agreed is not None:
            by_grade[agreed] += 1
        if a is None or b is None:
            continue
        pairs += 1
        gap = abs(int(a) - int(b))
        exact += gap == 0
        within_one += gap <= 1
        if agreed is not None:
            # compare 2*agreed with a+b to avoid a float mean
            doubled, total = 2 * int(agreed), int(a) + int(b)
            if doubled < total:
                up += 1
            elif doubled > total:
                down += 1
            else:
                same += 1
    moderated = sum(by_grade.values())
    good = by_grade[Grade.OUTSTANDING] + by_grade[Grade.GOOD]
    return SampleStats(
        total=len(results),
        by_grade=by_grade,
        pct_good_or_better=_pct(good, moderated),
        pct_inadequate=_pct(by_grade[Grade.INADEQUATE], moderated),
        exact_agreement_pct=_pct(exact, pairs),
        within_one_pct=_pct(within_one, pairs),
        moderated_up=up,
        moderated_down=down,
        moderated_same=same,
        pairs=pairs,
        moderated=moderated,
    )
