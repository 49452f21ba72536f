"""Collective learning themes: collated per service and quarter, reviewed by the Service Manager,
posted to the service's channel (and to forums) with a chart.

The framework's main output of learning audits is "an analysis of the collective themes of
learning to be shared within service, including what would have been needed to improve cases
and what good practice could be shared". This module is that analysis and its sharing:

- ``collate`` counts themes in the database (GROUP BY on theme tags joined to recorded audits)
  and samples at most ``POINTS_PER_THEME`` learning points per theme with a window function, so
  its cost does not grow with the number of audits held in Python;
- ``build_content`` turns a collation (and the Service Manager's draft) into the lines people
  read, applying the suppression threshold wherever the lines go to a channel;
- the ``post-learning-themes`` job drafts, the Service Manager reviews, ``post_draft`` posts once.

Nothing here talks to Slack directly: messages go through the outbox, Block Kit comes from
``bot.themes.messages``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select, union_all, update
from sqlalchemy.orm import Session, aliased

from bot.core import audit, directory, outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, NotFound, NotPermitted
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem
from bot.core.todo import Todo
from schedules.jobs import JobContext, NotDue, job
from storage.models import (
    Action,
    Forum,
    LearningAudit,
    LearningRound,
    OrgChannel,
    OrgSetting,
    OutboxMessage,
    Person,
    Service,
    ThemeTag,
    utcnow,
)
from storage.models.themes import ThemeDraft

log = logging.getLogger(__name__)

KINDS = ("improve", "good")
POINTS_PER_THEME = 10
WIDER_LEARNING_POINTS = 10
TOP_THEMES_IN_DIGEST = 3
BOT_ACTOR = "qmf-bot"
ARROWS = {"up": "▲", "down": "▼", "same": "＝"}

# Sections of the learning, in the order a post shows them.
IMPROVE_THEMES = "improve_themes"
GOOD_THEMES = "good_themes"
GOOD_POINTS = "good_points"
IMPROVE_POINTS = "improve_points"
WIDER = "wider"
SECTION_TITLES = {
    IMPROVE_THEMES: "Areas to improve: how often each theme was raised",
    GOOD_THEMES: "Good practice: how often each theme was raised",
    GOOD_POINTS: "Good practice to share",
    IMPROVE_POINTS: "What would have improved the cases",
    WIDER: "Wider learning for the service",
}
SECTION_ORDER = (IMPROVE_THEMES, GOOD_THEMES, GOOD_POINTS, IMPROVE_POINTS, WIDER)
UNTHEMED = "Not linked to a theme"


# =============================================================================================
# collation: SQL does the counting, Python only shapes a bounded result


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

    def counts(self, kind: str) -> list[ThemeCount]:
        return self.improve if kind == "improve" else self.good

    def top(self, kind: str) -> ThemeCount | None:
        raised = [c for c in self.counts(kind) if c.count > 0]
        return raised[0] if raised else None


def policy_of(session: Session) -> Policy:
    raw = session.scalar(select(OrgSetting.value).where(OrgSetting.key == "policy"))
    return Policy.model_validate(raw) if raw else Policy()


def calendar_of(session: Session) -> WorkingCalendar:
    """The council's calendar for code that has a session but no Runtime (todo, digest)."""
    values = {s.key: s.value for s in session.scalars(
        select(OrgSetting).where(OrgSetting.key.in_(("timezone", "bank_holidays"))))}
    return WorkingCalendar(values.get("timezone") or "Europe/London",
                           extra_holidays=[date.fromisoformat(d) for d in values.get("bank_holidays") or []],
                           year_start_month=policy_of(session).year_start_month)


def parse_quarter(session: Session, text: str) -> Quarter:
    return Quarter.parse(text, policy_of(session).year_start_month)


