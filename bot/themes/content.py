"""The lines people read: a collation turned into the post's lines, key messages and chart, with the
small-count rule applied wherever the lines go to a channel (``bot.core.privacy.SmallCounts``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from bot.core.policy import Policy
from bot.core.privacy import SmallCounts, escape
from bot.themes.types import (
    GOOD_POINTS,
    GOOD_THEMES,
    IMPROVE_POINTS,
    IMPROVE_THEMES,
    UNTHEMED,
    WIDER,
    ChartData,
    Collation,
    Line,
    ThemeContent,
    ThemeCount,
)
from storage.models.themes import ThemeDraft

ARROWS = {"up": "▲", "down": "▼", "same": "＝"}


def line_id(section: str, group: str | None, raw: str) -> str:
    return hashlib.sha1(f"{section}|{group or ''}|{raw}".encode()).hexdigest()[:12]


def arrow(c: ThemeCount, counts: SmallCounts) -> str:
    """This quarter against last, unless both counts are withheld (the direction alone would tell
    which small number is bigger)."""
    if c.direction is None or counts.both_hidden(c.count, c.previous):
        return ""
    return ARROWS[c.direction]


def theme_line(c: ThemeCount, shown: SmallCounts) -> str:
    trend = arrow(c, shown)
    parts = []
    if c.previous is not None:
        parts.append(f"last quarter {shown.count(c.previous)}")
    average = shown.average(c.average_last_four)
    if average is not None:
        parts.append(f"average of the last four quarters {average}")
    tail = f" ({', '.join(parts)})" if parts else ""
    return f"• *{escape(c.theme)}*: {shown.count(c.count)}{' ' + trend if trend else ''}{tail}"


def default_key_messages(col: Collation, shown: SmallCounts) -> str:
    n = col.audits_recorded
    if n == 0:
        return f"No learning audits were recorded for {col.scope_name} in {col.quarter.label}."
    amount = shown.count(n)
    many = n != 1 or shown.hidden(n)
    lines = [f"{amount[0].upper()}{amount[1:]} learning audit{'s' if many else ''} "
             f"{'were' if many else 'was'} recorded for {col.scope_name} in {col.quarter.label}."]
    top_improve, top_good = col.top("improve"), col.top("good")
    if top_improve is not None:
        lines.append(f"The area to improve raised most often: {top_improve.theme}.")
    if top_good is not None:
        lines.append(f"The good practice raised most often: {top_good.theme}.")
    return "\n".join(lines)


def _short(text: str, limit: int = 72) -> tuple[str, str]:
    """A checkbox label and description from a long line, split at a word, never mid-word."""
    if len(text) <= limit:
        return text, ""
    cut = text.rfind(" ", 0, limit)
    cut = cut if cut > limit // 2 else limit
    label, rest = text[:cut].rstrip() + "…", text[cut:].lstrip()
    if len(rest) > limit:
        cut = rest.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        rest = rest[:cut].rstrip() + "…"
    return label, rest


def build_content(col: Collation, policy: Policy, *, suppress: bool, draft: ThemeDraft | None = None,
                  shared_for: str | None = None) -> ThemeContent:
    shown = SmallCounts(policy.suppression_threshold, suppress=suppress)
    lines: list[Line] = []
    for kind, section in (("improve", IMPROVE_THEMES), ("good", GOOD_THEMES)):
        for c in col.counts(kind):
            if c.count == 0:
                continue
            prefix = "Improve" if kind == "improve" else "Good practice"
            label, detail = _short(f"{prefix}: {c.theme}")
            lines.append(Line(line_id(section, None, c.theme), section, None, theme_line(c, shown), label, detail))
        gone = [c.theme for c in col.counts(kind) if c.count == 0]
        if gone:
            text = "• _Raised last quarter but not this quarter:_ " + ", ".join(escape(t) for t in gone)
            label, detail = _short(f"{'Improve' if kind == 'improve' else 'Good practice'}: no longer raised")
            lines.append(Line(line_id(section, None, "no-longer-raised"), section, None, text, label, detail))
    for section, points in ((GOOD_POINTS, col.good_points), (IMPROVE_POINTS, col.improve_points)):
        for p in points:
            group = p.theme or UNTHEMED
            label, detail = _short(p.text)
            lines.append(Line(line_id(section, group, p.text), section, group, f"• {escape(p.text)}", label, detail))
    for text in col.wider_learning:
        label, detail = _short(text)
        lines.append(Line(line_id(WIDER, None, text), WIDER, None, f"• {escape(text)}", label, detail))

    a = col.actions
    actions_line = (f"Open: {shown.count(a.get('open', 0))} · Done: {shown.count(a.get('done', 0))} · "
                    f"Overdue: {shown.count(a.get('overdue', 0))}")
    notes = []
    if suppress:
        notes.append(f"Counts under {policy.suppression_threshold} are shown as "
                     f"\"fewer than {policy.suppression_threshold}\". No case references or names are shared.")
    counted_in = shown.count(col.audits_recorded)
    many = col.audits_recorded != 1 or shown.hidden(col.audits_recorded)
    intro = (f"From {counted_in} learning audit{'s' if many else ''} recorded in "
             f"{col.quarter.months_label}; ▲ ▼ ＝ compare with {col.quarter.previous().label}.")
    if shared_for:
        intro += f" Shared for the {shared_for}."
    key = draft.key_messages if draft is not None and draft.key_messages else default_key_messages(col, shown)
    dropped = set(draft.dropped_lines or []) if draft is not None else set()
    content = ThemeContent(
        title=f"Learning themes: {col.scope_name}, {col.quarter.label}",
        scope_name=col.scope_name, quarter=col.quarter, intro=intro, key_messages=key, lines=lines,
        actions_line=actions_line, notes=notes, chart=None, dropped=dropped,
    )
    content.chart = chart_data(col, policy, suppress=suppress, dropped=dropped)
    return content


def chart_data(col: Collation, policy: Policy, *, suppress: bool, dropped: Iterable[str] = ()) -> ChartData | None:
    """Theme counts this quarter vs last; a suppressed count is drawn at zero and marked *."""
    t = policy.suppression_threshold
    counts = SmallCounts(t, suppress=suppress)
    gone = set(dropped)
    categories: list[str] = []
    this: list[int] = []
    last: list[int] = []
    for kind, section in (("improve", IMPROVE_THEMES), ("good", GOOD_THEMES)):
        for c in col.counts(kind):
            if line_id(section, None, c.theme) in gone:
                continue
            before = c.previous or 0
            if counts.both_hidden(c.count, before):
                continue
            hide_now, hide_before = counts.hidden(c.count), counts.hidden(before)
            prefix = "To improve" if kind == "improve" else "Good practice"
            categories.append(f"{prefix}: {c.theme}{' *' if hide_now or hide_before else ''}")
            this.append(counts.drawn(c.count))
            last.append(counts.drawn(before))
    if not categories:
        return None
    previous = col.quarter.previous()
    caption = (f"Learning themes for {col.scope_name}: how many learning audits raised each theme in "
               f"{col.quarter.label} and {previous.label}.")
    if suppress:
        caption += (f" Counts under {t} are not shown (drawn at zero and marked *); themes raised fewer than "
                    f"{t} times in both quarters are left out.")
    return ChartData(
        categories=categories, this_quarter=this, last_quarter=last,
        this_label=f"{col.quarter.label}", last_label=f"{previous.label}",
        title=f"{col.scope_name}: learning themes, {col.quarter.label} vs {previous.label}",
        caption=caption,
    )


def chart_png(chart: ChartData) -> bytes:
    """The chart as PNG (the outbox draws the posted one from the same inputs; bot.charts serialises pyplot)."""
    from bot.core.charts import bar_chart_png

    return bar_chart_png(chart.categories, {chart.this_label: chart.this_quarter, chart.last_label: chart.last_quarter},
                         title=chart.title, xlabel="Learning audits raising the theme")

