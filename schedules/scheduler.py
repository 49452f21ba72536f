"""The one process that wakes jobs. APScheduler only wakes them; the database decides."""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.core.logcontext import log_context
from schedules.jobs import run_job

if TYPE_CHECKING:
    from bot.core.runtime import Runtime

log = logging.getLogger(__name__)


def wake(rt: Runtime, name: str) -> None:
    with log_context(job=name):  # JSON log lines carry the job's name
        try:
            outcome = run_job(rt, name)
            log.info(outcome.line())
        except Exception:  # noqa: BLE001 - one failing job must not stop the scheduler
            log.exception("job %s failed; it will be tried again at its next wake-up", name)


def build_scheduler(rt: Runtime) -> BlockingScheduler:
    tz = rt.settings.qmf_timezone
    scheduler = BlockingScheduler(
        timezone=tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for spec in rt.features.jobs().values():
        scheduler.add_job(
            wake,
            CronTrigger(timezone=tz, **spec.cron),
            args=(rt, spec.name),
            id=spec.name,
            name=spec.description,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
    return scheduler


def run_scheduler(rt: Runtime) -> None:
    scheduler = build_scheduler(rt)
    rt.sender.start()

    def _stop(*_: object) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    try:
        scheduler.start()
    finally:
        rt.sender.stop()
