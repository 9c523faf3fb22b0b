"""The council's calendar: timestamps are stored in UTC; days (deadlines, expiries, admissions) are Europe/London days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def now() -> datetime:
    """The server's clock, in UTC. Deadlines are enforced against it; tests replace it to freeze time."""
    return datetime.now(UTC)


def london_today(now: datetime | None = None) -> date:
    """Today's date where the council is (or the London date of ``now``)."""
    return (now or datetime.now(UTC)).astimezone(LONDON).date()


def london_day_start(day: date) -> datetime:
    """Midnight at the start of a Europe/London calendar day, as a UTC instant (BST-aware)."""
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)
