"""The amendment window: working days from the council-local day a record was recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from bot.core.amendments import amendable_until, can_amend, changed_fields, refuse_after_window
from bot.core.calendar import WorkingCalendar
from bot.core.errors import NotPermitted
from bot.core.policy import Policy

CAL = WorkingCalendar("Europe/London")


def test_ten_working_days_skip_the_weekends_and_the_early_may_bank_holiday():
    recorded = datetime(2026, 4, 20, 11, tzinfo=UTC)  # Mon 20 Apr; Mon 4 May is a bank holiday
    assert amendable_until(CAL, recorded, 10) == date(2026, 5, 5)
    assert can_amend(CAL, recorded, 10, datetime(2026, 5, 5, 22, 59, tzinfo=UTC))  # 23:59 in London
    assert not can_amend(CAL, recorded, 10, datetime(2026, 5, 5, 23, 0, tzinfo=UTC))  # Wed 6 May, 00:00 BST


def test_the_day_is_the_councils_not_utcs():
    late = datetime(2026, 4, 17, 23, 30, tzinfo=UTC)  # Sat 18 Apr 00:30 in London
    assert amendable_until(CAL, late, 1) == date(2026, 4, 20)
    assert amendable_until(CAL, late, 0) == date(2026, 4, 18)  # 0: only the day it was recorded


def test_an_extra_council_holiday_extends_the_window():
    recorded = datetime(2026, 4, 20, 11, tzinfo=UTC)
    assert amendable_until(WorkingCalendar("Europe/London", [date(2026, 4, 21)]), recorded, 10) == date(2026, 5, 6)


def test_after_the_window_and_before_recording_are_refused_politely():
    recorded = datetime(2026, 4, 20, 11, tzinfo=UTC)
    with pytest.raises(NotPermitted, match="could be amended until Tue 5 May 2026"):
        refuse_after_window(CAL, recorded, 10, datetime(2026, 5, 6, 9, tzinfo=UTC), "this learning audit")
    with pytest.raises(NotPermitted, match="has not been recorded yet"):
        refuse_after_window(CAL, None, 10, datetime(2026, 5, 6, 9, tzinfo=UTC), "this learning audit")
    refuse_after_window(CAL, recorded, 10, datetime(2026, 5, 5, 9, tzinfo=UTC), "this learning audit")


def test_changed_fields_treat_empty_and_none_alike_and_keep_the_order_given():
    before = {"a": "x", "b": None, "c": ["t1"], "d": "same"}
    assert changed_fields(before, {"a": "y", "b": "", "c": ["t1", "t2"], "d": "same"}) == ["a", "c"]
    assert changed_fields(before, dict(before)) == []


def test_the_window_is_a_council_setting_from_0_to_60_working_days():
    assert Policy().amend_window_working_days == 10
    assert Policy(amend_window_working_days=0).amend_window_working_days == 0
    for bad in (-1, 61):
        with pytest.raises(ValidationError):
            Policy(amend_window_working_days=bad)
