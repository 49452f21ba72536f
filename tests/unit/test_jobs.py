"""Each job's work for a period happens once: twice in a row, or twice at the same moment."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import event, func, select, text

from bot.app.features import FEATURES
from bot.app.runtime import build_runtime
from bot.core import outbox
from bot.core.features import Feature, Features
from bot.core.jobs import JobSpec, NotDue
from bot.core.settings import Settings
from schedules.jobs import run_job
from storage.models import JobRun, OutboxMessage

LONDON = ZoneInfo("Europe/London")
HELD_JOB = "test-held-job"


def _period(ctx) -> str:
    if ctx.options.get("not_due"):
        raise NotDue("nothing to do today")
    return ctx.quarter.key


def quarterly_job(ctx) -> str:
    outbox.enqueue(ctx.session, channel="U0SM1", text=f"work for {ctx.quarter.label}",
                   dedupe_key=f"test-quarterly-job:{ctx.quarter.key}")
    return "did the work"


QUARTERLY = JobSpec(name="test-quarterly-job", description="a job done once a quarter", cron={"hour": 9},
                    period=_period, run=quarterly_job)


def with_jobs(rt, *specs: JobSpec) -> None:
    """The runtime's features plus these test jobs: the runner finds jobs only through the registry."""
    rt.features = Features((*rt.features.all, Feature("test jobs", jobs=specs)))


@pytest.fixture
def rt(database_url):
    settings = Settings(slack_bot_token="xoxb-test", database_url=database_url,
                        slack_api_url="http://127.0.0.1:9/api/")
    runtime = build_runtime(settings, client=WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"))
    with_jobs(runtime, QUARTERLY)
    yield runtime
    runtime.db.dispose()


def _count(rt, model) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_job_run_twice_for_one_period_does_its_work_once(rt):
    at = datetime(2026, 4, 2, 9, tzinfo=LONDON)
    first = run_job(rt, "test-quarterly-job", at=at)
    second = run_job(rt, "test-quarterly-job", at=at)
    assert (first.status, second.status) == ("done", "already-done")
    assert first.period == "2026-27Q1"
    assert _count(rt, OutboxMessage) == 1
    assert _count(rt, JobRun) == 1


def test_the_next_period_is_new_work(rt):
    run_job(rt, "test-quarterly-job", at=datetime(2026, 4, 2, 9, tzinfo=LONDON))
    later = run_job(rt, "test-quarterly-job", at=datetime(2026, 7, 2, 9, tzinfo=LONDON))
    assert later.status == "done" and later.period == "2026-27Q2"
    assert _count(rt, OutboxMessage) == 2


class HeldWork:
    """A job's work that says when it starts, then waits, inside the runner's transaction, until the
    test lets it finish: while it waits, its run is certainly inside the runner with its period claimed."""

    def __init__(self) -> None:
        self.entered: list[str] = []  # the thread of each run that started the work
        self.inside = threading.Event()
        self.release = threading.Event()
        self.again = threading.Event()  # a second run started the work too
        self._lock = threading.Lock()

    def __call__(self, ctx) -> str:
        with self._lock:
            self.entered.append(threading.current_thread().name)
            if len(self.entered) > 1:
                self.again.set()
        self.inside.set()
        if not self.release.wait(timeout=30):
            raise RuntimeError("the test never let the work finish")
        outbox.enqueue(ctx.session, channel="U0SM1", text="held work", dedupe_key=f"{HELD_JOB}:{ctx.quarter.key}")
        return "did the held work"


@pytest.fixture
def held_work(rt):
    work = HeldWork()
    with_jobs(rt, JobSpec(name=HELD_JOB, description="a job whose work the test holds", cron={"hour": 9},
                          period=_period, run=work))
    yield work
    work.release.set()


def _a_connection_waits_on_a_lock(rt) -> bool:
    """PostgreSQL: some session is blocked by another's lock (the advisory lock, or a claim row)."""
    with rt.db.engine.connect() as connection:
        return bool(connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
        )))


