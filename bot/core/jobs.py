"""What a scheduled job is, as the features see it: a plain function of a JobContext, with its
period (what "once" means for it) and its cron. The runner that makes a period's work happen once
and the scheduler process live in ``schedules/``; which jobs exist is said in one place, the
feature registry (``bot.app.features``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.policy import Policy

if TYPE_CHECKING:
    from bot.core.runtime import Runtime


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
    def today(self) -> date:
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


def every_quarter(ctx: JobContext) -> str:
    return ctx.quarter.key


def every_working_day(ctx: JobContext) -> str:
    if not ctx.calendar.is_working_day(ctx.today):
        raise NotDue(f"{ctx.today.isoformat()} is not a working day")
    return ctx.today.isoformat()