def collate(session: Session, *, quarter: str, service_id: int | None, today: date,
            points_per_theme: int = POINTS_PER_THEME) -> Collation:
    """The learning of one service's recorded audits in a quarter (all services when None)."""
    policy = policy_of(session)
    q = Quarter.parse(quarter, policy.year_start_month)
    earlier = [q.shift(-n) for n in range(1, 5)]
    keys = [q.key] + [e.key for e in earlier]

    audits_q = select(LearningAudit.quarter, func.count()).where(
        LearningAudit.status == "recorded", LearningAudit.quarter.in_(keys))
    if service_id is not None:
        audits_q = audits_q.where(LearningAudit.service_id == service_id)
    audits_by_quarter = {k: int(n) for k, n in session.execute(audits_q.group_by(LearningAudit.quarter))}

    table: dict[tuple[str, str], dict[str, int]] = {}
    for key, kind, theme, n in session.execute(_theme_counts_query(keys, service_id)):
        table.setdefault((kind, theme), {})[key] = table.get((kind, theme), {}).get(key, 0) + int(n)

    previous_had_audits = audits_by_quarter.get(earlier[0].key, 0) > 0
    earlier_with_audits = [e.key for e in earlier if audits_by_quarter.get(e.key, 0) > 0]
    counted: dict[str, list[ThemeCount]] = {kind: [] for kind in KINDS}
    for (kind, theme), by_quarter in table.items():
        now, before = by_quarter.get(q.key, 0), by_quarter.get(earlier[0].key, 0)
        if now == 0 and before == 0:
            continue  # raised only in older quarters: not this quarter's story
        average = (sum(by_quarter.get(k, 0) for k in earlier_with_audits) / len(earlier_with_audits)
                   if earlier_with_audits else None)
        counted[kind].append(ThemeCount(kind, theme, now, before if previous_had_audits else None, average))
    for kind in KINDS:
        counted[kind].sort(key=lambda c: (-c.count, -(c.previous or 0), c.theme))

    checker = _PointChecker(session, policy, today, quarter=q.key, service_id=service_id)
    improve_points = _points(session, q.key, service_id, "improve", counted["improve"], points_per_theme, checker)
    good_points = _points(session, q.key, service_id, "good", counted["good"], points_per_theme, checker)
    wider = _wider_learning(session, q.key, service_id, checker) if points_per_theme > 0 else []

    by_service: list[tuple[str, int]] = []
    if service_id is None:
        rows = session.execute(
            select(Service.name, func.count(LearningAudit.id))
            .join(LearningAudit, LearningAudit.service_id == Service.id)
            .where(LearningAudit.status == "recorded", LearningAudit.quarter == q.key)
            .group_by(Service.id, Service.name, Service.position)
            .order_by(Service.position, Service.name)
        )
        by_service = [(name, int(n)) for name, n in rows]
        scope_name = "all services"
    else:
        service = session.get(Service, service_id)
        if service is None:
            raise NotFound(f"There is no service with id {service_id}.")
        scope_name = service.name

    return Collation(
        quarter=q,
        service_id=service_id,
        scope_name=scope_name,
        audits_recorded=audits_by_quarter.get(q.key, 0),
        audits_previous=audits_by_quarter.get(earlier[0].key, 0),
        improve=counted["improve"],
        good=counted["good"],
        improve_points=improve_points,
        good_points=good_points,
        wider_learning=wider,
        actions=action_states(session, today=today, service_id=service_id, quarter=q.key),
        by_service=by_service,
        withheld=checker.withheld,
    )


def _theme_counts_query(keys: list[str], service_id: int | None) -> Any:
    """Recorded audits raising each theme, per quarter, kind and theme: one statement, two GROUP BYs.

    A theme can be tagged twice on one audit (by the auditor and in the case holder's
    reflection; never twice by the same source, a unique constraint says so), so the count of
    audits is the count of tags minus the reflection tags that have an auditor twin. That is
    two cheap hash aggregates instead of a COUNT(DISTINCT), which sorts every tag. Audits not
    recorded yet are left out with an anti-join: there are few of them, so the database hashes
    a handful of ids instead of every audit of five quarters.
    """

    def scoped(query: Any, tag: Any) -> Any:
        pending = aliased(LearningAudit)
        query = query.where(
            tag.quarter.in_(keys), tag.kind.in_(KINDS),
            ~exists().where(pending.id == tag.audit_id, pending.status != "recorded"),
        )
        if service_id is not None:
            query = query.where(tag.service_id == service_id)
        return query.group_by(tag.quarter, tag.kind, tag.theme)

    tags = scoped(select(ThemeTag.quarter, ThemeTag.kind, ThemeTag.theme, func.count()), ThemeTag)
    reflection, twin = aliased(ThemeTag), aliased(ThemeTag)
    twins = scoped(
        select(reflection.quarter, reflection.kind, reflection.theme, -func.count())
        .join(twin, and_(twin.audit_id == reflection.audit_id, twin.kind == reflection.kind,
                         twin.theme == reflection.theme, twin.source == "audit", twin.quarter.in_(keys)))
        .where(reflection.source == "reflection"),
        reflection,
    )
    return union_all(tags, twins)


_TEXT_COLUMN = {"improve": LearningAudit.needed_to_improve, "good": LearningAudit.good_practice}


