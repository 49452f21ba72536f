"""The collation of a quarter's learning: SQL does the counting, Python only shapes a bounded result.

``collate`` counts themes in the database (GROUP BY on theme tags joined to recorded audits) and
samples at most ``POINTS_PER_THEME`` learning points per theme with a window function, so its cost
does not grow with the number of audits held in Python. Every learning point passes the
``PointChecker`` before it can be shown: what looks like a case reference or a person is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, select, union_all
from sqlalchemy.orm import Session, aliased

from bot.core.calendar import Quarter
from bot.core.council import policy_of
from bot.core.errors import NotFound
from bot.core.policy import Policy
from bot.core.privacy import case_refs_in, free_text_problem, normalise
from bot.themes.types import KINDS, Collation, Point, Rolling, ThemeCount
from storage.models import Action, LearningAudit, Person, Service, ThemeTag

POINTS_PER_THEME = 10
WIDER_LEARNING_POINTS = 10


def parse_quarter(session: Session, text: str) -> Quarter:
    """A quarter as a person typed it ("2026-27 Q1"), in the council's year."""
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

    rolling_keys = [q.key] + [e.key for e in earlier[:3]]
    rolling_counts: dict[str, list[tuple[str, int]]] = {kind: [] for kind in KINDS}
    for (kind, theme), by_quarter in table.items():
        total = sum(by_quarter.get(k, 0) for k in rolling_keys)
        if total > 0:
            rolling_counts[kind].append((theme, total))
    for kind in KINDS:
        rolling_counts[kind].sort(key=lambda item: (-item[1], item[0]))
    rolling = Rolling(
        first=earlier[2], last=q, audits=sum(audits_by_quarter.get(k, 0) for k in rolling_keys),
        improve=rolling_counts["improve"], good=rolling_counts["good"],
        actions=action_states(session, today=today, service_id=service_id, quarter=rolling_keys),
    )

    checker = PointChecker(session, policy, today, quarter=q.key, service_id=service_id)
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
        rolling=rolling,
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
            per_theme: int, checker: PointChecker) -> list[Point]:
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


def _wider_learning(session: Session, quarter: str, service_id: int | None, checker: PointChecker) -> list[str]:
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


class PointChecker:
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
        self.policy = policy
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
        words = set(re.findall(r"[A-Za-z0-9]+", normalise(flat).upper()))
        tokens = {t.strip(".,;:()[]'\"").casefold() for t in flat.split()}
        if (case_refs_in(flat, self.policy) or "<@" in flat or "<!" in flat or words & people or tokens & refs
                or free_text_problem(flat, "learning", today=self.today)):
            self.withheld += 1
            return None
        return flat


def action_states(session: Session, *, today: date, service_id: int | None,
                  quarter: str | Sequence[str]) -> dict[str, int]:
    """Open, done and overdue learning-audit actions of a quarter (or of several, for the last four
    quarters) ("overdue" is the part of "open" past its due date).

    Counted here from the actions table, as ``bot.actions.service.action_counts`` counts them: the
    themes feature does not import the action-plan feature."""
    is_open = Action.status == "open"
    query = select(
        func.coalesce(func.sum(case((is_open, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Action.status == "done", 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(is_open, Action.due_on < today), 1), else_=0)), 0),
    ).where(Action.source_kind == "learning_audit",
            Action.quarter == quarter if isinstance(quarter, str) else Action.quarter.in_(list(quarter)))
    if service_id is not None:
        query = query.where(Action.service_id == service_id)
    opened, done, overdue = session.execute(query).one()
    return {"open": int(opened), "done": int(done), "overdue": int(overdue)}

