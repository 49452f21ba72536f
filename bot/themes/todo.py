"""What other parts of the bot read from learning themes: the App Home to-do (a draft awaiting
review) and the Continuous Improvement Board digest's lines (counts only, suppressed)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.calendar import Quarter
from bot.core.council import calendar_of, policy_of
from bot.core.privacy import SmallCounts, escape
from bot.core.roles import Role
from bot.core.todo import Todo
from bot.themes.collation import collate
from bot.themes.content import arrow, line_id
from bot.themes.types import GOOD_THEMES, IMPROVE_THEMES, ThemesAction
from storage.models import Person, Service
from storage.models.themes import ThemeDraft

TOP_THEMES_IN_DIGEST = 3


def todo_for(session: Session, slack_id: str, today: date) -> list[Todo]:
    """A draft awaiting this Service Manager's review (and, once escalated, Q&I's)."""
    person = session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))
    if person is None:
        return []
    is_qi = Role.QUALITY_IMPROVEMENT in {r.role for r in person.roles}
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
    shown = SmallCounts(policy.suppression_threshold, suppress=True)
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
                parts.append(_top(words, [(c.theme, c.count, arrow(c, shown)) for c in raised], shown))
        if parts:
            lines.append(f"*{escape(col.scope_name)}* ({col.quarter.label}): " + "; ".join(parts))
    if len(lines) > 1:
        parts = []
        for kind, words in (("improve", "to improve"), ("good", "good practice")):
            overall = sorted(((t, n, "") for (k, t), n in totals.items() if k == kind), key=lambda x: (-x[1], x[0]))
            if overall:
                parts.append(_top(words, overall, shown))
        if parts:
            lines.append("*Across these services*: " + "; ".join(parts))
    return lines


def _top(words: str, raised: list[tuple[str, int, str]], shown: SmallCounts) -> str:
    """The most raised themes (theme, count, arrow), with counts where they may be shown; when
    every count would be withheld, ranked without numbers, as the channel post does."""
    if shown.too_small(n for _, n, _ in raised):
        names = [escape(t) for place in shown.ranked((t, n) for t, n, _ in raised) for t in place]
        return f"{words}, most raised first: " + ", ".join(names[:TOP_THEMES_IN_DIGEST])
    return f"{words}: " + ", ".join(
        f"{escape(t)} ({shown.count(n)}{' ' + trend if trend else ''})" for t, n, trend in raised[:TOP_THEMES_IN_DIGEST])