def _points(session: Session, quarter: str, service_id: int | None, kind: str, order: list[ThemeCount],
            per_theme: int, checker: _PointChecker) -> list[Point]:
    """Up to ``per_theme`` answers per theme, ranked by the database; each answer shown once.

    An audit's answer is tagged with several themes; it is shown under the most raised of them,
    so the same words never appear twice in a post.
    """
    if per_theme <= 0:
        return []
    text = _TEXT_COLUMN[kind]
    scope = [LearningAudit.status == "recorded", LearningAudit.quarter == quarter,
             text.is_not(None), func.length(func.trim(text)) > 0]
    if service_id is not None:
        scope.append(LearningAudit.service_id == service_id)
    # every audit with an answer, once per theme of this kind it raised (theme NULL: none raised)
    pairs = (
        select(ThemeTag.theme.label("theme"), LearningAudit.id.label("audit_id"))
        .select_from(LearningAudit)
        .outerjoin(ThemeTag, and_(ThemeTag.audit_id == LearningAudit.id, ThemeTag.kind == kind,
                                  ThemeTag.quarter == quarter))
        .where(*scope)
        .distinct()
        .subquery()
    )
    ranked = select(
        pairs.c.theme, pairs.c.audit_id,
        func.row_number().over(partition_by=pairs.c.theme, order_by=pairs.c.audit_id.desc()).label("rank"),
    ).subquery()
    found = session.execute(
        select(ranked.c.theme, ranked.c.audit_id, text)
        .join(LearningAudit, LearningAudit.id == ranked.c.audit_id)
        .where(ranked.c.rank <= per_theme)
    ).all()
    rows = [(theme, audit_id, body) for theme, audit_id, body in found if theme is not None]
    untagged = [(audit_id, body) for theme, audit_id, body in found if theme is None]

    rank: dict[str | None, int] = {c.theme: i for i, c in enumerate(order)}
    by_theme: dict[str | None, list[tuple[int, str]]] = {}
    for theme, audit_id, body in rows:
        by_theme.setdefault(theme, []).append((audit_id, body))
    themes = sorted(by_theme, key=lambda t: (rank.get(t, len(rank)), t or ""))
    used_audits: set[int] = set()
    seen_text: set[str] = set()
    out: list[Point] = []
    for theme in [*themes, None]:
        items = by_theme.get(theme, []) if theme is not None else [(a, b) for a, b in untagged]
        for audit_id, body in sorted(items, key=lambda item: -item[0]):
            if audit_id in used_audits:
                continue
            used_audits.add(audit_id)
            clean = checker.clean(body)
            if clean is None or clean.casefold() in seen_text:
                continue
            seen_text.add(clean.casefold())
            out.append(Point(theme if theme is not None else None, clean))
    return out


def _wider_learning(session: Session, quarter: str, service_id: int | None, checker: _PointChecker) -> list[str]:
    column = LearningAudit.wider_learning
    query = (
        select(column)
        .where(LearningAudit.status == "recorded", LearningAudit.quarter == quarter,
               column.is_not(None), func.length(func.trim(column)) > 0)
        .order_by(LearningAudit.id.desc())
        .limit(WIDER_LEARNING_POINTS)
    )
    if service_id is not None:
        query = query.where(LearningAudit.service_id == service_id)
    out: list[str] = []
    for body in session.scalars(query):
        clean = checker.clean(body)
        if clean is not None and clean.casefold() not in {o.casefold() for o in out}:
            out.append(clean)
    return out


class _PointChecker:
    """A last check before learning text is shared: no case reference, no person, no identifier.

    The text was checked when it was typed, but a case reference or a Slack mention is allowed in
    an audit record and must still never reach a channel. Anything doubtful is left out (and
    counted, so the Service Manager is told) rather than edited, so no one's words are changed.
    """

    def __init__(self, session: Session, policy: Policy, today: date, *, quarter: str | None = None,
                 service_id: int | None = None) -> None:
        self.session = session
        self.today = today
        self.quarter = quarter
        self.service_id = service_id
        self.withheld = 0
        pattern = policy.case_reference_pattern.removeprefix("^").removesuffix("$")
        self.case_ref = re.compile(rf"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])")
        self._refs: set[str] | None = None
        self._people: set[str] | None = None

    def _load(self) -> tuple[set[str], set[str]]:
        """The case references in scope and everyone's Slack id, read once and only if there is text."""
        if self._refs is None or self._people is None:
            refs = select(LearningAudit.case_ref).distinct()
            if self.quarter is not None:
                refs = refs.where(LearningAudit.quarter == self.quarter)
            if self.service_id is not None:
                refs = refs.where(LearningAudit.service_id == self.service_id)
            self._refs = {r.casefold() for r in self.session.scalars(refs) if r}
            self._people = {p.upper() for p in self.session.scalars(select(Person.slack_id)) if p}
        return self._refs, self._people

    def clean(self, text: str | None) -> str | None:
        if not text:
            return None
        flat = " ".join(text.split())
        if not flat:
            return None
        refs, people = self._load()
        words = set(re.findall(r"[A-Za-z0-9]+", flat.upper()))
        tokens = {t.strip(".,;:()[]'\"").casefold() for t in flat.split()}
        if (self.case_ref.search(flat) or "<@" in flat or "<!" in flat or words & people or tokens & refs
                or free_text_problem(flat, "learning", today=self.today)):
            self.withheld += 1
            return None
        return flat


