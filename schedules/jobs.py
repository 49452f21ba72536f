"""The runner that makes each job's work happen once per period.

A job (``bot.core.jobs.JobSpec``) is a plain function of a JobContext; which jobs exist is the
feature registry's to say (``rt.features.jobs()``). The runner opens one transaction, takes a
PostgreSQL advisory lock for the job, claims the (job, period) row whose uniqueness is a
database constraint, runs the job and commits the claim with the work and its outbox messages.
A crash rolls all three back; a second scheduler waits on the lock, then finds the claim.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.core.jobs import JobContext, NotDue
from bot.core.runtime import Runtime
from storage.models import JobRun, utcnow

log = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    name: str
    status: str  # done | already-done | not-due | dry-run
    period: str | None
    summary: str

    def line(self) -> str:
        where = f" [{self.period}]" if self.period else ""
        return f"{self.name}{where}: {self.status}. {self.summary}".rstrip()


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"qmf-job:{name}".encode()).digest()[:8], "big", signed=True)


def run_job(rt: Runtime, name: str, *, at: datetime | None = None, dry_run: bool = False,
            options: dict[str, Any] | None = None) -> JobOutcome:
    jobs = rt.features.jobs()
    if name not in jobs:
        raise KeyError(name)
    spec = jobs[name]
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
