"""/healthz as an operator's probe sees it: the database, the outbox's backlog and the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from schedules.health import Thresholds, operations_state
from storage.models import OutboxMessage
from tests.conftest import london


def healthz(bot) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    reply = httpx.get(bot.url + "/healthz", timeout=5.0)
    return reply.status_code, reply.json()


def add_message(bot, *, status: str = "pending", age: timedelta = timedelta(0),  # type: ignore[no-untyped-def]
                later: timedelta = timedelta(0)) -> None:
    now = datetime.now(UTC)
    with bot.rt.db.session() as session:
        session.add(OutboxMessage(channel="C0NOWHERE", text="x", status=status,
                                  created_at=now - age, not_before=now - age + later))


def test_healthz_names_the_database_outbox_and_every_job(bot):
    status, body = healthz(bot)
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok" and body["schema"] == "current" and body["dialect"]
    assert body["outbox"] == {"waiting": 0, "oldest_waiting_seconds": 0, "scheduled_later": 0,
                              "failed": 0, "stuck": False}
    jobs = body["scheduler"]["jobs"]
    assert set(jobs) == set(bot.rt.features.jobs())
    assert {"send-reminders", "list-cover-needed", "open-proposals"} <= set(jobs)
    for job in jobs.values():
        assert set(job) == {"last_run", "overdue"}


def test_a_young_backlog_and_failures_are_reported_but_healthy(bot):
    add_message(bot, age=timedelta(minutes=2))
    add_message(bot, age=timedelta(minutes=1))
    add_message(bot, later=timedelta(hours=1))  # a retry waiting out a backoff is not due yet
    add_message(bot, status="failed", age=timedelta(days=3))
    status, body = healthz(bot)
    assert status == 200, body
    outbox = body["outbox"]
    assert outbox["waiting"] == 2
    assert 110 <= outbox["oldest_waiting_seconds"] <= 180
    assert outbox["scheduled_later"] == 1
    assert outbox["failed"] == 1
    assert outbox["stuck"] is False


def test_a_stuck_backlog_answers_503(bot):
    add_message(bot, age=timedelta(minutes=11))  # the default threshold is 10 minutes
    status, body = healthz(bot)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["outbox"]["stuck"] is True
    assert body["outbox"]["oldest_waiting_seconds"] >= 660


def test_the_stuck_threshold_is_a_setting(bot):
    add_message(bot, age=timedelta(minutes=3))
    assert healthz(bot)[0] == 200
    assert operations_state(bot.rt, Thresholds(outbox_stuck_after=120.0))["outbox"]["stuck"] is True
    assert operations_state(bot.rt, Thresholds())["outbox"]["stuck"] is False


def test_a_job_that_missed_its_fire_time_is_flagged_overdue_until_it_runs(bot):
    # Tuesday's 08:00 run done; at 08:30 on Wednesday 1 April 2026 today's 08:00 fire is inside the hour's grace.
    bot.run_job("list-cover-needed", at=london(2026, 3, 31, 8, 0))
    bot.set_time(london(2026, 4, 1, 8, 30))
    status, body = healthz(bot)
    assert body["scheduler"]["jobs"]["list-cover-needed"]["overdue"] is False
    assert "list-cover-needed" not in body["scheduler"]["overdue"]
    bot.set_time(london(2026, 4, 1, 11, 0))  # 08:00 and 09:30 are now more than an hour ago
    status, body = healthz(bot)
    assert status == 200, "an overdue job is reported; restarting the web process would not run it"
    jobs = body["scheduler"]["jobs"]
    assert jobs["list-cover-needed"]["overdue"] is True
    assert jobs["send-reminders"]["overdue"] is True
    assert "list-cover-needed" in body["scheduler"]["overdue"]
    bot.run_job("list-cover-needed", at=london(2026, 4, 1, 11, 0))
    jobs = healthz(bot)[1]["scheduler"]["jobs"]
    assert jobs["list-cover-needed"]["overdue"] is False
    assert jobs["list-cover-needed"]["last_run"] is not None
    assert jobs["send-reminders"]["overdue"] is True


def test_a_job_not_due_at_its_fire_time_is_not_overdue(bot):
    # Saturday 4 April 2026: the working-day crons (mon-fri) last fired on Good Friday, a bank holiday,
    # when there was nothing to do; no run since, and nothing is overdue.
    bot.set_time(london(2026, 4, 4, 12, 0))
    jobs = healthz(bot)[1]["scheduler"]["jobs"]
    assert jobs["list-cover-needed"] == {"last_run": None, "overdue": False}
    assert jobs["send-reminders"]["overdue"] is False


def test_outbox_and_job_queries_that_fail_leave_the_database_state_and_say_so():
    import asyncio

    from bot.app.web import HEALTH_WAIT, HealthCheck
    from storage.deadline import DatabaseUnavailable

    class Up:
        def ping(self, within: float) -> dict[str, str]:
            return {"database": "ok", "dialect": "postgresql", "schema": "current"}

    def stalled() -> dict:
        raise DatabaseUnavailable("the outbox query passed its time limit")

    state = asyncio.run(HealthCheck(Up(), stalled).state())  # type: ignore[arg-type]
    assert state == {"database": "ok", "dialect": "postgresql", "schema": "current", "operations": "not answering"}
    assert HEALTH_WAIT < 1.0