def action_states(session: Session, *, today: date, service_id: int | None, quarter: str) -> dict[str, int]:
    """Open, done and overdue learning-audit actions, from the actions module when it is there."""
    try:
        from bot.actions.service import action_counts
    except ImportError:
        action_counts = None  # type: ignore[assignment]
    if action_counts is not None:
        return dict(action_counts(session, today=today, service_id=service_id, quarter=quarter,
                                  source_kinds=("learning_audit",)))
    is_open = Action.status == "open"
    query = select(
        func.coalesce(func.sum(case((is_open, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Action.status == "done", 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(is_open, Action.due_on < today), 1), else_=0)), 0),
    ).where(Action.source_kind == "learning_audit", Action.quarter == quarter)
    if service_id is not None:
        query = query.where(Action.service_id == service_id)
    opened, done, overdue = session.execute(query).one()
    return {"open": int(opened), "done": int(done), "overdue": int(overdue)}


# =============================================================================================
# content: the lines people read, with suppression where they reach a channel


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

    def shown(self) -> list[Line]:
        return [line for line in self.lines if line.id not in self.dropped]


def line_id(section: str, group: str | None, raw: str) -> str:
    return hashlib.sha1(f"{section}|{group or ''}|{raw}".encode()).hexdigest()[:12]


def escape(text: str) -> str:
    """Slack mrkdwn control characters, so learning text can never become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Shown:
    """How counts are written: exact for the named people who may see them, suppressed elsewhere."""

    def __init__(self, threshold: int, suppress: bool) -> None:
        self.threshold = threshold
        self.suppress = suppress

    def hidden(self, n: float) -> bool:
        return self.suppress and 0 < n < self.threshold

    def count(self, n: int) -> str:
        if n == 0:
            return "none"
        return f"fewer than {self.threshold}" if self.hidden(n) else str(n)

    def export(self, n: int | None) -> str:
        if n is None:
            return ""
        return f"<{self.threshold}" if self.hidden(n) else str(n)

    def average(self, value: float | None) -> str | None:
        if value is None:
            return None
        if value == 0:
            return "none"
        if self.hidden(value):
            return f"fewer than {self.threshold}"
        return f"{value:.1f}".removesuffix(".0")

    def arrow(self, c: ThemeCount) -> str:
        direction = c.direction
        if direction is None:
            return ""
        if self.suppress and max(c.count, c.previous or 0) < self.threshold:
            return ""  # both sides hidden: the direction alone would tell which small number is bigger
        return ARROWS[direction]


def theme_line(c: ThemeCount, shown: Shown) -> str:
    arrow = shown.arrow(c)
    parts = []
    if c.previous is not None:
        parts.append(f"last quarter {shown.count(c.previous)}")
    average = shown.average(c.average_last_four)
    if average is not None:
        parts.append(f"average of the last four quarters {average}")
    tail = f" ({', '.join(parts)})" if parts else ""
    return f"• *{escape(c.theme)}*: {shown.count(c.count)}{' ' + arrow if arrow else ''}{tail}"


def default_key_messages(col: Collation, shown: Shown) -> str:
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
    shown = Shown(policy.suppression_threshold, suppress)
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
    gone = set(dropped)
    categories: list[str] = []
    this: list[int] = []
    last: list[int] = []
    for kind, section in (("improve", IMPROVE_THEMES), ("good", GOOD_THEMES)):
        for c in col.counts(kind):
            if line_id(section, None, c.theme) in gone:
                continue
            before = c.previous or 0
            if suppress and c.count < t and before < t:
                continue
            hide_now = suppress and 0 < c.count < t
            hide_before = suppress and 0 < before < t
            prefix = "To improve" if kind == "improve" else "Good practice"
            categories.append(f"{prefix}: {c.theme}{' *' if hide_now or hide_before else ''}")
            this.append(0 if hide_now else c.count)
            last.append(0 if hide_before else before)
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


# =============================================================================================
# permissions


def can_post(who: directory.Who, service: Service) -> bool:
    return service.id in {s.id for s in who.services_managed} or who.has("quality_improvement", "admin")


def can_view(who: directory.Who, service: Service | None) -> bool:
    if who.has("quality_improvement", "dlt", "admin"):
        return True
    if service is None:
        return False
    return (service.id in {s.id for s in who.services_managed}
            or service.id in {t.service_id for t in who.teams_managed})


# =============================================================================================
# drafts, posting and sharing


def draft_for(session: Session, quarter: str, service_id: int) -> ThemeDraft | None:
    return session.scalar(select(ThemeDraft).where(ThemeDraft.quarter == quarter, ThemeDraft.service_id == service_id))


def get_draft(session: Session, draft_id: int | str) -> ThemeDraft:
    try:
        draft = session.get(ThemeDraft, int(draft_id))
    except (TypeError, ValueError):
        draft = None
    if draft is None:
        raise NotFound("I can't find that learning themes draft any more.")
    return draft


def draft_content(session: Session, draft: ThemeDraft, *, today: date, suppress: bool = True,
                  shared_for: str | None = None) -> tuple[Collation, ThemeContent]:
    col = collate(session, quarter=draft.quarter, service_id=draft.service_id, today=today)
    return col, build_content(col, policy_of(session), suppress=suppress, draft=draft, shared_for=shared_for)


def save_edit(session: Session, draft: ThemeDraft, *, actor: str, key_messages: str,
              dropped: Sequence[str], shown_ids: Sequence[str], now: datetime | None = None) -> None:
    """Store the Service Manager's key messages and dropped lines (lines not in the modal keep theirs)."""
    keep = [d for d in (draft.dropped_lines or []) if d not in set(shown_ids)]
    draft.key_messages = key_messages.strip()
    draft.dropped_lines = sorted(set(keep) | set(dropped))
    draft.edited_by = actor
    draft.updated_at = now or utcnow()
    audit.record(session, actor, "edit", "theme_draft", draft.id, quarter=draft.quarter,
                 service=draft.service_id, dropped=len(draft.dropped_lines))


