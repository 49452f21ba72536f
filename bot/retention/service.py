"""Retention: records older than the council's retention setting are purged, every month.

Children's social-care audit records are kept for ``policy.retention_years`` after the quarter
(or the commission) they belong to, then deleted with everything hanging off them. Delivery
housekeeping (sent outbox rows, Slack event ids) is kept only as long as it is useful.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.core.calendar import Quarter
from bot.core.jobs import JobContext, JobSpec, NotDue
from storage.models import (
    Action,
    AuditLogEntry,
    LearningAudit,
    LearningRound,
    OutboxMessage,
    Proposal,
    Reflection,
    SlackEvent,
    ThemeTag,
    ViewSubmission,
    utcnow,
)
from storage.models.sampling import SampleDraw

OUTBOX_KEEP = timedelta(days=30)
EVENTS_KEEP = timedelta(days=7)
SUBMISSIONS_KEEP = timedelta(days=1)  # Slack re-sends within seconds; a day is ample


def _monthly(ctx: JobContext) -> str:
    first = ctx.calendar.next_working_day(ctx.today.replace(day=1))
    if ctx.today < first:
        raise NotDue(f"the purge runs on the month's first working day ({first.isoformat()})")
    return ctx.today.strftime("%Y-%m")


def expired_quarters(session: Session, *, cutoff: date, start_month: int) -> list[str]:
    """Quarter keys (learning rounds, proposals, sample draws) that ended before the cutoff."""
    keys = set(session.scalars(select(LearningRound.quarter)))
    keys |= set(session.scalars(select(Proposal.quarter).distinct()))
    keys |= set(session.scalars(select(SampleDraw.quarter)))
    return sorted(k for k in keys if Quarter.parse(k, start_month).end < cutoff)


def purge(session: Session, *, today: date, retention_years: int, start_month: int) -> dict[str, int]:
    cutoff = today.replace(year=today.year - retention_years)
    counts: dict[str, int] = {}

    def gone(label: str, result: object) -> None:
        counts[label] = counts.get(label, 0) + int(getattr(result, "rowcount", 0) or 0)

    quarters = expired_quarters(session, cutoff=cutoff, start_month=start_month)
    if quarters:
        audit_ids = select(LearningAudit.id).where(LearningAudit.quarter.in_(quarters))
        gone("actions", session.execute(delete(Action).where(
            Action.source_kind == "learning_audit", Action.source_id.in_(audit_ids))))
        gone("theme tags", session.execute(delete(ThemeTag).where(ThemeTag.audit_id.in_(audit_ids))))
        gone("reflections", session.execute(delete(Reflection).where(Reflection.audit_id.in_(audit_ids))))
        gone("learning audits", session.execute(delete(LearningAudit).where(LearningAudit.quarter.in_(quarters))))
        gone("proposals", session.execute(delete(Proposal).where(Proposal.quarter.in_(quarters))))
        gone("learning rounds", session.execute(delete(LearningRound).where(LearningRound.quarter.in_(quarters))))
        from storage.models.sampling import SampledCase, SampleDraw

        case_ids = select(SampledCase.id).join(SampleDraw).where(SampleDraw.quarter.in_(quarters))
        gone("actions", session.execute(delete(Action).where(
            Action.source_kind == "random_sample", Action.source_id.in_(case_ids))))
        # The database cascades pairs, sampled cases, blind audits, moderations and flags.
        gone("random sample draws", session.execute(delete(SampleDraw).where(SampleDraw.quarter.in_(quarters))))
    session.flush()
    now = utcnow()
    gone("audit log entries", session.execute(delete(AuditLogEntry).where(
        AuditLogEntry.at < now.replace(year=now.year - retention_years))))
    gone("delivered messages", session.execute(delete(OutboxMessage).where(
        OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < now - OUTBOX_KEEP)))
    gone("Slack event ids", session.execute(delete(SlackEvent).where(SlackEvent.received_at < now - EVENTS_KEEP)))
    gone("modal submission ids", session.execute(delete(ViewSubmission).where(
        ViewSubmission.created_at < now - SUBMISSIONS_KEEP)))
    return {k: v for k, v in counts.items() if v}


def purge_old_records(ctx: JobContext) -> str:
    counts = purge(ctx.session, today=ctx.today, retention_years=ctx.policy.retention_years,
                   start_month=ctx.policy.year_start_month)
    from bot.core import audit

    audit.record(ctx.session, "system", "purge", "retention", ctx.today.isoformat(), **counts)
    if not counts:
        return f"Nothing older than {ctx.policy.retention_years} years to delete."
    return "Deleted " + ", ".join(f"{n} {label}" for label, n in counts.items()) + "."


PURGE_OLD_RECORDS_JOB = JobSpec(
    name="purge-old-records",
    description="Delete records older than the council's retention setting",
    cron={"day": "1-7", "day_of_week": "mon-fri", "hour": 2, "minute": 0},
    period=_monthly,
    run=purge_old_records,
)
