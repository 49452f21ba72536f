"""The lines people read: a collation turned into the post's lines, key messages and chart, with the
small-count rule applied wherever the lines go to a channel (``bot.core.privacy.SmallCounts``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from bot.core.charts import alt_text
from bot.core.policy import Policy
from bot.core.privacy import SmallCounts, escape
from bot.themes.types import (
    GOOD_POINTS,
    GOOD_THEMES,
    IMPROVE_POINTS,
    IMPROVE_THEMES,
    KINDS,
    RANKED_TITLES,
    ROLLING,
    UNTHEMED,
    WIDER,
    ChartData,
    Collation,
    Line,
    Rolling,
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
    for kind, one, several in (("improve", "The area to improve", "The areas to improve"),
                               ("good", "The good practice", "The good practice themes")):
        places = shown.ranked((c.theme, c.count) for c in col.counts(kind))
        if places:
            top = places[0]
            names = top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]
            lines.append(f"{one if len(top) == 1 else several} raised most often: {names}.")
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


def ranked_theme_lines(counts: list[ThemeCount], shown: SmallCounts) -> list[tuple[str, str]]:
    """(theme, line) most raised first without numbers, for a quarter too small for counts: themes
    raised equally often share a place, so the order claims no difference the counts lack."""
    by_theme = {c.theme: c for c in counts}
    out: list[tuple[str, str]] = []
    for place, themes in enumerate(shown.ranked((c.theme, c.count) for c in counts), start=1):
        for theme in themes:
            trend = arrow(by_theme[theme], shown)
            out.append((theme, f"{place}. *{escape(theme)}*{' ' + trend if trend else ''}"))
    return out


def actions_text(actions: dict[str, int], shown: SmallCounts) -> str:
    """Open, done and overdue; when every one is withheld, the states in words instead of a row of
    "fewer than N"."""
    counts = [(state, actions.get(state, 0)) for state in ("open", "done", "overdue")]
    if shown.too_small(n for _, n in counts):
        have = [state for state, n in counts if n > 0]
        none = [state for state, n in counts if n == 0]
        some = [f"some {state}" for state in have]
        text = "Too few to count: " + (", ".join(some[:-1]) + " and " + some[-1] if len(some) > 1 else some[0])
        return text + (f"; none {' or '.join(none)}." if none else ".")
    return " · ".join(f"{state.capitalize()}: {shown.count(n)}" for state, n in counts)


def rolling_allowed(rolling: Rolling | None, shown: SmallCounts) -> bool:
    """The last four quarters have at least one theme count that may be shown."""
    return rolling is not None and any(
        n > 0 and not shown.hidden(n) for kind in KINDS for _, n in rolling.counts(kind))


def _rolling_lines(rolling: Rolling, shown: SmallCounts) -> list[Line]:
    words = {"improve": "To improve", "good": "Good practice"}
    lines: list[Line] = []
    many = rolling.audits != 1 or shown.hidden(rolling.audits)
    head = (f"_{rolling.label}, from {shown.count(rolling.audits)} learning audit{'s' if many else ''}_")
    lines.append(Line(line_id(ROLLING, None, "period"), ROLLING, None, head, "Last four quarters: which quarters"))
    for kind in KINDS:
        counts = rolling.counts(kind)
        if not counts:
            continue
        if shown.too_small(n for _, n in counts):
            names = ", ".join(escape(t) for place in shown.ranked(counts) for t in place)
            text = f"• {words[kind]}, most raised first: {names}"
            label, detail = _short(f"Last four quarters, {words[kind].lower()}: most raised")
            lines.append(Line(line_id(ROLLING, kind, "ranked"), ROLLING, None, text, label, detail))
            continue
        for theme, n in counts:
            if shown.hidden(n):
                continue
            label, detail = _short(f"Last four quarters, {words[kind].lower()}: {theme}")
            lines.append(Line(line_id(ROLLING, kind, theme), ROLLING, None,
                              f"• {words[kind]}: *{escape(theme)}*: {n}", label, detail))
        few = [t for t, n in counts if shown.hidden(n)]
        if few:
            text = (f"• {words[kind]}, also raised (fewer than {shown.threshold} times each): "
                    + ", ".join(escape(t) for t in few))
            label, detail = _short(f"Last four quarters, {words[kind].lower()}: also raised")
            lines.append(Line(line_id(ROLLING, kind, "few"), ROLLING, None, text, label, detail))
    states = [rolling.actions.get(state, 0) for state in ("open", "done", "overdue")]
    if not shown.too_small(states):  # too few to count says nothing the quarter's own line does not
        text = f"• Actions from these learning audits: {actions_text(rolling.actions, shown)}"
        lines.append(Line(line_id(ROLLING, None, "actions"), ROLLING, None, text, "Last four quarters: actions"))
    return lines


def build_content(col: Collation, policy: Policy, *, suppress: bool, draft: ThemeDraft | None = None,
                  shared_for: str | None = None) -> ThemeContent:
    """The post's lines. Where a count could point to a child or a worker it is withheld
    (``SmallCounts``); a section whose every count would be withheld ranks its themes instead, and
    the last four quarters, added up, bring the counts and the chart back once they allow."""
    shown = SmallCounts(policy.suppression_threshold, suppress=suppress)
    dropped = set(draft.dropped_lines or []) if draft is not None else set()
    lines: list[Line] = []
    titles: dict[str, str] = {}
    trends: set[str] = set()  # lines that show an arrow
    for kind, section in (("improve", IMPROVE_THEMES), ("good", GOOD_THEMES)):
        prefix = "Improve" if kind == "improve" else "Good practice"
        raised = [c for c in col.counts(kind) if c.count > 0]
        if shown.too_small(c.count for c in raised):
            titles[section] = RANKED_TITLES[section]
            texts = ranked_theme_lines(raised, shown)
        else:
            texts = [(c.theme, theme_line(c, shown)) for c in raised]
        by_theme = {c.theme: c for c in raised}
        for theme, text in texts:
            label, detail = _short(f"{prefix}: {theme}")
            lines.append(Line(line_id(section, None, theme), section, None, text, label, detail))
            if arrow(by_theme[theme], shown):
                trends.add(lines[-1].id)
        gone = [c.theme for c in col.counts(kind) if c.count == 0]
        if gone:
            text = "• _Raised last quarter but not this quarter:_ " + ", ".join(escape(t) for t in gone)
            label, detail = _short(f"{prefix}: no longer raised")
            lines.append(Line(line_id(section, None, "no-longer-raised"), section, None, text, label, detail))
    rolling = col.rolling if titles and rolling_allowed(col.rolling, shown) else None
    if rolling is not None:
        lines.extend(_rolling_lines(rolling, shown))
    for section, points in ((GOOD_POINTS, col.good_points), (IMPROVE_POINTS, col.improve_points)):
        for p in points:
            group = p.theme or UNTHEMED
            label, detail = _short(p.text)
            lines.append(Line(line_id(section, group, p.text), section, group, f"• {escape(p.text)}", label, detail))
    for text in col.wider_learning:
        label, detail = _short(text)
        lines.append(Line(line_id(WIDER, None, text), WIDER, None, f"• {escape(text)}", label, detail))

    notes = []
    if suppress:
        notes.append(f"Counts under {policy.suppression_threshold} are shown as "
                     f"\"fewer than {policy.suppression_threshold}\". No case references or names are shared.")
    if titles:
        notes.append("Where a quarter is too small to count, themes are listed most raised first; themes with "
                     "the same number were raised equally often.")
    counted_in = shown.count(col.audits_recorded)
    many = col.audits_recorded != 1 or shown.hidden(col.audits_recorded)
    intro = f"From {counted_in} learning audit{'s' if many else ''} recorded in {col.quarter.months_label}"
    if titles:
        intro += "; too few to count, so themes are listed most raised first"
    if rolling is not None:
        intro += f", with the last four quarters ({rolling.label}) counted below"
    if trends - dropped:
        intro += f"; ▲ ▼ ＝ compare with {col.quarter.previous().label}"
    intro += "."
    if shared_for:
        intro += f" Shared for the {shared_for}."
    key = draft.key_messages if draft is not None and draft.key_messages else default_key_messages(col, shown)
    content = ThemeContent(
        title=f"Learning themes: {col.scope_name}, {col.quarter.label}",
        scope_name=col.scope_name, quarter=col.quarter, intro=intro, key_messages=key, lines=lines,
        actions_line=actions_text(col.actions, shown), notes=notes, chart=None, dropped=dropped, titles=titles,
    )
    content.chart = chart_data(col, policy, suppress=suppress, dropped=dropped)
    if rolling is not None and not any(shown.drawn(c.count) for kind in KINDS for c in col.counts(kind)):
        # nothing of this quarter could be drawn: the chart is the last four quarters'
        content.chart = rolling_chart(col, rolling, shown, dropped) or content.chart
    return content


def rolling_chart(col: Collation, rolling: Rolling, shown: SmallCounts, dropped: Iterable[str] = ()) -> ChartData | None:
    """Theme counts over the last four quarters; a theme under the threshold is left out, not drawn."""
    gone = set(dropped)
    categories: list[str] = []
    values: list[int] = []
    for kind in KINDS:
        for theme, n in rolling.counts(kind):
            if shown.hidden(n) or line_id(ROLLING, kind, theme) in gone:
                continue
            categories.append(f"{'To improve' if kind == 'improve' else 'Good practice'}: {theme}")
            values.append(n)
    if not categories:
        return None
    caption = (f"Learning themes for {col.scope_name}: how many learning audits raised each theme over the last "
               f"four quarters, {rolling.label}.")
    if shown.suppress:
        caption += f" Themes raised fewer than {shown.threshold} times are left out."
    return ChartData(
        categories=categories, this_quarter=values, last_quarter=[0] * len(values),
        this_label=rolling.label, last_label="", rolling=True,
        title=f"{col.scope_name}: learning themes, {rolling.label}", caption=caption,
        alt_text=alt_text(f"learning themes in {col.scope_name}, {rolling.label} (learning audits raising each)",
                          categories, {rolling.label: values}),
    )


def chart_data(col: Collation, policy: Policy, *, suppress: bool, dropped: Iterable[str] = ()) -> ChartData | None:
    """Theme counts this quarter vs last; a suppressed count is drawn at zero and marked *."""
    t = policy.suppression_threshold
    counts = SmallCounts(t, suppress=suppress)
    gone = set(dropped)
    categories: list[str] = []
    this: list[int] = []
    last: list[int] = []
    said: list[str] = []  # the alt text's words: withheld counts as None, not zero
    this_said: list[int | None] = []
    last_said: list[int | None] = []
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
            said.append(f"{prefix}: {c.theme}")
            this_said.append(None if hide_now else c.count)
            last_said.append(None if hide_before else before)
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
        alt_text=alt_text(f"learning themes in {col.scope_name}, {col.quarter.label} against {previous.label} "
                          "(learning audits raising each)", said,
                          {col.quarter.label: this_said, previous.label: last_said},
                          threshold=t if suppress else None),
    )


def chart_png(chart: ChartData) -> bytes:
    """The chart as PNG (the outbox draws the posted one from the same inputs; bot.charts serialises pyplot)."""
    from bot.core.charts import bar_chart_png

    return bar_chart_png(chart.categories, chart.series(), title=chart.title, xlabel="Learning audits raising the theme")

