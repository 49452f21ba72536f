"""Amending a recorded learning audit, reflection or visit feedback (issue 16 item 4): the window the
council sets (``Policy.amend_window_working_days``), counted in working days from the day it was
recorded, and which answers an amendment changed. One rule, used by each feature that amends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.core.calendar import WorkingCalendar
from bot.core.errors import NotPermitted
from bot.core.formatting import day

NOTHING_CHANGED = "Nothing was changed."


def amendable_until(calendar: WorkingCalendar, recorded_at: datetime, window: int) -> date:
    """The last council-local day on which the record may be amended: ``window`` working days after
    the day it was recorded (0: only that day)."""
    recorded_on = calendar.today(recorded_at)
    return recorded_on if window <= 0 else calendar.add_working_days(recorded_on, window)


def can_amend(calendar: WorkingCalendar, recorded_at: datetime | None, window: int, now: datetime) -> bool:
    return recorded_at is not None and calendar.today(now) <= amendable_until(calendar, recorded_at, window)


def refuse_after_window(calendar: WorkingCalendar, recorded_at: datetime | None, window: int, now: datetime,
                        what: str) -> None:
    """NotPermitted, politely, once the window has closed (``what``: "this learning audit")."""
    if recorded_at is None:
        raise NotPermitted(f"Sorry, {what} has not been recorded yet, so there is nothing to amend.")
    if not can_amend(calendar, recorded_at, window, now):
        until = amendable_until(calendar, recorded_at, window)
        raise NotPermitted(
            f"Sorry, {what} could be amended until {day(until)}; that window has closed, so nothing was "
            "changed. If something in it is wrong, ask the Quality & Improvement team."
        )


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ ("" and None are the same; lists compared in order)."""
    def norm(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return list(value)
        return value
    return [key for key in after if norm(before.get(key)) != norm(after.get(key))]