def test_a_run_that_starts_while_another_is_doing_the_work_does_not_do_it_again(rt, held_work):
    """The first run is held inside its work (its period claimed, its transaction open) until the
    second run is past the point where it decides: it is blocked by the first in the database
    (PostgreSQL: the advisory lock or the claim row), has read the claims without seeing the first's,
    has sent its own claim, has started the work or has returned. Only then is the first let go, so
    the two runs certainly overlap and the outcome does not depend on timing."""
    at = datetime(2026, 4, 2, 9, tzinfo=LONDON)
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []
    second_decided = threading.Event()  # the second run read the claims, or sent its own

    def after_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread().name == "second-run" and "job_runs" in statement \
                and statement.lstrip().upper().startswith("SELECT"):
            second_decided.set()

    def before_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread().name == "second-run" and "job_runs" in statement \
                and statement.lstrip().upper().startswith("INSERT"):
            second_decided.set()

    def go() -> None:
        try:
            outcomes[threading.current_thread().name] = run_job(rt, HELD_JOB, at=at).status
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    event.listen(rt.db.engine, "after_cursor_execute", after_execute)
    event.listen(rt.db.engine, "before_cursor_execute", before_execute)
    first = threading.Thread(target=go, name="first-run")
    second = threading.Thread(target=go, name="second-run")
    try:
        first.start()
        assert held_work.inside.wait(timeout=10), "the first run never started its work"
        second.start()
        deadline = time.monotonic() + 30
        while not (second_decided.is_set() or held_work.again.is_set() or not second.is_alive()
                   or (rt.db.is_postgres and _a_connection_waits_on_a_lock(rt))):
            assert time.monotonic() < deadline, "the second run never reached the once-per-period check"
            second_decided.wait(0.01)
        assert first.is_alive() and held_work.entered[0] == "first-run"  # still holding its claim
    finally:
        held_work.release.set()
        first.join(timeout=30)
        second.join(timeout=30)
        event.remove(rt.db.engine, "after_cursor_execute", after_execute)
        event.remove(rt.db.engine, "before_cursor_execute", before_execute)
    assert not first.is_alive() and not second.is_alive()
    assert errors == []
    assert held_work.entered == ["first-run"]  # the work was done once, by the first run
    assert outcomes == {"first-run": "done", "second-run": "already-done"}
    assert _count(rt, OutboxMessage) == 1
    assert _count(rt, JobRun) == 1


def test_a_job_that_is_not_due_records_nothing(rt):
    outcome = run_job(rt, "test-quarterly-job", options={"not_due": True})
    assert outcome.status == "not-due"
    assert _count(rt, JobRun) == 0


def test_a_dry_run_changes_nothing(rt):
    outcome = run_job(rt, "test-quarterly-job", at=datetime(2026, 4, 2, 9, tzinfo=LONDON), dry_run=True)
    assert outcome.status == "dry-run"
    assert _count(rt, OutboxMessage) == 0
    assert _count(rt, JobRun) == 0


def test_a_failing_job_rolls_back_and_can_run_again(rt):
    calls = {"n": 0}

    def flaky(ctx) -> str:
        calls["n"] += 1
        outbox.enqueue(ctx.session, channel="U0SM1", text="flaky", dedupe_key="flaky")
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return "ok"

    with_jobs(rt, JobSpec(name="test-flaky-job", description="fails once", cron={"hour": 9},
                          period=lambda ctx: "p", run=flaky))
    with pytest.raises(RuntimeError):
        run_job(rt, "test-flaky-job")
    assert _count(rt, OutboxMessage) == 0
    assert run_job(rt, "test-flaky-job").status == "done"
    assert _count(rt, OutboxMessage) == 1


def test_every_contract_job_is_listed():
    names = set(FEATURES.jobs())
    assert {"open-proposals", "allocate-learning-audits", "draw-random-sample", "send-reminders",
            "post-learning-themes", "cib-digest"} <= names


def test_the_migrations_build_exactly_the_models(rt):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.models import Base

    with rt.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert rt.db.current_revision() == rt.db.head_revision()
    assert "+" not in (rt.db.head_revision() or "")  # one head: feature branches are merged


def test_a_dry_run_after_the_period_is_done_still_shows_the_work_and_keeps_nothing(rt):
    at = datetime(2026, 4, 2, 9, tzinfo=LONDON)
    run_job(rt, "test-quarterly-job", at=at)
    again = run_job(rt, "test-quarterly-job", at=at, dry_run=True)
    assert again.status == "dry-run" and again.summary == "did the work"
    assert _count(rt, JobRun) == 1
    assert _count(rt, OutboxMessage) == 1
