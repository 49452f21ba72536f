"""Each job's work for a period happens once: twice in a row, or twice at the same moment."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import func, select

from bot import outbox
from bot.runtime import build_runtime
from bot.settings import Settings
from schedules.jobs import REGISTRY, NotDue, job, load_jobs, run_job
from storage.models import JobRun, OutboxMessage

LONDON = ZoneInfo("Europe/London")
WORK_SECONDS = 0.5


def _period(ctx) -> str:
    if ctx.options.get("not_due"):
        raise NotDue("nothing to do today")
    return ctx.quarter.key


@job("test-slow-job", description="a job that takes a while", cron={"hour": 9}, period=_period)
def slow_job(ctx) -> str:
    time.sleep(WORK_SECONDS)
    outbox.enqueue(ctx.session, channel="U0SM1", text=f"work for {ctx.quarter.label}",
                   dedupe_key=f"test-slow-job:{ctx.quarter.key}")
    return "did the work"


@pytest.fixture
def rt(database_url):
    settings = Settings(slack_bot_token="xoxb-test", database_url=database_url,
                        slack_api_url="http://127.0.0.1:9/api/")
    runtime = build_runtime(settings, client=WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"))
    yield runtime
    runtime.db.dispose()


def _count(rt, model) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_job_run_twice_for_one_period_does_its_work_once(rt):
    at = datetime(2026, 4, 2, 9, tzinfo=LONDON)
    first = run_job(rt, "test-slow-job", at=at)
    second = run_job(rt, "test-slow-job", at=at)
    assert (first.status, second.status) == ("done", "already-done")
    assert first.period == "2026-27Q1"
    assert _count(rt, OutboxMessage) == 1
    assert _count(rt, JobRun) == 1


def test_the_next_period_is_new_work(rt):
    run_job(rt, "test-slow-job", at=datetime(2026, 4, 2, 9, tzinfo=LONDON))
    later = run_job(rt, "test-slow-job", at=datetime(2026, 7, 2, 9, tzinfo=LONDON))
    assert later.status == "done" and later.period == "2026-27Q2"
    assert _count(rt, OutboxMessage) == 2


def test_two_runs_at_the_same_moment_do_the_work_once(rt):
    at = datetime(2026, 4, 2, 9, tzinfo=LONDON)
    outcomes: list[str] = []

    def go() -> None:
        outcomes.append(run_job(rt, "test-slow-job", at=at).status)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already-done", "already-done", "done"]
    assert _count(rt, OutboxMessage) == 1
    assert _count(rt, JobRun) == 1


def test_a_job_that_is_not_due_records_nothing(rt):
    outcome = run_job(rt, "test-slow-job", options={"not_due": True})
    assert outcome.status == "not-due"
    assert _count(rt, JobRun) == 0


def test_a_dry_run_changes_nothing(rt):
    outcome = run_job(rt, "test-slow-job", at=datetime(2026, 4, 2, 9, tzinfo=LONDON), dry_run=True)
    assert outcome.status == "dry-run"
    assert _count(rt, OutboxMessage) == 0
    assert _count(rt, JobRun) == 0


def test_a_failing_job_rolls_back_and_can_run_again(rt):
    calls = {"n": 0}

    @job("test-flaky-job", description="fails once", cron={"hour": 9}, period=lambda ctx: "p")
    def flaky(ctx) -> str:
        calls["n"] += 1
        outbox.enqueue(ctx.session, channel="U0SM1", text="flaky", dedupe_key="flaky")
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return "ok"

    with pytest.raises(RuntimeError):
        run_job(rt, "test-flaky-job")
    assert _count(rt, OutboxMessage) == 0
    assert run_job(rt, "test-flaky-job").status == "done"
    assert _count(rt, OutboxMessage) == 1
    del REGISTRY["test-flaky-job"]


def test_every_contract_job_is_listed():
    names = set(load_jobs())
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
    run_job(rt, "test-slow-job", at=at)
    again = run_job(rt, "test-slow-job", at=at, dry_run=True)
    assert again.status == "dry-run" and again.summary == "did the work"
    assert _count(rt, JobRun) == 1
    assert _count(rt, OutboxMessage) == 1
