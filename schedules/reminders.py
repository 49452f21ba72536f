"""The daily ``send-reminders`` job: one wake-up that asks each flow to send the reminders it owes.

Each feature knows what is due in its own records, so the job only calls the reminders the feature
registry lists (``rt.features.reminders()``), in order, each inside its own savepoint: a fault in
one feature's reminders is logged and reported in the summary while the others still go out. The
runner makes the job run once per working day; each feature's dedupe keys make sure no reminder is
ever sent twice.
"""

from __future__ import annotations

import logging
import uuid

from bot.core.jobs import JobContext, JobSpec, every_working_day

log = logging.getLogger(__name__)

def reference() -> str:
    """A short id for the log line, so an operator can find the traceback from the summary."""
    return uuid.uuid4().hex[:10]


def send_reminders(ctx: JobContext) -> str:
    summaries: list[str] = []
    for label, fn in ctx.rt.features.reminders():
        try:
            with ctx.session.begin_nested():
                summary = fn(ctx)
        except Exception as exc:  # noqa: BLE001 - roll back this flow's part only; the others still go out
            ref = reference()
            log.error("send-reminders: %s failed (reference %s)", label, ref, exc_info=exc)
            summaries.append(f"{label}: failed, nothing sent, reference {ref}")
            continue
        summaries.append(str(summary or f"{label}: done"))
    return "; ".join(summaries) or "no feature has reminders"


SEND_REMINDERS_JOB = JobSpec(
    name="send-reminders",
    description="Remind people of proposals, reflections, audits, actions and commissions that are due",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 30},
    period=every_working_day,
    run=send_reminders,
)
