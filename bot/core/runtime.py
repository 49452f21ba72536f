"""What one process needs to do the bot's work: settings, database, Slack client, outbox, clock.

Handlers, jobs and the CLI all take a Runtime rather than reaching for globals, so the tests and
the offline demo can hand in a fake Slack and a fixed clock.
"""

from __future__ import annotations

import contextvars
import gc
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.core.calendar import WorkingCalendar
from bot.core.council import calendar_of, policy_of
from bot.core.features import Features
from bot.core.policy import Policy
from bot.core.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that knows when all submitted work is finished (tests and demo wait on it).

    Work runs in a copy of the submitter's context: under Socket Mode bolt hands listeners to this
    pool, and they must keep the request's database time limits (storage.deadline)."""

    def __init__(self, max_workers: int = 32) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="qmf-listener")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        future = super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    client: WebClient
    clock: Clock = system_clock
    executor: TrackingExecutor = field(default_factory=TrackingExecutor)
    sender: Any = None  # bot.app.sender.OutboxSender, set by bot.app.runtime.build_runtime
    features: Features = field(default_factory=Features)
    """Every feature's jobs, reminders, to-dos and digest lines (bot.app.features)."""

    def now(self) -> datetime:
        return self.clock()

    def policy(self, session: Session) -> Policy:
        return policy_of(session)

    def calendar(self, session: Session) -> WorkingCalendar:
        return calendar_of(session, self.settings.qmf_timezone)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until listeners have finished and the outbox has nothing due (tests, demo)."""
        self.executor.wait_idle(timeout)
        if self.sender is not None:
            self.sender.drain(timeout)
        self.executor.wait_idle(timeout)


class ShiftedClock:
    """Real time moved to a chosen moment: it keeps ticking, so back-offs and timeouts still pass.

    The demo and the tests set it to a quarter's dates; production uses ``system_clock``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = (start - datetime.now(UTC)) if start else datetime.now(UTC) - datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self._offset = moment - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset


SWITCH_INTERVAL = 0.001


def tune_interpreter() -> None:
    """Two settings for the long-running processes (serve, scheduler), made once start-up is done:

    - Everything built at start-up (modules, mappers, the calendar, the app) is moved out of the
      garbage collector's sight; otherwise each full collection walks it all again, a pause of about
      100 ms that holds up every request in flight.
    - A thread back from a database round trip waits for the GIL for up to the switch interval
      while another thread computes; a request makes about ten round trips, so Python's 5 ms made a
      busy moment's requests queue behind each other (benchmarks/bench_load.py measures both).
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)
