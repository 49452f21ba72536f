"""Collective learning themes: reviewed by the Service Manager, posted to the service's channel (and
shared with forums) with a chart.

The framework's main output of learning audits is "an analysis of the collective themes of
learning to be shared within service, including what would have been needed to improve cases
and what good practice could be shared". This module is the review and the sharing:

- ``bot.themes.collation`` counts the themes and picks the learning points (``collate``);
- ``bot.themes.content`` turns a collation (and the Service Manager's draft) into the lines people
  read, applying the suppression threshold wherever the lines go to a channel;
- the ``post-learning-themes`` job (``bot.themes.jobs``) drafts, the Service Manager reviews here
  (``save_edit``), and ``post_draft`` posts once.

Nothing here talks to Slack directly: messages go through the outbox, Block Kit comes from
``bot.themes.messages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.calendar import Quarter
from bot.core.council import policy_of
from bot.core.errors import Conflict, NotFound, NotPermitted
from bot.core.privacy import free_text_problem
from bot.core.roles import Channel, Role
from bot.themes.collation import PointChecker, collate
from bot.themes.content import build_content
from bot.themes.messages import post_messages, posted_note
from bot.themes.types import BOT_ACTOR, Collation, ForumTarget, PostResult, ThemeContent
from storage.models import Forum, OrgChannel, OutboxMessage, Service, utcnow
from storage.models.themes import ThemeDraft

# =============================================================================================
# permissions


def can_post(who: directory.Who, service: Service) -> bool:
    return service.id in {s.id for s in who.services_managed} or who.has(Role.QUALITY_IMPROVEMENT, Role.ADMIN)


def can_view(who: directory.Who, service: Service | None) -> bool:
    if who.has(Role.QUALITY_IMPROVEMENT, Role.DLT, Role.ADMIN):
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
    checker = PointChecker(session, policy_of(session), today)
    if checker.clean(text) is None:
        return ("This looks like a case reference or a person. Key messages go to a channel: "
                "no case references, names or identifying details.")
    return None


def enqueue_learning(session: Session, content: ThemeContent, *, channel: str, key: str) -> tuple[int, bool, int | None]:
    """Queue the post (and continuation messages) and its chart; returns (messages, chart, first outbox id)."""
    messages = post_messages(content)
    for index, (text, blocks) in enumerate(messages):
        outbox.enqueue(session, channel=channel, text=text, blocks=blocks, dedupe_key=f"{key}:msg:{index}")
    if content.chart is not None:
        chart = content.chart
        outbox.enqueue_chart(
            session, channel=channel, file_name=f"learning-themes-{content.quarter.key}.png",
            title=chart.title, categories=chart.categories,
            series=dict(chart.series()),
            chart_title=chart.title, xlabel="Learning audits raising the theme", text=chart.caption,
            alt_text=chart.alt_text or chart.caption, dedupe_key=f"{key}:chart")
    first = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"{key}:msg:0"))
    return len(messages), content.chart is not None, first


def post_draft(session: Session, draft: ThemeDraft, *, actor: str, today: date, now: datetime) -> PostResult:
    """Post a draft to its service's channel, once: the status flip is the lock, the dedupe keys the net."""
    service = draft.service
    if not service.channel:
        raise Conflict(f"{service.name} has no channel in the QMF directory, so there is nowhere to post "
                       "its learning themes. Ask a QMF admin to add the service's channel.")
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
        text, blocks = posted_note(service.name, Quarter.parse(draft.quarter, policy_of(session).year_start_month),
                                   service.channel, None if actor == BOT_ACTOR else actor)
        outbox.enqueue(session, channel=manager, text=text, blocks=blocks, dedupe_key=f"themes-posted-note:{draft.id}")
    return PostResult(True, service.channel, count, chart)


# =============================================================================================
# forums


def forums(session: Session) -> list[ForumTarget]:
    """The forums in the QMF directory, and the Continuous Improvement Board's channel."""
    out = [ForumTarget(f"forum-{f.id}", f.name, f.channel)
           for f in session.scalars(select(Forum).where(Forum.active).order_by(Forum.position, Forum.id))]
    cib = session.scalar(select(OrgChannel.channel_id).where(OrgChannel.name == Channel.BOARD))
    if cib and cib not in {f.channel for f in out}:
        out.append(ForumTarget("cib", "Continuous Improvement Board", cib))
    return out


def find_forum(session: Session, text: str) -> ForumTarget:
    wanted = " ".join(text.split()).casefold()
    targets = forums(session)
    for target in targets:
        if wanted in (target.key.casefold(), target.name.casefold(), target.channel.casefold()):
            return target
    names = ", ".join(f"“{t.name}”" for t in targets) or "none are set up yet: ask a QMF admin"
    raise NotFound(f"I don't know the forum “{text}”. Forums: {names}.")


def share_with_forum(session: Session, *, actor: str, service: Service | None, quarter: Quarter,
                     forum: ForumTarget, today: date) -> bool:
    """Send the learning (the draft's version, if there is one) to a forum's channel, once per forum."""
    who = directory.who(session, actor)
    if service is None:
        if not who.has(Role.QUALITY_IMPROVEMENT, Role.ADMIN, Role.DLT):
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

