"""The learning-themes jobs: draft (or post) each service's themes once the audits are in, and the
daily reminders that tell Q&I about drafts waiting too long."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.jobs import JobContext, JobSpec, NotDue
from bot.core.policy import Policy
from bot.core.roles import Channel, Role
from bot.themes.messages import draft_dm, escalation_dm
from bot.themes.service import draft_content, draft_for, forums, post_draft
from bot.themes.types import BOT_ACTOR
from storage.models import LearningAudit, LearningRound, OutboxMessage, Person
from storage.models.themes import ThemeDraft

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


def post_learning_themes(ctx: JobContext) -> str:
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


POST_LEARNING_THEMES_JOB = JobSpec(
    name="post-learning-themes",
    description="Draft each service's learning themes for its Service Manager to review and post",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 30},
    period=_themes_period,
    run=post_learning_themes,
)


def _tell_qi_no_channel(session: Session, quarter: Quarter, services: list[str]) -> None:
    channel = directory.channel_for(session, Channel.QUALITY_IMPROVEMENT)
    if not channel:
        return
    outbox.enqueue(
        session, channel=channel, dedupe_key=f"themes-no-channel:{quarter.key}",
        text=(f"The learning themes for {quarter.label} could not be posted for {', '.join(services)}: "
              "no channel is set for them in the QMF directory. Ask a QMF admin to add one, then post "
              "from `/qmf themes`."),
    )


# =============================================================================================
# reminders: the daily send-reminders job calls this


def send_theme_reminders(ctx: JobContext) -> str:
    """Tell Q&I about drafts the Service Manager has not posted in time (or cannot, being away)."""
    session = ctx.session
    _sync_channel_ts(session)
    if not ctx.calendar.is_working_day(ctx.today):
        return "Learning themes: not a working day, no reminders."
    qi_people = [p for p in session.scalars(
        select(Person).where(Person.slack_id.in_(directory.people_with_role(session, Role.QUALITY_IMPROVEMENT))))
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

