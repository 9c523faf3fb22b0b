"""The school year's term dates, set by the manager: six half terms a year (Autumn 1 to Summer 2). Reviews falling in a
holiday move back to the end of the half term before it (portal.services.review_schedule reads them).

An academic year is written "2026/27" and runs from 1 August to 31 July. Saving replaces that year's six rows; a
fingerprint of the rows the form was made from refuses a save made over someone else's (Conflict).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.models import HalfTerm, User
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors

POSITIONS = (1, 2, 3, 4, 5, 6)
HALF_TERM_NAMES = ("Autumn 1", "Autumn 2", "Spring 1", "Spring 2", "Summer 1", "Summer 2")
YEAR_PATTERN = re.compile(r"^(\d{4})/(\d{2})$")


def start_field(position: int) -> str:
    return f"starts_{position}"


def end_field(position: int) -> str:
    return f"ends_{position}"


def academic_year_of(day: date) -> str:
    """The academic year a day falls in: 1 August 2026 to 31 July 2027 is "2026/27"."""
    first = day.year if day.month >= 8 else day.year - 1
    return year_label(first)


def year_label(first_year: int) -> str:
    return f"{first_year}/{(first_year + 1) % 100:02d}"


def first_year(label: str) -> int | None:
    """2026 for "2026/27"; None for anything that is not an academic year written that way."""
    match = YEAR_PATTERN.match(label or "")
    if not match:
        return None
    first = int(match.group(1))
    return first if (first + 1) % 100 == int(match.group(2)) else None


def year_choices(today: date) -> list[str]:
    """The current academic year and the next two."""
    first = first_year(academic_year_of(today)) or today.year
    return [year_label(first + n) for n in range(3)]


def year_bounds(label: str) -> tuple[date, date]:
    first = first_year(label)
    if first is None:
        raise ValueError(f"not an academic year: {label!r}")
    return date(first, 8, 1), date(first + 1, 7, 31)


def half_terms(label: str) -> list[HalfTerm]:
    """The year's half terms in order (none until the manager sets them)."""
    return list(
        db.session.scalars(sa.select(HalfTerm).where(HalfTerm.academic_year == label).order_by(HalfTerm.position))
    )


def fingerprint(rows: list[HalfTerm]) -> str:
    """What the year's rows were when a form was made: a save over different rows is refused."""
    text = ";".join(f"{row.position}:{row.starts_on.isoformat()}:{row.ends_on.isoformat()}" for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Dates:
    starts_on: date | None
    ends_on: date | None


def validate(label: str, dates: dict[int, Dates]) -> dict[int, tuple[date, date]]:
    """The six half terms, checked: each given, each ending on or after it starts, in order without overlaps, and all
    within the academic year. FieldErrors names each wrong field."""
    year_start, year_end = year_bounds(label)
    errors: dict[str, str] = {}
    checked: dict[int, tuple[date, date]] = {}
    previous_end: date | None = None
    previous_name = ""
    for position, name in zip(POSITIONS, HALF_TERM_NAMES, strict=True):
        given = dates.get(position) or Dates(None, None)
        start, end = given.starts_on, given.ends_on
        if start is None:
            errors[start_field(position)] = f"Enter the date {name} starts"
        elif not year_start <= start <= year_end:
            errors[start_field(position)] = (
                f"{name} must start within the academic year {label} (1 August {year_start.year} to 31 July "
                f"{year_end.year})"
            )
        elif previous_end is not None and start <= previous_end:
            errors[start_field(position)] = f"{name} must start after {previous_name} ends"
        if end is None:
            errors[end_field(position)] = f"Enter the date {name} ends"
        elif not year_start <= end <= year_end:
            errors[end_field(position)] = (
                f"{name} must end within the academic year {label} (1 August {year_start.year} to 31 July "
                f"{year_end.year})"
            )
        elif start is not None and end < start:
            errors[end_field(position)] = f"{name} must end on or after the day it starts"
        if start is not None and end is not None:
            checked[position] = (start, end)
        if end is not None:
            previous_end = max(end, previous_end) if previous_end else end
            previous_name = name
    if errors:
        raise FieldErrors(errors)
    return checked


def set_term_dates(
    label: str, dates: dict[int, Dates], by: User, *, seen: str, now: datetime, ip: str | None = None
) -> list[HalfTerm]:
    """Replace the year's half terms with these. ``seen`` is the fingerprint of the rows the form was made from."""
    if first_year(label) is None:
        raise FieldErrors({"year": "Choose an academic year"})
    existing = half_terms(label)
    if seen != fingerprint(existing):
        raise Conflict(
            f"Someone else changed the term dates for {label} while you had them open. Nothing you sent was saved: "
            "the page now shows the dates as they are. Check them, then make your change again."
        )
    checked = validate(label, dates)
    for row in existing:
        db.session.delete(row)
    db.session.flush()
    rows = [
        HalfTerm(academic_year=label, position=position, starts_on=start, ends_on=end)
        for position, (start, end) in sorted(checked.items())
    ]
    db.session.add_all(rows)
    db.session.flush()
    audit.record(
        Events.TERM_DATES_SET,
        actor=by,
        ip=ip,
        academic_year=label,
        half_terms=", ".join(f"{row.name} {row.starts_on.isoformat()} to {row.ends_on.isoformat()}" for row in rows),
        replaced=len(existing),
    )
    return rows
