"""What an operator needs to see on /healthz: the outbox's backlog and whether each job is on time.

Read-only and cheap: three aggregate queries on the outbox and job_runs, then, for each job, its
period at the cron's last fire time that is older than the grace (``JobSpec.period``, the same
function the runner uses, so "overdue" means exactly "the runner would have claimed a period and
there is no claim"). A job whose period function says "not due" at that moment is not overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from bot.core.jobs import JobContext, JobSpec, NotDue
from bot.core.runtime import Runtime
from storage.models import JobRun, OutboxMessage

WAITING = ("pending", "sending")
LOOKBACK = timedelta(days=45)
"""How far back the previous fire time is searched: every job fires at least once a month."""


@dataclass(frozen=True)
class Thresholds:
    outbox_stuck_after: float = 600.0
    """Seconds the oldest due message may wait before the backlog counts as stuck (503)."""
    job_grace: float = 3600.0
    """Seconds after a job's fire time before a missing run counts as overdue (the scheduler's misfire grace)."""


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def previous_fire(spec: JobSpec, timezone: str, before: datetime) -> datetime | None:
    """The job's last cron fire time at or before ``before`` (within ``LOOKBACK``), or None."""
    trigger = CronTrigger(timezone=timezone, **spec.cron)
    found: datetime | None = None
    moment = trigger.get_next_fire_time(None, before - LOOKBACK)
    while moment is not None and moment <= before:
        found = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return found


def operations_state(rt: Runtime, thresholds: Thresholds, *, wall: datetime | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """The outbox and scheduler part of /healthz; the outbox's ``stuck`` is True when the backlog is stuck.

    The outbox is timed by the wall clock (``wall``), as its sender stamps it; jobs by the runtime's
    clock (``now``), as the runner sees them."""
    wall = _aware(wall) or datetime.now(UTC)
    now = _aware(now or rt.now()) or wall
    session = rt.db.sessions()
    try:
        waiting, oldest = session.execute(
            select(func.count(), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status.in_(WAITING), OutboxMessage.not_before <= wall)).one()
        later = session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.status.in_(WAITING), OutboxMessage.not_before > wall))
        failed = session.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.status == "failed"))
        oldest_age = max(0, int((wall - _aware(oldest)).total_seconds())) if oldest is not None else 0  # type: ignore[operator]
        stuck = waiting > 0 and oldest_age > thresholds.outbox_stuck_after
        last_runs = dict(session.execute(select(JobRun.job, func.max(JobRun.started_at)).group_by(JobRun.job)).all())
        jobs: dict[str, Any] = {}
        timezone = rt.settings.qmf_timezone
        for name, spec in sorted(rt.features.jobs().items()):
            last = _aware(last_runs.get(name))
            fired = previous_fire(spec, timezone, now - timedelta(seconds=thresholds.job_grace))
            overdue = False
            if fired is not None:
                ctx = JobContext(rt=rt, session=session, now=fired, calendar=rt.calendar(session),
                                 policy=rt.policy(session))
                try:
                    period = spec.period(ctx)
                except NotDue:
                    period = None
                if period is not None:
                    overdue = session.scalar(select(JobRun.id).where(JobRun.job == name, JobRun.period == period)) is None
            jobs[name] = {
                "last_run": last.isoformat(timespec="seconds") if last else None,
                "overdue": overdue,
            }
    finally:
        session.rollback()
        session.close()
    return {
        "outbox": {
            "waiting": int(waiting),
            "oldest_waiting_seconds": oldest_age,
            "scheduled_later": int(later or 0),
            "failed": int(failed or 0),
            "stuck": stuck,
        },
        "scheduler": {"jobs": jobs, "overdue": sorted(n for n, j in jobs.items() if j["overdue"])},
    }
