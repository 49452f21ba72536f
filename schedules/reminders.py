"""The daily ``send-reminders`` job: one wake-up that asks each flow to send the reminders it owes.

Each flow knows what is due in its own records, so the job only calls them, in a fixed order, each
inside its own savepoint: a fault in one flow's reminders is logged and reported in the summary
while the others still go out. A flow not built yet is simply skipped. The runner makes the job
run once per working day; each flow's dedupe keys make sure no reminder is ever sent twice.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import uuid
from collections.abc import Callable

from schedules.jobs import JobContext, every_working_day, job

log = logging.getLogger(__name__)

# (label, module, function): each function takes the JobContext and returns a one-line summary.
REMINDERS: tuple[tuple[str, str, str], ...] = (
    ("proposals", "bot.learning_audits.proposals", "send_proposal_reminders"),
    ("learning audits", "bot.learning_audits.service", "send_learning_reminders"),
    ("actions", "bot.actions.service", "send_action_reminders"),
    ("random sampling", "bot.sampling.service", "send_sampling_reminders"),
    ("commissions", "bot.commissions.service", "send_commission_reminders"),
    ("learning themes", "bot.themes.service", "send_theme_reminders"),
)


def reference() -> str:
    """A short id for the log line, so an operator can find the traceback from the summary."""
    return uuid.uuid4().hex[:10]


def _find(module_name: str, function_name: str) -> Callable[[JobContext], str] | None:
    if importlib.util.find_spec(module_name) is None:
        return None
    fn = getattr(importlib.import_module(module_name), function_name, None)
    return fn if callable(fn) else None


@job(
    "send-reminders",
    description="Remind people of proposals, reflections, audits, actions and commissions that are due",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 30},
    period=every_working_day,
)
def send_reminders(ctx: JobContext) -> str:
    summaries: list[str] = []
    for label, module_name, function_name in REMINDERS:
        try:
            fn = _find(module_name, function_name)
        except Exception as exc:  # noqa: BLE001 - a flow that cannot be imported must not stop the others
            ref = reference()
            log.error("send-reminders: could not load %s (reference %s)", module_name, ref, exc_info=exc)
            summaries.append(f"{label}: not run, reference {ref}")
            continue
        if fn is None:
            continue
        try:
            with ctx.session.begin_nested():
                summary = fn(ctx)
        except Exception as exc:  # noqa: BLE001 - roll back this flow's part only; the others still go out
            ref = reference()
            log.error("send-reminders: %s failed (reference %s)", label, ref, exc_info=exc)
            summaries.append(f"{label}: failed, nothing sent, reference {ref}")
            continue
        summaries.append(str(summary or f"{label}: done"))
    return "; ".join(summaries) or "no reminder flows are built yet"
