"""The ``cib-digest`` job: the Board's digest, posted once before each meeting."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.cib.service import BOARD_CHANNEL, DIGEST_JOB, digest_due_meeting, post_digest
from bot.core.directory import channel_for
from bot.core.jobs import JobContext, JobSpec, NotDue
from storage.models import CibMeeting


def digest_period(ctx: JobContext) -> str:
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{ctx.today.isoformat()} is not a working day")
    days = list(ctx.session.scalars(select(CibMeeting.meets_on).where(CibMeeting.meets_on >= ctx.today)))
    due = digest_due_meeting(days, ctx.today, ctx.calendar, ctx.policy.cib_digest_working_days_before)
    if due is None:
        upcoming = min(days) if days else None
        why = f"the next CIB meeting is {upcoming.isoformat()}" if upcoming else "no CIB meeting is scheduled"
        raise NotDue(f"no digest due today ({why})")
    if channel_for(ctx.session, BOARD_CHANNEL) is None:
        raise NotDue("no Continuous Improvement Board channel is set in the QMF directory")
    return due.isoformat()


def cib_digest(ctx: JobContext) -> str:
    session = ctx.session
    meets_on = date.fromisoformat(digest_period(ctx))
    meeting = session.scalar(select(CibMeeting).where(CibMeeting.meets_on == meets_on))
    assert meeting is not None
    channel = channel_for(session, BOARD_CHANNEL)
    assert channel is not None
    sections = {name: ctx.rt.features.digest(name) for name in ("themes", "sample")}
    content = post_digest(session, meeting, channel=channel, today=ctx.today, now=ctx.now, policy=ctx.policy,
                          sections=sections)
    return (f"CIB digest for {meets_on.isoformat()}: {len(content.themed)} themed audit(s), "
            f"{len(content.visits)} learning visit plan(s) posted to {channel}.")


CIB_DIGEST_JOB = JobSpec(
    name=DIGEST_JOB,
    description="Send the Continuous Improvement Board its digest before each meeting",
    cron={"day_of_week": "mon-fri", "hour": 8, "minute": 30},
    period=digest_period,
    run=cib_digest,
)