def key_messages_problem(session: Session, text: str, today: date) -> str | None:
    """Why the key messages can't be posted to a channel, or None."""
    problem = free_text_problem(text, "Key messages", today=today)
    if problem:
        return problem
    checker = _PointChecker(session, policy_of(session), today)
    if checker.clean(text) is None:
        return ("This looks like a case reference or a person. Key messages go to a channel: "
                "no case references, names or identifying details.")
    return None


@dataclass
class PostResult:
    posted: bool
    channel: str
    messages: int
    chart: bool


def enqueue_learning(session: Session, content: ThemeContent, *, channel: str, key: str) -> tuple[int, bool, int | None]:
    """Queue the post (and continuation messages) and its chart; returns (messages, chart, first outbox id)."""
    from bot.themes.messages import post_messages

    messages = post_messages(content)
    for index, (text, blocks) in enumerate(messages):
        outbox.enqueue(session, channel=channel, text=text, blocks=blocks, dedupe_key=f"{key}:msg:{index}")
    if content.chart is not None:
        chart = content.chart
        outbox.enqueue_chart(
            session, channel=channel, file_name=f"learning-themes-{content.quarter.key}.png",
            title=chart.title, categories=chart.categories,
            series={chart.this_label: chart.this_quarter, chart.last_label: chart.last_quarter},
            chart_title=chart.title, xlabel="Learning audits raising the theme", text=chart.caption,
            dedupe_key=f"{key}:chart")
    first = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"{key}:msg:0"))
    return len(messages), content.chart is not None, first


