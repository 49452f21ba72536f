"""The request time limits on database calls (storage.deadline): the watchdog cuts an overrunning
call, a commit never starts after the deadline, a commit in flight gets its grace and is then
reported unconfirmed, and the breaker fails a burst fast after a stall, one probe at a time."""

from __future__ import annotations

import threading
import time

import pytest

from storage.deadline import COMMIT_GRACE, Breaker, DatabaseUnavailable, Limits, Watchdog, limited


class Stuck:
    """A connection whose call blocks until it is cut (what a stalled server's socket does)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.cuts = 0

    def block(self) -> str:
        if not self.released.wait(timeout=10):
            return "never cut"
        raise OSError("server closed the connection unexpectedly")

    def cut(self) -> None:
        self.cuts += 1
        self.released.set()


def watchdog() -> Watchdog:
    return Watchdog(lambda connection: connection.cut())


def test_calls_outside_a_request_are_not_limited():
    dog, conn = watchdog(), Stuck()
    threading.Timer(0.3, conn.released.set).start()
    with pytest.raises(OSError):
        dog.run("execute", conn, conn.block)  # waited for the release: nobody cut it
    assert conn.cuts == 0


def test_a_call_that_overruns_the_request_deadline_is_cut_and_says_so():
    dog, conn = watchdog(), Stuck()
    with limited(Limits(ack_by=time.monotonic() + 0.2)), pytest.raises(DatabaseUnavailable) as raised:
        dog.run("execute", conn, conn.block)
    assert conn.cuts == 1 and raised.value.cut and not raised.value.unconfirmed


def test_after_the_answer_each_call_gets_its_own_limit():
    dog, conn = watchdog(), Stuck()
    limits = Limits(ack_by=time.monotonic() - 1, answered=lambda: True, call_limit=0.2)
    with limited(limits):
        assert dog.run("execute", object(), lambda: "quick") == "quick"  # the ack deadline has passed
        with pytest.raises(DatabaseUnavailable):
            dog.run("execute", conn, conn.block)
    assert conn.cuts == 1


def test_no_call_and_no_commit_starts_after_the_deadline():
    dog, done = watchdog(), []
    with limited(Limits(ack_by=time.monotonic() - 0.01)):
        for what in ("execute", "commit", "ping"):
            with pytest.raises(DatabaseUnavailable):
                dog.run(what, object(), lambda w=what: done.append(w))
        dog.run("rollback", object(), lambda: done.append("rollback"))  # letting go is always allowed
    assert done == ["rollback"]


def test_a_commit_in_flight_gets_its_grace_then_is_reported_unconfirmed():
    dog, conn = watchdog(), Stuck()
    with limited(Limits(ack_by=time.monotonic() + 0.2)), pytest.raises(DatabaseUnavailable) as raised:
        dog.run("commit", conn, conn.block)
    assert raised.value.unconfirmed and conn.cuts == 1


def test_a_commit_that_finishes_inside_its_grace_stands():
    dog = watchdog()

    def slow_commit() -> str:  # sent before the deadline, confirmed after it
        time.sleep(0.1 + COMMIT_GRACE / 2)
        return "committed"

    with limited(Limits(ack_by=time.monotonic() + 0.1)):
        assert dog.run("commit", object(), slow_commit) == "committed"


def test_after_a_cut_the_breaker_fails_calls_at_once_then_lets_one_probe_close_it():
    clock = [0.0]
    breaker = Breaker(cooldown=5.0, clock=lambda: clock[0])
    assert breaker.admit() is False
    breaker.trip()
    with pytest.raises(DatabaseUnavailable):
        breaker.admit()
    clock[0] = 5.0
    assert breaker.admit() is True  # the probe
    with pytest.raises(DatabaseUnavailable):
        breaker.admit()  # one at a time
    breaker.finished(True, ok=False)
    with pytest.raises(DatabaseUnavailable):
        breaker.admit()  # the probe failed: open again for the cooldown
    clock[0] = 10.0
    assert breaker.admit() is True
    breaker.finished(True, ok=True)
    assert breaker.admit() is False and not breaker.is_open


def test_a_stall_opens_the_breaker_for_the_next_calls_of_every_request():
    dog, conn = watchdog(), Stuck()
    with limited(Limits(ack_by=time.monotonic() + 0.1)), pytest.raises(DatabaseUnavailable):
        dog.run("execute", conn, conn.block)
    with limited(Limits(ack_by=time.monotonic() + 2.0)), pytest.raises(DatabaseUnavailable) as raised:
        dog.run("execute", object(), lambda: "never run")
    assert "a moment ago" in str(raised.value)
