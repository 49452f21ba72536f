"""The themes chart posted to a channel never draws a count under the suppression threshold, while a
Service Manager's private review (built without suppression) keeps every count exact.

The collation is built by hand here, so each small count is exactly the one the test means: the
rule is checked against each theme's real counts, not against what the code under test worked out.
"""

from __future__ import annotations

import pytest

from bot.core.calendar import Quarter
from bot.core.policy import Policy
from bot.themes.content import build_content
from bot.themes.types import KINDS, ChartData, Collation, ThemeCount
from storage.models.themes import ThemeDraft

Q1 = Quarter.parse("2026-27Q1")

# (kind, theme, this quarter, last quarter or None when nothing was recorded last quarter)
RAW = [
    ("improve", "Risk and safety", 7, 5),  # both at or over 5: drawn exactly
    ("improve", "Assessment and analysis", 3, 6),  # this quarter small, last quarter not
    ("improve", "Timeliness, drift and delay", 2, 1),  # small in both quarters
    ("improve", "Recording", 0, 8),  # not raised this quarter: a zero is "none", never hidden
    ("good", "Voice and lived experience of the child", 6, 1),  # last quarter small, this quarter not
    ("good", "Multi-agency working", 4, None),  # small, and no audits last quarter
    ("good", "Direct work", 9, 0),
    ("good", "Management oversight", 1, 12),
]


def collation() -> Collation:
    counts = {
        kind: [ThemeCount(k, theme, now, before, None) for k, theme, now, before in RAW if k == kind]
        for kind in KINDS
    }
    return Collation(
        quarter=Q1, service_id=1, scope_name="Children in Care", audits_recorded=14, audits_previous=13,
        improve=counts["improve"], good=counts["good"], improve_points=[], good_points=[], wider_learning=[],
        actions={"open": 0, "done": 0, "overdue": 0},
    )


def category(kind: str, theme: str) -> str:
    return f"{'To improve' if kind == 'improve' else 'Good practice'}: {theme}"


def drawn(chart: ChartData) -> dict[str, tuple[int, int]]:
    """Each bar pair of the chart, by its category (the mark, if any, still on the name)."""
    assert len(chart.categories) == len(chart.this_quarter) == len(chart.last_quarter)
    return {c: (now, before) for c, now, before in zip(chart.categories, chart.this_quarter, chart.last_quarter,
                                                          strict=True)}


def small(n: int, threshold: int) -> bool:
    return 0 < n < threshold


@pytest.mark.parametrize("threshold", [2, 5, 10])
def test_the_channel_chart_draws_every_count_under_the_threshold_at_zero_and_marks_it(threshold):
    policy = Policy(suppression_threshold=threshold)
    content = build_content(collation(), policy, suppress=True)
    chart = content.chart
    assert chart is not None
    bars = drawn(chart)
    values = [v for pair in bars.values() for v in pair]
    assert all(v == 0 or v >= threshold for v in values), f"a count under {threshold} is drawn: {bars}"
    assert any(small(now, threshold) or small(before or 0, threshold) for _, _, now, before in RAW)

    hidden_somewhere = False
    for kind, theme, now, before in RAW:
        before = before or 0
        name = category(kind, theme)
        if max(now, before) < threshold:  # under the threshold (or none) in both quarters
            assert name not in bars and f"{name} *" not in bars, f"{theme} ({now}, {before}) should be left out"
            continue
        hidden = small(now, threshold) or small(before, threshold)
        hidden_somewhere |= hidden
        shown_as = f"{name} *" if hidden else name
        assert shown_as in bars, f"{theme} ({now}, {before}) should be drawn as {shown_as!r}: {list(bars)}"
        expected = (0 if small(now, threshold) else now, 0 if small(before, threshold) else before)
        assert bars[shown_as] == expected, f"{theme}: drew {bars[shown_as]}, the rule says {expected}"
    assert len(bars) == sum(1 for _, _, now, before in RAW if max(now, before or 0) >= threshold)
    if hidden_somewhere:
        assert f"Counts under {threshold} are not shown" in chart.caption


def test_the_channel_chart_at_the_default_threshold_is_exactly_the_counts_of_five_or_more():
    content = build_content(collation(), Policy(), suppress=True)
    assert content.chart is not None
    assert drawn(content.chart) == {
        "To improve: Risk and safety": (7, 5),
        "To improve: Assessment and analysis *": (0, 6),
        "To improve: Recording": (0, 8),
        "Good practice: Voice and lived experience of the child *": (6, 0),
        "Good practice: Direct work": (9, 0),
        "Good practice: Management oversight *": (0, 12),
    }
    assert "drawn at zero and marked *" in content.chart.caption


def test_a_draft_posted_to_a_channel_gets_the_suppressed_chart_too():
    """The post is built from the Service Manager's draft: a draft must not switch suppression off."""
    draft = ThemeDraft(quarter=Q1.key, service_id=1, key_messages="Plan safety early", dropped_lines=[])
    content = build_content(collation(), Policy(), suppress=True, draft=draft)
    assert content.chart is not None
    values = [v for pair in drawn(content.chart).values() for v in pair]
    assert values and all(v == 0 or v >= 5 for v in values)


@pytest.mark.parametrize("threshold", [2, 5, 10])
def test_the_service_managers_private_review_keeps_every_count_exact(threshold):
    content = build_content(collation(), Policy(suppression_threshold=threshold), suppress=False)
    chart = content.chart
    assert chart is not None
    bars = drawn(chart)
    expected = {category(kind, theme): (now, before or 0) for kind, theme, now, before in RAW}
    assert bars == expected
    assert any(small(v, threshold) for pair in bars.values() for v in pair)  # small counts really are shown
    assert not any(c.endswith("*") for c in chart.categories)
    assert "not shown" not in chart.caption


def test_the_private_text_shows_the_small_counts_the_channel_text_hides():
    col = collation()
    private = "\n".join(line.text for line in build_content(col, Policy(), suppress=False).lines)
    channel = "\n".join(line.text for line in build_content(col, Policy(), suppress=True).lines)
    assert "*Assessment and analysis*: 3" in private
    assert "*Assessment and analysis*: fewer than 5" in channel
    assert "*Assessment and analysis*: 3" not in channel
