"""The council's financial-year quarters and working days.

Everything the framework does is paced by quarters (proposals, allocations, sampling,
themes), and nobody should be prompted on a weekend or a bank holiday. Both questions are
answered here in plain Python so the scheduler, the reports and the tests share one answer.

Quarters are numbered within the financial year: with the default April start, Q1 is
Apr-Jun and Q4 is Jan-Mar of the *next* calendar year. ``Quarter.year`` is always the
calendar year in which the financial year starts, so "2026-27 Q4" has ``year == 2026`` even
though its months fall in 2027.

Instants are converted to the council's local time (Europe/London by default) before
asking which day or quarter they fall in: 23:30 UTC on 30 June is already 1 July in BST.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = ["Quarter", "WorkingCalendar"]

_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# "2026-27 Q1", "2026-27Q1", "2026-27-Q1", "2026/27 Q1", "2026/2027 q1"; and "2026 Q1" for a
# financial year that is the calendar year (start month January).
_QUARTER_RE = re.compile(
    r"^\s*(?P<first>\d{4})(?:\s*[-/]\s*(?P<second>\d{4}|\d{2}))?\s*[-/]?\s*[Qq]\s*(?P<number>[1-4])\s*$"
)


def _check_start_month(start_month: int) -> None:
    if not 1 <= start_month <= 12:
        raise ValueError(f"the financial year's first month must be 1-12, not {start_month}")


@dataclass(frozen=True, order=True)
class Quarter:
    """One quarter of a financial year; ordering follows time, ignoring the start month."""

    year: int
    number: int
    start_month: int = field(default=4, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"a quarter number is 1-4, not {self.number}")
        _check_start_month(self.start_month)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, start_month: int = 4) -> Quarter:
        """Read a quarter the way people type it in commands and org files."""
        _check_start_month(start_month)
        example = cls(2026, 1, start_month).label
        match = _QUARTER_RE.match(text or "")
        if match is None:
            raise ValueError(f"{text!r} is not a quarter: use the form {example}")
        first = int(match["first"])
        second = match["second"]
        spans_two_years = start_month != 1
        if second is None:
            if spans_two_years:
                raise ValueError(f"{text!r} is not a quarter: use the form {example}")
        else:
            expected = first + 1 if spans_two_years else first
            given = int(second)
            ok = given == expected if len(second) == 4 else given == expected % 100
            if not ok:
                raise ValueError(f"{text!r} is not a quarter: use the form {example}")
        return cls(first, int(match["number"]), start_month)

    @classmethod
    def containing(cls, day: date | datetime, start_month: int = 4) -> Quarter:
        """The quarter of a calendar date (a datetime is taken at its own wall-clock date).

        Use ``WorkingCalendar.quarter`` for instants, so they are first moved to council time.
        """
        _check_start_month(start_month)
        if isinstance(day, datetime):
            day = day.date()
        months_in = (day.month - start_month) % 12
        fy = day.year if day.month >= start_month else day.year - 1
        return cls(fy, months_in // 3 + 1, start_month)

    # --- arithmetic ---------------------------------------------------------------------
    def index(self) -> int:
        """A counter that goes up by one per quarter, so "the last 4 quarters" is a range."""
        return self.year * 4 + self.number - 1

    def shift(self, n: int) -> Quarter:
        year, zero_based = divmod(self.index() + n, 4)
        return Quarter(year, zero_based + 1, self.start_month)

    def next(self) -> Quarter:
        return self.shift(1)

    def previous(self) -> Quarter:
        return self.shift(-1)

    # --- dates --------------------------------------------------------------------------
    def _month(self, offset: int) -> tuple[int, int]:
        """(calendar year, month) of the quarter's month number ``offset`` (0-based)."""
        months_from_jan = self.start_month - 1 + 3 * (self.number - 1) + offset
        return self.year + months_from_jan // 12, months_from_jan % 12 + 1

    @property
    def start(self) -> date:
        year, month = self._month(0)
        return date(year, month, 1)

    @property
    def end(self) -> date:
        """The last day of the quarter, inclusive."""
        return self.next().start - timedelta(days=1)

    # --- labels -------------------------------------------------------------------------
    @property
    def financial_year_label(self) -> str:
        if self.start_month == 1:
            return str(self.year)
        return f"{self.year}-{(self.year + 1) % 100:02d}"

    @property
    def label(self) -> str:
        return f"{self.financial_year_label} Q{self.number}"

    @property
    def key(self) -> str:
        """The label without spaces, safe as a CLI argument or a database key."""
        return f"{self.financial_year_label}Q{self.number}"

    @property
    def months_label(self) -> str:
        first_year, first_month = self._month(0)
        last_year, last_month = self._month(2)
        first, last = _MONTH_ABBR[first_month - 1], _MONTH_ABBR[last_month - 1]
        if first_year == last_year:
            return f"{first}-{last} {first_year}"
        return f"{first} {first_year}-{last} {last_year}"

    def __str__(self) -> str:
        return self.label


