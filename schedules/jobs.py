"""The job registry and the runner that makes each job's work happen once per period.

A job is a plain function of a JobContext. The runner opens one transaction, takes a
PostgreSQL advisory lock for the job, claims the (job, period) row whose uniqueness is a
database constraint, runs the job and commits the claim with the work and its outbox messages.
A crash rolls all three back; a second scheduler waits on the lock, then finds the claim.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.policy import Policy
from storage.models import JobRun, utcnow

if TYPE_CHECKING:
    from bot.core.runtime import Runtime

log = logging.getLogger(__name__)


class NotDue(Exception):
    """Raised by a job's period function when there is nothing to do at this moment."""


@dataclass
class JobContext:
    rt: Runtime
    session: Session
    now: datetime
    calendar: WorkingCalendar
    policy: Policy
    dry_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def today(self) -> Any:
        return self.calendar.today(self.now)

    @property
    def quarter(self) -> Quarter:
        return self.calendar.quarter(self.now)


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    cron: dict[str, Any]  # APScheduler CronTrigger fields, in the council's timezone
    period: Callable[[JobContext], str]
    run: Callable[[JobContext], str]
    built: bool = True


REGISTRY: dict[str, JobSpec] = {}


def job(name: str, *, description: str, cron: dict[str, Any],
        period: Callable[[JobContext], str]) -> Callable[[Callable[[JobContext], str]], Callable[[JobContext], str]]:
    """Register a job function; a later registration of the same name replaces a placeholder."""

    def decorate(fn: Callable[[JobContext], str]) -> Callable[[JobContext], str]:
        REGISTRY[name] = JobSpec(name=name, description=description, cron=cron, period=period, run=fn)
        return fn

    return decorate


def placeholder(name: str, description: str) -> None:
    if name in REGISTRY:
        return

    def not_built(ctx: JobContext) -> str:
        return f"{name}: this job's feature is not built yet; nothing done."

    REGISTRY[name] = JobSpec(name=name, description=description, cron={"hour": 9, "minute": 0},
                             period=lambda ctx: "-", run=not_built, built=False)


def every_quarter(ctx: JobContext) -> str:
    return ctx.quarter.key


def every_working_day(ctx: JobContext) -> str:
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{ctx.today.isoformat()} is not a working day")
    return ctx.today.isoformat()


@dataclass
class JobOutcome:
    name: str
    status: str  # done | already-done | not-due | not-built | dry-run
    period: str | None
    summary: str

    def line(self) -> str:
        where = f" [{self.period}]" if self.period else ""
        return f"{self.name}{where}: {self.status}. {self.summary}".rstrip()


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"qmf-job:{name}".encode()).digest()[:8], "big", signed=True)


def load_jobs() -> dict[str, JobSpec]:
    """Import every module that registers jobs, then add placeholders for contract names."""
    import schedules.builtin_jobs  # noqa: F401  (registers the jobs)

    return REGISTRY


def run_job(rt: Runtime, name: str, *, at: datetime | None = None, dry_run: bool = False,
            options: dict[str, Any] | None = None) -> JobOutcome:
    jobs = load_jobs()
    if name not in jobs:
        raise KeyError(name)
    spec = jobs[name]
    if not spec.built:
        return JobOutcome(name, "not-built", None, spec.run(None))  # type: ignore[arg-type]
    now = at or rt.now()
    session = rt.db.sessions()
    try:
        if rt.db.is_postgres:
            session.execute(select(func.pg_advisory_xact_lock(_lock_key(name))))
        ctx = JobContext(rt=rt, session=session, now=now, calendar=rt.calendar(session), policy=rt.policy(session),
                         dry_run=dry_run, options=options or {})
        try:
            period = spec.period(ctx)
        except NotDue as why:
            session.rollback()
            return JobOutcome(name, "not-due", None, str(why))
        if dry_run:  # show what the job would do now, even for a period already done; keep nothing
            summary = spec.run(ctx)
            session.rollback()
            return JobOutcome(name, "dry-run", period, summary)
        done = session.scalar(select(JobRun).where(JobRun.job == name, JobRun.period == period))
        if done is not None:
            session.rollback()
            when = done.finished_at or done.started_at
            return JobOutcome(name, "already-done", period, f"Done at {when:%Y-%m-%d %H:%M} UTC: {done.summary or ''}")
        run = JobRun(job=name, period=period, started_at=utcnow())
        session.add(run)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return JobOutcome(name, "already-done", period, "Another process did this period's work.")
        summary = spec.run(ctx)
        run.summary = summary[:4000]
        run.finished_at = utcnow()
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return JobOutcome(name, "already-done", period, "Another process did this period's work.")
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    for hook in rt.db.after_commit:
        hook()
    log.info("job %s [%s] done: %s", name, period, summary)
    return JobOutcome(name, "done", period, summary)
