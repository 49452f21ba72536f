"""Quarters and working days: the pace of every job in the framework."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from bot.core.calendar import Quarter, WorkingCalendar

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


# --- quarters and labels -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "start", "end", "months"),
    [
        (1, date(2026, 4, 1), date(2026, 6, 30), "Apr-Jun 2026"),
        (2, date(2026, 7, 1), date(2026, 9, 30), "Jul-Sep 2026"),
        (3, date(2026, 10, 1), date(2026, 12, 31), "Oct-Dec 2026"),
        (4, date(2027, 1, 1), date(2027, 3, 31), "Jan-Mar 2027"),
    ],
)
def test_quarters_of_a_financial_year_run_april_to_march(number, start, end, months):
    quarter = Quarter(2026, number)
    assert quarter.start == start
    assert quarter.end == end
    assert quarter.months_label == months
    assert quarter.label == f"2026-27 Q{number}"
    assert quarter.key == f"2026-27Q{number}"
    assert str(quarter) == quarter.label


def test_q4_belongs_to_the_financial_year_that_started_the_previous_calendar_year():
    q4 = Quarter.containing(date(2027, 2, 14))
    assert (q4.year, q4.number) == (2026, 4)
    assert q4.label == "2026-27 Q4"
    assert q4.end == date(2027, 3, 31)


def test_the_financial_year_label_wraps_the_century():
    assert Quarter(2099, 2).label == "2099-00 Q2"
    assert Quarter.parse("2099-00 Q2") == Quarter(2099, 2)


def test_next_and_previous_cross_the_financial_year():
    q4 = Quarter(2026, 4)
    assert q4.next() == Quarter(2027, 1)
    assert Quarter(2027, 1).previous() == q4
    assert q4.next().start == q4.end + timedelta(days=1)


def test_shift_moves_any_number_of_quarters_both_ways():
    q = Quarter(2026, 3)
    assert q.shift(0) == q
    assert q.shift(5) == Quarter(2027, 4)
    assert q.shift(-7) == Quarter(2024, 4)
    assert q.shift(-3).shift(3) == q


def test_index_counts_quarters_so_the_last_four_are_a_range():
    q = Quarter(2026, 2)
    indices = range(q.index() - 3, q.index() + 1)
    last_four = [Quarter(i // 4, i % 4 + 1) for i in indices]
    assert [x.label for x in last_four] == ["2025-26 Q3", "2025-26 Q4", "2026-27 Q1", "2026-27 Q2"]
    assert Quarter(2027, 1).index() - Quarter(2026, 4).index() == 1


def test_quarters_sort_in_time_order_ignoring_start_month():
    shuffled = [Quarter(2027, 1), Quarter(2026, 4), Quarter(2025, 4), Quarter(2026, 1)]
    assert sorted(shuffled) == [Quarter(2025, 4), Quarter(2026, 1), Quarter(2026, 4), Quarter(2027, 1)]
    assert Quarter(2026, 1) < Quarter(2026, 2) < Quarter(2027, 1)


def test_consecutive_quarters_tile_the_calendar_without_gaps():
    q = Quarter(2024, 1)
    for _ in range(12):
        assert q.next().start - q.end == timedelta(days=1)
        q = q.next()


@pytest.mark.parametrize("number", [0, 5, -1])
def test_a_quarter_number_outside_1_to_4_is_refused(number):
    with pytest.raises(ValueError, match="1-4"):
        Quarter(2026, number)


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2026-27 Q1", "2026-27Q1", "2026-27-Q1", "2026/27 Q1", "2026-27 q1", " 2026-27  Q1 ", "2026/2027 Q1"],
)
def test_parse_accepts_the_ways_people_type_a_quarter(text):
    assert Quarter.parse(text) == Quarter(2026, 1)


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_parse_reads_back_both_label_and_key(number):
    q = Quarter(2031, number)
    assert Quarter.parse(q.label) == q
    assert Quarter.parse(q.key) == q


@pytest.mark.parametrize(
    "text", ["2026-28 Q1", "2026-27 Q5", "2026-27 Q0", "Q1", "2026 Q1", "2026-27", "", "FY26 Q1"]
)
def test_parse_refuses_anything_else_and_shows_the_right_form(text):
    with pytest.raises(ValueError) as info:
        Quarter.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert "use the form 2026-27 Q1" in message


def test_parse_error_message_matches_the_documented_wording():
    with pytest.raises(ValueError, match=r"^'2026-28 Q1' is not a quarter: use the form 2026-27 Q1$"):
        Quarter.parse("2026-28 Q1")


# --- containing, local time and BST --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 31), Quarter(2025, 4)),
        (date(2026, 4, 1), Quarter(2026, 1)),
        (date(2026, 6, 30), Quarter(2026, 1)),
        (date(2026, 7, 1), Quarter(2026, 2)),
        (date(2026, 12, 31), Quarter(2026, 3)),
        (date(2027, 1, 1), Quarter(2026, 4)),
    ],
)
def test_containing_finds_the_quarter_of_a_date(day, expected):
    assert Quarter.containing(day) == expected


def test_late_evening_utc_on_30_june_is_already_q2_in_london_summer_time(cal):
    moment = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert cal.today(moment) == date(2026, 7, 1)
    assert cal.quarter(moment) == Quarter(2026, 2)
    # The same instant read as a plain date is still Q1: the calendar is what adds local time.
    assert Quarter.containing(moment) == Quarter(2026, 1)


def test_late_evening_utc_on_31_march_is_still_q4_in_london_winter_time(cal):
    moment = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)  # BST starts 28 March 2027: this is 00:30 BST
    assert cal.quarter(moment) == Quarter(2027, 1)
    winter = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # GMT: local time equals UTC
    assert cal.quarter(winter) == Quarter(2026, 3)


def test_naive_datetimes_are_taken_as_utc(cal):
    naive = datetime(2026, 6, 30, 23, 30)
    assert cal.local(naive) == datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert cal.local(naive).utcoffset() == timedelta(hours=1)
    assert cal.quarter(naive) == Quarter(2026, 2)


def test_at_builds_a_wall_clock_time_with_the_right_offset_either_side_of_bst(cal):
    summer = cal.at(date(2026, 7, 1), 9)
    winter = cal.at(date(2026, 12, 1), 9, 30)
    assert summer.astimezone(UTC) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert winter.astimezone(UTC) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert summer.tzinfo == LONDON


def test_at_inside_the_spring_forward_gap_gives_a_real_instant(cal):
    moment = cal.at(date(2027, 3, 28), 1, 30)  # clocks jump from 01:00 to 02:00
    assert moment.astimezone(UTC).astimezone(LONDON) == moment
    assert moment.hour == 2


def test_quarter_of_a_plain_date_is_not_shifted(cal):
    assert cal.quarter(date(2026, 6, 30)) == Quarter(2026, 1)


# --- working days --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 25),  # Christmas Day
        date(2026, 12, 28),  # Boxing Day falls on Saturday: substitute Monday
        date(2027, 3, 26),  # Good Friday
        date(2027, 3, 29),  # Easter Monday
        date(2027, 1, 1),  # New Year's Day
        date(2026, 8, 31),  # Summer bank holiday (England, not Scotland)
    ],
)
def test_england_and_wales_bank_holidays_are_not_working_days(cal, day):
    assert day.weekday() < 5
    assert not cal.is_working_day(day)


def test_scotland_only_holidays_are_working_days_in_england(cal):
    day = date(2026, 1, 2)
    assert day in holidays.country_holidays("GB", subdiv="SCT", years=2026)
    assert cal.is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 11, 28), date(2026, 11, 29)])
def test_weekends_are_not_working_days(cal, day):
    assert not cal.is_working_day(day)


def test_ordinary_weekdays_are_working_days(cal):
    assert all(cal.is_working_day(date(2026, 11, d)) for d in range(23, 28))


def test_extra_council_closure_days_are_not_working_days():
    closure = date(2026, 12, 24)
    assert WorkingCalendar().is_working_day(closure)
    assert not WorkingCalendar(extra_holidays=[closure]).is_working_day(closure)


def test_next_working_day_skips_the_christmas_break(cal):
    assert cal.next_working_day(date(2026, 12, 25)) == date(2026, 12, 29)
    assert cal.next_working_day(date(2026, 12, 24)) == date(2026, 12, 24)
    assert cal.next_working_day(date(2026, 12, 24), include_today=False) == date(2026, 12, 29)


def test_add_working_days_across_christmas(cal):
    # Wed 23 Dec + 1 = Thu 24; + 2 skips Fri 25 (Christmas), the weekend and Mon 28 (Boxing Day observed)
    assert cal.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)
    assert cal.add_working_days(date(2026, 12, 23), 2) == date(2026, 12, 29)
    # 31 Dec + 1 skips 1 Jan (bank holiday) and the weekend
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_add_working_days_backwards_across_christmas(cal):
    assert cal.add_working_days(date(2026, 12, 29), -1) == date(2026, 12, 24)
    assert cal.add_working_days(date(2027, 1, 4), -2) == date(2026, 12, 30)


def test_add_zero_working_days_gives_the_first_working_day_from_today(cal):
    assert cal.add_working_days(date(2026, 12, 24), 0) == date(2026, 12, 24)
    assert cal.add_working_days(date(2026, 12, 26), 0) == date(2026, 12, 29)


def test_add_working_days_from_a_weekend_counts_from_monday(cal):
    assert cal.add_working_days(date(2026, 11, 28), 1) == date(2026, 11, 30)
    assert cal.add_working_days(date(2026, 11, 28), -1) == date(2026, 11, 27)


def test_working_days_between_counts_the_half_open_interval(cal):
    assert cal.working_days_between(date(2026, 12, 23), date(2026, 12, 29)) == 2
    assert cal.working_days_between(date(2026, 12, 29), date(2026, 12, 23)) == -2
    assert cal.working_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0
    assert cal.working_days_between(date(2026, 11, 20), date(2026, 11, 27)) == 5


@pytest.mark.parametrize("n", [1, 3, 7, 20, 60])
def test_working_days_between_undoes_add_working_days(cal, n):
    start = date(2026, 12, 18)
    assert cal.working_days_between(start, cal.add_working_days(start, n)) == n
    end = cal.add_working_days(start, -n)
    assert cal.working_days_between(end, start) == n


def test_first_working_day_of_2027_28_q1_matches_the_bank_holiday_list(cal):
    q1 = Quarter.parse("2027-28 Q1")
    bank = holidays.country_holidays("GB", subdiv="ENG", years=2027)
    expected = q1.start
    while expected.weekday() >= 5 or expected in bank:
        expected += timedelta(days=1)
    assert cal.first_working_day(q1) == expected
    assert expected == date(2027, 4, 1)  # a Thursday, and Easter 2027 fell in March


def test_first_working_day_of_q4_skips_new_years_day(cal):
    assert cal.first_working_day(Quarter(2026, 4)) == date(2027, 1, 4)


def test_working_day_questions_accept_an_instant_in_council_time(cal):
    # 23:30 UTC on Thu 24 Dec 2026 is still the 24th in London (GMT), a working day.
    assert cal.is_working_day(datetime(2026, 12, 24, 23, 30, tzinfo=UTC))
    # 23:30 UTC on Sun 28 Mar 2027 (BST) is 00:30 on Mon 29 Mar: Easter Monday.
    assert not cal.is_working_day(datetime(2027, 3, 28, 23, 30, tzinfo=UTC))
    assert not cal.is_working_day(datetime(2027, 3, 28, 12, 0, tzinfo=UTC))


# --- a council whose year starts in another month ------------------------------------------


def test_a_january_start_makes_quarters_calendar_quarters():
    q = Quarter.containing(date(2026, 5, 10), start_month=1)
    assert (q.year, q.number) == (2026, 2)
    assert q.label == "2026 Q2"
    assert q.key == "2026Q2"
    assert q.months_label == "Apr-Jun 2026"
    assert Quarter.parse("2026 Q2", start_month=1) == q
    with pytest.raises(ValueError, match="use the form 2026 Q1"):
        Quarter.parse("2026-27 Q2", start_month=1)


def test_a_september_start_makes_q2_span_the_calendar_year():
    q2 = Quarter(2026, 2, start_month=9)
    assert q2.start == date(2026, 12, 1)
    assert q2.end == date(2027, 2, 28)
    assert q2.months_label == "Dec 2026-Feb 2027"
    assert Quarter.containing(date(2027, 1, 15), start_month=9) == q2
    assert Quarter.containing(date(2026, 8, 31), start_month=9) == Quarter(2025, 4, 9)
    assert q2.next().start == date(2027, 3, 1)


def test_the_calendar_uses_its_start_month_for_quarters():
    cal = WorkingCalendar(year_start_month=7)
    q = cal.quarter(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # 1 July in London
    assert (q.year, q.number, q.start_month) == (2026, 1, 7)
    assert cal.first_working_day(q) == date(2026, 7, 1)


def test_an_impossible_start_month_is_refused():
    with pytest.raises(ValueError):
        WorkingCalendar(year_start_month=13)
    with pytest.raises(ValueError):
        Quarter(2026, 1, start_month=0)


def test_another_timezone_changes_the_local_date():
    cal = WorkingCalendar(tz="America/New_York")
    moment = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 22:00 on 30 June in New York
    assert cal.quarter(moment) == Quarter(2026, 1)