def post_draft(session: Session, draft: ThemeDraft, *, actor: str, today: date, now: datetime) -> PostResult:
    """Post a draft to its service's channel, once: the status flip is the lock, the dedupe keys the net."""
    service = draft.service
    if not service.channel:
        raise Conflict(f"{service.name} has no channel in the org file, so there is nowhere to post its "
                       "learning themes. Ask an admin to add the service's channel.")
    flipped = session.execute(
        update(ThemeDraft).where(ThemeDraft.id == draft.id, ThemeDraft.status == "draft")
        .values(status="posted", posted_at=now, posted_by=actor, channel=service.channel)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(draft)
    if not flipped:
        return PostResult(False, draft.channel or service.channel, 0, False)
    _, content = draft_content(session, draft, today=today)
    count, chart, first = enqueue_learning(session, content, channel=service.channel, key=f"themes-post:{draft.id}")
    draft.post_outbox_id = first
    audit.record(session, actor, "post", "theme_draft", draft.id, quarter=draft.quarter, service=service.key,
                 channel=service.channel, messages=count)
    manager = service.service_manager.slack_id
    if actor != manager:
        from bot.themes.messages import posted_note

        text, blocks = posted_note(service.name, Quarter.parse(draft.quarter, policy_of(session).year_start_month),
                                   service.channel, None if actor == BOT_ACTOR else actor)
        outbox.enqueue(session, channel=manager, text=text, blocks=blocks, dedupe_key=f"themes-posted-note:{draft.id}")
    return PostResult(True, service.channel, count, chart)


@dataclass(frozen=True)
class ForumTarget:
    key: str
    name: str
    channel: str


def forums(session: Session) -> list[ForumTarget]:
    """The org file's forums, and the Continuous Improvement Board's channel."""
    out = [ForumTarget(f"forum-{f.id}", f.name, f.channel)
           for f in session.scalars(select(Forum).where(Forum.active).order_by(Forum.position, Forum.id))]
    cib = session.scalar(select(OrgChannel.channel_id).where(OrgChannel.name == "continuous_improvement_board"))
    if cib and cib not in {f.channel for f in out}:
        out.append(ForumTarget("cib", "Continuous Improvement Board", cib))
    return out


def find_forum(session: Session, text: str) -> ForumTarget:
    wanted = " ".join(text.split()).casefold()
    targets = forums(session)
    for target in targets:
        if wanted in (target.key.casefold(), target.name.casefold(), target.channel.casefold()):
            return target
    names = ", ".join(f"“{t.name}”" for t in targets) or "none in the org file"
    raise NotFound(f"I don't know the forum “{text}”. Forums: {names}.")


def share_with_forum(session: Session, *, actor: str, service: Service | None, quarter: Quarter,
                     forum: ForumTarget, today: date) -> bool:
    """Send the learning (the draft's version, if there is one) to a forum's channel, once per forum."""
    who = directory.who(session, actor)
    if service is None:
        if not who.has("quality_improvement", "admin", "dlt"):
            raise NotPermitted("Only Quality & Improvement, the leadership team and admins can share the learning "
                               "of all services.")
    elif not can_post(who, service):
        raise NotPermitted(f"Only {service.name}'s Service Manager, Quality & Improvement and admins can share "
                           f"{service.name}'s learning themes.")
    draft = draft_for(session, quarter.key, service.id) if service is not None else None
    col = collate(session, quarter=quarter.key, service_id=service.id if service else None, today=today)
    if col.audits_recorded == 0:
        raise NotFound(f"No learning audits were recorded for {col.scope_name} in {quarter.label}, "
                       "so there is no learning to share yet.")
    content = build_content(col, policy_of(session), suppress=True, draft=draft, shared_for=forum.name)
    key = f"themes-forum:{quarter.key}:{service.id if service else 'all'}:{forum.channel}"
    already = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"{key}:msg:0"))
    if already is not None:
        return False
    enqueue_learning(session, content, channel=forum.channel, key=key)
    audit.record(session, actor, "share", "learning_themes", quarter.key, service=service.key if service else "all",
                 forum=forum.name, channel=forum.channel)
    return True


# =============================================================================================
# the job: draft (or post) each service's themes once the audits are in


def review_quarter(session: Session, calendar: WorkingCalendar, policy: Policy, today: date) -> Quarter | None:
    """The most recent learning round whose themes review date has arrived."""
    rounds = session.scalars(
        select(LearningRound).where(LearningRound.audits_due.is_not(None)).order_by(LearningRound.audits_due.desc())
    ).all()
    for learning_round in rounds:
        assert learning_round.audits_due is not None
        if calendar.add_working_days(learning_round.audits_due, policy.themes_review_working_days) <= today:
            return Quarter.parse(learning_round.quarter, policy.year_start_month)
    return None


def _themes_period(ctx: JobContext) -> str:
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{ctx.today.isoformat()} is not a working day")
    quarter = review_quarter(ctx.session, ctx.calendar, ctx.policy, ctx.today)
    if quarter is None:
        raise NotDue("no learning round has reached its themes review date yet")
    if ctx.session.scalar(select(func.count()).select_from(ThemeDraft).where(ThemeDraft.quarter == quarter.key)):
        raise NotDue(f"the learning themes for {quarter.label} are already drafted")
    return quarter.key


@job("post-learning-themes",
     description="Draft each service's learning themes for its Service Manager to review and post",
     cron={"day_of_week": "mon-fri", "hour": 9, "minute": 30}, period=_themes_period)