class WorkingCalendar:
    """Working days and local time for one council.

    Working days skip weekends, England & Wales bank holidays (from the ``holidays``
    package, which knows substitute days such as Boxing Day observed on a Monday) and any
    extra closure days the council lists in its org file.
    """

    def __init__(
        self,
        tz: str = "Europe/London",
        extra_holidays: Iterable[date] = (),
        year_start_month: int = 4,
    ) -> None:
        _check_start_month(year_start_month)
        self.tz: ZoneInfo = ZoneInfo(tz)
        self.year_start_month = year_start_month
        self.extra_holidays: frozenset[date] = frozenset(extra_holidays)
        self._bank_holidays = holidays.country_holidays("GB", subdiv="ENG")

    # --- working days -------------------------------------------------------------------
    def _as_date(self, day: date | datetime) -> date:
        """Let callers pass an instant: its council-local date is the day they mean."""
        if isinstance(day, datetime):
            return self.today(day)
        return day

    def is_working_day(self, day: date) -> bool:
        day = self._as_date(day)
        return day.weekday() < 5 and day not in self._bank_holidays and day not in self.extra_holidays

    def next_working_day(self, day: date, include_today: bool = True) -> date:
        day = self._as_date(day)
        candidate = day if include_today else day + timedelta(days=1)
        while not self.is_working_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def previous_working_day(self, day: date, include_today: bool = True) -> date:
        day = self._as_date(day)
        candidate = day if include_today else day - timedelta(days=1)
        while not self.is_working_day(candidate):
            candidate -= timedelta(days=1)
        return candidate

    def add_working_days(self, day: date, n: int) -> date:
        """Count ``n`` working days on from (or, if negative, back from) ``day``.

        The counting never includes ``day`` itself, so a deadline "5 working days after" a
        Friday lands on the following Friday. ``n == 0`` means "the first working day from
        today", which is when a job that fell on a holiday should run instead.
        """
        day = self._as_date(day)
        if n == 0:
            return self.next_working_day(day)
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        candidate = day
        while remaining:
            candidate += step
            if self.is_working_day(candidate):
                remaining -= 1
        return candidate

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``.

        The half-open interval makes this the inverse of ``add_working_days`` for n > 0,
        which is what "how many working days overdue" needs.
        """
        start, end = self._as_date(start), self._as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += timedelta(days=1)
        return count

    def first_working_day(self, quarter: Quarter) -> date:
        return self.next_working_day(quarter.start)

    # --- local time ---------------------------------------------------------------------
    def local(self, moment: datetime) -> datetime:
        """Council-local time; a naive datetime is taken as UTC, as the database stores it."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.tz)

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """An aware instant at a wall-clock time in the council's zone.

        The round trip through UTC turns a wall time that does not exist (inside the
        spring-forward gap) into a real instant instead of an impossible one.
        """
        wall = datetime.combine(day, time(hour, minute), tzinfo=self.tz)
        return wall.astimezone(UTC).astimezone(self.tz)

    def today(self, now: datetime) -> date:
        return self.local(now).date()

    def quarter(self, moment: datetime | date) -> Quarter:
        day = self.today(moment) if isinstance(moment, datetime) else moment
        return Quarter.containing(day, self.year_start_month)
