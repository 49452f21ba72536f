"""What the learning-themes flow passes between its parts: the collation, the lines of a post, the
forums, and the ids of its Slack surfaces. The domain builds these; ``bot.themes.messages`` reads
them, so neither imports the other for a type."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.calendar import Quarter

KINDS = ("improve", "good")
BOT_ACTOR = "qmf-bot"
"""Who posted or drafted, in the audit log, when no person did."""

# Sections of the learning, in the order a post shows them.
IMPROVE_THEMES = "improve_themes"
GOOD_THEMES = "good_themes"
GOOD_POINTS = "good_points"
IMPROVE_POINTS = "improve_points"
WIDER = "wider"
ROLLING = "rolling"
SECTION_TITLES = {
    IMPROVE_THEMES: "Areas to improve: how often each theme was raised",
    GOOD_THEMES: "Good practice: how often each theme was raised",
    ROLLING: "The last four quarters: how often each theme was raised",
    GOOD_POINTS: "Good practice to share",
    IMPROVE_POINTS: "What would have improved the cases",
    WIDER: "Wider learning for the service",
}
RANKED_TITLES = {
    IMPROVE_THEMES: "Areas to improve: most raised first",
    GOOD_THEMES: "Good practice: most raised first",
}
"""A section's title when its quarter is too small for counts and the themes are ranked instead."""
SECTION_ORDER = (IMPROVE_THEMES, GOOD_THEMES, ROLLING, GOOD_POINTS, IMPROVE_POINTS, WIDER)
UNTHEMED = "Not linked to a theme"


class ThemesAction(StrEnum):
    """Action, view and block ids of the learning-themes flow (kebab-case ``flow-field``)."""

    EDIT = "themes-edit"
    POST = "themes-post"
    SHARE = "themes-share-forum"
    EDIT_VIEW = "themes-edit-draft"
    KEY_MESSAGES = "themes-key-messages"
    DROP = "themes-drop"


# ---------------------------------------------------------------------------------------------
# the collation


@dataclass(frozen=True)
class ThemeCount:
    """How many recorded audits raised a theme, this quarter and before."""

    kind: str  # improve | good
    theme: str
    count: int
    previous: int | None  # None when no audit in scope was recorded last quarter
    average_last_four: float | None  # over those of the four previous quarters that had audits

    @property
    def direction(self) -> str | None:
        if self.previous is None:
            return None
        if self.count > self.previous:
            return "up"
        if self.count < self.previous:
            return "down"
        return "same"


@dataclass(frozen=True)
class Point:
    """One anonymised learning point (an audit's answer, privacy-checked when it was stored)."""

    theme: str | None
    text: str


@dataclass(frozen=True)
class Rolling:
    """The quarter and the three before it added up: in a small service a quarter is too small for
    counts, but a year of audits often is not, so the post can still show numbers and a chart."""

    first: Quarter
    last: Quarter
    audits: int
    improve: list[tuple[str, int]]  # (theme, audits raising it), most raised first
    good: list[tuple[str, int]]
    actions: dict[str, int]

    @property
    def label(self) -> str:
        return f"{self.first.label} to {self.last.label}"

    def counts(self, kind: str) -> list[tuple[str, int]]:
        return self.improve if kind == "improve" else self.good


@dataclass
class Collation:
    quarter: Quarter
    service_id: int | None
    scope_name: str
    audits_recorded: int
    audits_previous: int
    improve: list[ThemeCount]
    good: list[ThemeCount]
    improve_points: list[Point]
    good_points: list[Point]
    wider_learning: list[str]
    actions: dict[str, int]
    by_service: list[tuple[str, int]] = field(default_factory=list)  # across services only
    withheld: int = 0  # points left out because they looked like a case reference or a person
    rolling: Rolling | None = None  # the last four quarters (this one included)

    def counts(self, kind: str) -> list[ThemeCount]:
        return self.improve if kind == "improve" else self.good

    def top(self, kind: str) -> ThemeCount | None:
        raised = [c for c in self.counts(kind) if c.count > 0]
        return raised[0] if raised else None


# ---------------------------------------------------------------------------------------------
# the content: the lines people read


@dataclass(frozen=True)
class Line:
    """One line of the learning, with a stable id so a Service Manager's "drop" survives recounts."""

    id: str
    section: str
    group: str | None  # the theme a point is listed under
    text: str  # mrkdwn, as shown
    label: str  # short plain text for the "leave out" checkbox
    detail: str = ""  # the rest of a long line, for the checkbox's description


@dataclass(frozen=True)
class ChartData:
    categories: list[str]
    this_quarter: list[int]
    last_quarter: list[int]
    this_label: str
    last_label: str
    title: str
    caption: str
    rolling: bool = False  # one series: the last four quarters added up (``this_quarter`` holds it)
    alt_text: str = ""  # what the chart shows, withheld counts said as withheld (bot.core.charts.alt_text)

    def series(self) -> dict[str, list[int]]:
        if self.rolling:
            return {self.this_label: self.this_quarter}
        return {self.this_label: self.this_quarter, self.last_label: self.last_quarter}


@dataclass
class ThemeContent:
    title: str
    scope_name: str
    quarter: Quarter
    intro: str
    key_messages: str
    lines: list[Line]
    actions_line: str
    notes: list[str]
    chart: ChartData | None
    dropped: set[str] = field(default_factory=set)
    titles: dict[str, str] = field(default_factory=dict)  # a section's title when not the usual one

    def title_of(self, section: str) -> str:
        return self.titles.get(section, SECTION_TITLES[section])

    def shown(self) -> list[Line]:
        return [line for line in self.lines if line.id not in self.dropped]


# ---------------------------------------------------------------------------------------------
# posting and sharing


@dataclass(frozen=True)
class ForumTarget:
    key: str
    name: str
    channel: str


@dataclass
class PostResult:
    posted: bool
    channel: str
    messages: int
    chart: bool