def post_learning_themes(ctx: JobContext) -> str:
    from bot.themes.messages import draft_dm

    session, policy = ctx.session, ctx.policy
    quarter = review_quarter(session, ctx.calendar, policy, ctx.today)
    assert quarter is not None  # the period said so
    recorded = dict(session.execute(
        select(LearningAudit.service_id, func.count())
        .where(LearningAudit.status == "recorded", LearningAudit.quarter == quarter.key)
        .group_by(LearningAudit.service_id)
    ).all())
    drafted: list[str] = []
    told: list[str] = []
    posted: list[str] = []
    away: list[str] = []
    skipped: list[str] = []
    forum_list = forums(session)
    for service in directory.active_services(session):
        if not recorded.get(service.id):
            continue
        draft = draft_for(session, quarter.key, service.id)
        if draft is None:
            draft = ThemeDraft(quarter=quarter.key, service_id=service.id, status="draft",
                               created_at=ctx.now, updated_at=ctx.now)
            session.add(draft)
            session.flush()
            audit.record(session, BOT_ACTOR, "create", "theme_draft", draft.id, quarter=quarter.key,
                         service=service.key)
        drafted.append(service.name)
        if policy.themes_post_without_review:
            if not service.channel:
                skipped.append(service.name)
                continue
            if post_draft(session, draft, actor=BOT_ACTOR, today=ctx.today, now=ctx.now).posted:
                posted.append(service.name)
            continue
        manager = service.service_manager
        if not directory.is_available(manager, ctx.today):
            away.append(service.name)  # Q&I are told at the next reminders run
            continue
        col, content = draft_content(session, draft, today=ctx.today)
        text, blocks = draft_dm(draft.id, content, channel=service.channel, forums=forum_list,
                                withheld=col.withheld)
        if outbox.enqueue(session, channel=manager.slack_id, text=text, blocks=blocks,
                          dedupe_key=f"themes-draft:{draft.id}"):
            told.append(manager.slack_id)
    if skipped:
        _tell_qi_no_channel(session, quarter, skipped)
    if not drafted:
        return f"No learning audits were recorded in {quarter.label}: no themes to draft."
    summary = f"Learning themes for {quarter.label}: {len(drafted)} service(s) ({', '.join(drafted)})"
    if policy.themes_post_without_review:
        summary += f"; posted without review to {len(posted)} channel(s)"
        if skipped:
            summary += f"; no channel for {', '.join(skipped)} (Q&I told)"
        return summary + "."
    summary += f"; drafts sent to {len(told)} Service Manager(s)"
    if away:
        summary += f"; Service Manager away for {', '.join(away)} (Q&I will be told)"
    return summary + "."


def _tell_qi_no_channel(session: Session, quarter: Quarter, services: list[str]) -> None:
    channel = directory.channel_for(session, "quality_improvement")
    if not channel:
        return
    outbox.enqueue(
        session, channel=channel, dedupe_key=f"themes-no-channel:{quarter.key}",
        text=(f"The learning themes for {quarter.label} could not be posted for {', '.join(services)}: "
              "the org file has no channel for them. Add one and post from `/qmf themes`."),
    )


# =============================================================================================
# reminders: the daily send-reminders job calls this


def send_theme_reminders(ctx: JobContext) -> str:
    """Tell Q&I about drafts the Service Manager has not posted in time (or cannot, being away)."""
    from bot.themes.messages import escalation_dm

    session = ctx.session
    _sync_channel_ts(session)
    if not ctx.calendar.is_working_day(ctx.today):
        return "Learning themes: not a working day, no reminders."
    qi_people = [p for p in session.scalars(
        select(Person).where(Person.slack_id.in_(directory.people_with_role(session, "quality_improvement"))))
        if directory.is_available(p, ctx.today)]
    waiting = session.scalars(
        select(ThemeDraft).where(ThemeDraft.status == "draft", ThemeDraft.escalated_at.is_(None))
        .order_by(ThemeDraft.id)
    ).all()
    escalated: list[str] = []
    for draft in waiting:
        manager = draft.service.service_manager
        created = ctx.calendar.today(draft.created_at)
        days = ctx.calendar.working_days_between(created, ctx.today)
        manager_away = not directory.is_available(manager, ctx.today)
        if days < ctx.policy.themes_escalate_working_days and not manager_away:
            continue
        if not qi_people:
            continue
        _, content = draft_content(session, draft, today=ctx.today)
        reason = "is away" if manager_away and days < ctx.policy.themes_escalate_working_days else \
            f"has not posted it after {days} working days"
        for person in qi_people:
            text, blocks = escalation_dm(draft.id, content, manager=manager.slack_id, reason=reason,
                                         channel=draft.service.channel)
            outbox.enqueue(session, channel=person.slack_id, text=text, blocks=blocks,
                           dedupe_key=f"themes-escalate:{draft.id}:{person.slack_id}")
        draft.escalated_at = ctx.now
        escalated.append(f"{draft.service.name} {content.quarter.label}")
    if not escalated:
        return "Learning themes: no drafts waiting too long."
    return f"Learning themes: told Q&I about {len(escalated)} draft(s) waiting ({'; '.join(escalated)})."


