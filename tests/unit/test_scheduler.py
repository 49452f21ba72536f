"""The scheduler wakes each job with a stable id, coalescing and a misfire grace."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.app.runtime import build_runtime
from bot.core.settings import Settings
from schedules.scheduler import build_scheduler


def test_every_job_is_scheduled_once_with_a_stable_id(database_url):
    settings = Settings(slack_bot_token="xoxb-test", database_url=database_url)
    rt = build_runtime(settings, client=WebClient(token="xoxb-test"))
    scheduler = build_scheduler(rt)
    scheduled = {j.id: j for j in scheduler.get_jobs()}
    assert set(scheduled) == set(rt.features.jobs()) and len(scheduled) == 8
    for job in scheduled.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 3600
        assert str(job.trigger.timezone) == "Europe/London"
    again = build_scheduler(rt)
    assert {j.id for j in again.get_jobs()} == set(scheduled)
    rt.db.dispose()
