"""Time limits on a Slack request's database work, so a stalled database answers "not now" in time.

Server-side timeouts cannot help when the server itself has stopped answering: the client blocks in a
socket read that nothing ends. So every database call a request makes (a statement, the check-out
ping, a commit, a rollback) is watched here. A request runs under ``Limits``: until it has answered
Slack, every call must finish by its ack deadline (Slack gives up after 3 s); after that, each call
gets ``CALL_LIMIT`` of its own. One ``Watchdog`` thread per engine cuts a call that overruns (it
shuts the PostgreSQL connection's socket, so the blocked read returns at once; it interrupts
SQLite), and the call raises ``DatabaseUnavailable``.

A commit is never *started* after the deadline: what a person was told was not saved must never be
saved later. A commit already sent gets ``COMMIT_GRACE`` more; if it is cut even so, its outcome
is unknown and the error says so (``unconfirmed``), the one honest answer left.

After a cut the ``Breaker`` opens: for ``COOLDOWN`` the engine's guarded calls fail at once instead
of each waiting out its limit, then one call at a time probes; a success closes it. Work outside a
request (jobs, the CLI, the outbox sender) has no limits here and is not affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

ACK_BUDGET = 2.3
"""Seconds from a request's arrival by which its database work must be done if Slack still waits
for the answer: Slack gives up at 3 s, and a commit may take ``COMMIT_GRACE`` past this."""
CALL_LIMIT = 2.0
"""Seconds any one database call of a request may take. Every query here takes milliseconds, so a
call this slow means the database is in trouble; it also bounds how long a stalled database holds
a listener thread after the answer was sent (so requests needing no database still get threads)."""
COMMIT_GRACE = 0.3
"""A COMMIT sent before the deadline may finish this much after it before its outcome is unknown."""
COOLDOWN = 5.0
"""Seconds a stall keeps the breaker open: a burst of requests fails at once, not after a wait each."""


class DatabaseUnavailable(Exception):
    """The database did not answer in time, or is known to be stalled. ``unconfirmed``: a commit was
    sent and not confirmed, so what it saved is unknown; otherwise nothing was saved."""

    def __init__(self, reason: str, *, unconfirmed: bool = False, cut: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unconfirmed = unconfirmed
        self.cut = cut
        """The watchdog cut the connection: it is broken and must not go back to the pool."""


class Limits:
    """One request's time limits, shared by every database call made for it."""

    def __init__(self, ack_by: float | None, answered: Callable[[], bool] = lambda: False, *,
                 call_limit: float = CALL_LIMIT, clock: Callable[[], float] = time.monotonic) -> None:
        self.ack_by = ack_by
        self.answered = answered
        self.call_limit = call_limit
        self.clock = clock

    def deadline(self, now: float) -> float:
        """When a call starting ``now`` must have finished."""
        limit = now + self.call_limit
        if self.ack_by is not None and not self.answered():
            limit = min(limit, self.ack_by)
        return limit

    def remaining(self) -> float:
        now = self.clock()
        return self.deadline(now) - now


_limits: ContextVar[Limits | None] = ContextVar("qmf_db_limits", default=None)


def current() -> Limits | None:
    return _limits.get()


@contextmanager
def limited(limits: Limits | None) -> Iterator[Limits | None]:
    """Run the block's database work under ``limits`` (None: without any, as jobs do)."""
    token = _limits.set(limits)
    try:
        yield limits
    finally:
        _limits.reset(token)


def start_limits(limits: Limits) -> None:
    """Put the rest of this context's database work under ``limits`` (where no ``with`` fits)."""
    _limits.set(limits)


class Breaker:
    """Open after a stall: guarded calls fail at once for ``cooldown``, then one probes at a time."""

    def __init__(self, cooldown: float = COOLDOWN, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def admit(self) -> bool:
        """Let a call through (True when it is the probe) or raise DatabaseUnavailable."""
        if self._open_until is None:  # closed: the common case takes no lock
            return False
        with self._lock:
            if self._open_until is None:
                return False
            if self.clock() < self._open_until or self._probing:
                raise DatabaseUnavailable("the database stopped answering a moment ago")
            self._probing = True
            return True

    def trip(self) -> None:
        with self._lock:
            self._open_until = self.clock() + self.cooldown
            self._probing = False

    def finished(self, probe: bool, ok: bool) -> None:
        if not probe:
            return
        with self._lock:
            self._probing = False
            if ok:
                self._open_until = None
            else:
                self._open_until = self.clock() + self.cooldown


@dataclass(eq=False)
class _Call:
    connection: Any
    deadline: float
    cut: bool = False


class Watchdog:
    """Runs guarded database calls and cuts the ones that overrun (see the module docstring).

    ``cut`` breaks a DBAPI connection from another thread. The watchdog's thread sleeps until the
    earliest deadline; a call that finishes in time costs a dictionary insert and delete.
    """

    def __init__(self, cut: Callable[[Any], None], *, breaker: Breaker | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cut = cut
        self.clock = clock
        self.breaker = breaker or Breaker(clock=clock)
        self._calls: set[_Call] = set()
        self._wake = threading.Condition()
        self._next = float("inf")
        self._thread: threading.Thread | None = None

    def run(self, what: str, connection: Any, fn: Callable[[], T]) -> T:
        """Do ``fn`` (a call on ``connection``) within the current request's limits, if it has any."""
        limits = current()
        if limits is None:
            return fn()
        now = self.clock()
        probe = False
        if what == "rollback":  # always allowed, so a transaction is never left open; briefly
            deadline = max(limits.deadline(now), now + COMMIT_GRACE)
        else:
            deadline = limits.deadline(now)
            if deadline <= now:
                raise DatabaseUnavailable("the request's time ran out before this database call")
            probe = self.breaker.admit()
            if what == "commit":
                deadline += COMMIT_GRACE
        call = _Call(connection, deadline)
        self._watch(call)
        try:
            result = fn()
        except BaseException as exc:
            self._unwatch(call)
            if call.cut:
                self.breaker.trip()
                raise DatabaseUnavailable(f"the database did not answer in time ({what})",
                                          unconfirmed=what == "commit", cut=True) from exc
            self.breaker.finished(probe, ok=False)
            raise
        self._unwatch(call)
        if call.cut and what != "commit":  # finished as it was cut: the connection is broken all the same
            self.breaker.trip()
            raise DatabaseUnavailable(f"the database did not answer in time ({what})", cut=True)
        self.breaker.finished(probe, ok=True)
        return result

    def _watch(self, call: _Call) -> None:
        with self._wake:
            self._calls.add(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="qmf-db-watchdog", daemon=True)
                self._thread.start()
            if call.deadline < self._next:
                self._wake.notify()

    def _unwatch(self, call: _Call) -> None:
        with self._wake:
            self._calls.discard(call)

    def _loop(self) -> None:
        with self._wake:
            while True:
                now = self.clock()
                for call in [c for c in self._calls if not c.cut and c.deadline <= now]:
                    call.cut = True
                    try:
                        self._cut(call.connection)
                    except Exception as exc:  # noqa: BLE001 - already closed: the call ends anyway
                        log.info("could not cut a stalled database call: %s", type(exc).__name__)
                    log.warning("cut a database call that overran its time limit by %.1fs", now - call.deadline)
                waiting = [c.deadline for c in self._calls if not c.cut]
                self._next = min(waiting, default=float("inf"))
                self._wake.wait(timeout=None if not waiting else max(self._next - now, 0.005))