def _sync_channel_ts(session: Session) -> None:
    """Copy the Slack ts of each post once the outbox has sent it, so the draft says where it is."""
    rows = session.execute(
        select(ThemeDraft, OutboxMessage.ts)
        .join(OutboxMessage, OutboxMessage.id == ThemeDraft.post_outbox_id)
        .where(ThemeDraft.channel_ts.is_(None), OutboxMessage.ts.is_not(None))
    ).all()
    for draft, ts in rows:
        draft.channel_ts = ts


# =============================================================================================
# App Home and the CIB digest


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """A draft awaiting this Service Manager's review (and, once escalated, Q&I's)."""
    from bot.themes.messages import ThemesAction

    person = session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))
    if person is None:
        return []
    is_qi = "quality_improvement" in {r.role for r in person.roles}
    query = select(ThemeDraft).join(Service, Service.id == ThemeDraft.service_id).where(ThemeDraft.status == "draft")
    if is_qi:
        query = query.where((Service.service_manager_id == person.id) | ThemeDraft.escalated_at.is_not(None))
    else:
        query = query.where(Service.service_manager_id == person.id)
    drafts = session.scalars(query.order_by(ThemeDraft.id)).all()
    if not drafts:
        return []
    calendar = calendar_of(session)
    policy = policy_of(session)
    out: list[Todo] = []
    for draft in drafts:
        quarter = Quarter.parse(draft.quarter, policy.year_start_month)
        due = calendar.add_working_days(calendar.today(draft.created_at), policy.themes_escalate_working_days)
        mine = draft.service.service_manager_id == person.id
        text = (f"*Learning themes* for {draft.service.name}, {quarter.label}: "
                + ("review the draft and post it to the service's channel."
                   if mine else "the Service Manager has not posted the draft yet; you can post it."))
        out.append(Todo(due=due, kind="learning_themes", text=text, button_label="Review learning themes",
                        action_id=ThemesAction.EDIT.value, value=str(draft.id)))
    return out


def digest_lines(session: Session, since: date, until: date) -> list[str]:
    """Each service's top themes for the learning posted between the two dates (inclusive), suppressed.

    For the Continuous Improvement Board digest: counts only, no learning text, the Service
    Manager's dropped lines respected, and a last line adding the services up.
    """
    calendar = calendar_of(session)
    policy = policy_of(session)
    start = datetime.combine(since, time(0), tzinfo=calendar.tz)
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=calendar.tz)
    drafts = session.scalars(
        select(ThemeDraft).join(Service, Service.id == ThemeDraft.service_id)
        .where(ThemeDraft.status == "posted", ThemeDraft.posted_at >= start, ThemeDraft.posted_at < end)
        .order_by(ThemeDraft.quarter, Service.position, Service.name)
    ).all()
    shown = Shown(policy.suppression_threshold, True)
    lines: list[str] = []
    totals: dict[tuple[str, str], int] = {}
    for draft in drafts:
        col = collate(session, quarter=draft.quarter, service_id=draft.service_id, today=until, points_per_theme=0)
        dropped = set(draft.dropped_lines or [])
        parts = []
        for kind, section, words in (("improve", IMPROVE_THEMES, "to improve"), ("good", GOOD_THEMES, "good practice")):
            raised = [c for c in col.counts(kind) if c.count > 0 and line_id(section, None, c.theme) not in dropped]
            for c in raised:
                totals[(kind, c.theme)] = totals.get((kind, c.theme), 0) + c.count
            if raised:
                top = raised[:TOP_THEMES_IN_DIGEST]
                parts.append(f"{words}: " + ", ".join(
                    f"{escape(c.theme)} ({shown.count(c.count)}{' ' + shown.arrow(c) if shown.arrow(c) else ''})"
                    for c in top))
        if parts:
            lines.append(f"*{escape(col.scope_name)}* ({col.quarter.label}): " + "; ".join(parts))
    if len(lines) > 1:
        parts = []
        for kind, words in (("improve", "to improve"), ("good", "good practice")):
            overall = sorted(((n, t) for (k, t), n in totals.items() if k == kind), key=lambda x: (-x[0], x[1]))
            if overall:
                parts.append(f"{words}: " + ", ".join(
                    f"{escape(t)} ({shown.count(n)})" for n, t in overall[:TOP_THEMES_IN_DIGEST]))
        if parts:
            lines.append("*Across these services*: " + "; ".join(parts))
    return lines
