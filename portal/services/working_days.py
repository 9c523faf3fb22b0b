"""Working days: Monday to Friday, less England and Wales bank holidays (the `holidays` package)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

# The 10-working-day decision on an application to join the DPS.
DECISION_WORKING_DAYS = 10


@cache
def _bank_holidays(year: int) -> holidays.HolidayBase:
    # England and Wales share their bank holidays; the package files them under the ENG subdivision.
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, count: int) -> date:
    """The date ``count`` working days after ``start`` (``start`` itself is not counted)."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end``; negative when ``end`` is before ``start``."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for offset in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=offset)))


def decision_due_on(submitted_on: date) -> date:
    return add_working_days(submitted_on, DECISION_WORKING_DAYS)
