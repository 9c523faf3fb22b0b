"""Attendance: the provider records each morning and afternoon session of a placement with a DfE code.

- A session is expected on a weekday between the placement's start and its end (or planned end), not on a bank
  holiday, not out of term when the manager has set the term dates, and only if it is one of the placement's expected
  sessions.
- A session can be recorded on or after its date; a second save of a session updates its mark (one row per session,
  the unique constraint is the backstop: the write is an upsert on both SQLite and PostgreSQL).
- An unexplained absence (O or N) raises an alert at once; ``raise_alerts`` (the ``flask attendance alerts`` command,
  run by cron every 30 minutes) raises the same alert for today's O and N marks, and the missing-mark alerts after
  11:00 and 15:00 London time. An alert is a row unique per placement, day and kind: each is sent once.
- The attendance rate is attended over possible sessions in the 28 days ending today; under 90% is flagged.

Marks are not audited one by one: the mark row keeps who recorded it and when. Services never commit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from portal import clock
from portal.clock import LONDON
from portal.extensions import db
from portal.formatting import london_datetime, long_date
from portal.models import (
    AlertKind,
    AttendanceAlert,
    AttendanceMark,
    HalfTerm,
    Placement,
    PlacementStatus,
    User,
)
from portal.services import attendance_codes, mail, placements, safeguarding, working_days
from portal.services.attendance_codes import CODES, UNEXPLAINED
from portal.services.errors import DomainError, FieldErrors, IllegalTransition
from portal.services.placements import WEEKDAY_NAMES, session_key

SESSIONS = ("am", "pm")
SESSION_NAMES = {"am": "morning", "pm": "afternoon"}
MORNING_DEADLINE = time(11, 0)
AFTERNOON_DEADLINE = time(15, 0)
# The codes by what they count as, in the DfE's order: the options of a cell's select.
CODE_GROUPS: tuple[tuple[str, tuple[attendance_codes.Code, ...]], ...] = tuple(
    (category.value.capitalize(), tuple(code for code in CODES.values() if code.category is category))
    for category in attendance_codes.Category
)
CODE_MESSAGE = "Choose a DfE attendance code"
FUTURE_MESSAGE = "You cannot record a session before its date"


def field_name(day: date, session: str) -> str:
    """The name of a cell's select in the week form: ``code-2027-01-11-am``."""
    return f"code-{day.isoformat()}-{session}"


def seen_name(day: date, session: str) -> str:
    """The name of the hidden field beside a cell's select that carries the code the page showed ("" for none)."""
    return f"seen-{field_name(day, session)}"


def day_label(day: date) -> str:
    """ "Monday 11 January"."""
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {day:%B}"


def session_label(day: date, session: str) -> str:
    """ "Monday 11 January, morning": what a screen reader says for a cell's select."""
    return f"{day_label(day)}, {SESSION_NAMES[session]}"


def week_start_of(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def last_day(placement: Placement) -> date:
    """The last day the placement runs: the day it ended, or its planned end."""
    return placement.ended_on or placement.planned_end_date


# ---- Term time ------------------------------------------------------------------------------------------------------


def academic_year(day: date) -> str:
    """The school year a day falls in, as HalfTerm stores it ("2026/27"; a year starts on 1 September)."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


@dataclass(frozen=True)
class TermCalendar:
    """The half terms the manager has set, by academic year. A year with none set counts every day as term time."""

    half_terms: dict[str, tuple[tuple[date, date], ...]]

    def in_term(self, day: date) -> bool:
        terms = self.half_terms.get(academic_year(day))
        return not terms or any(start <= day <= end for start, end in terms)


def term_calendar(first: date, last: date) -> TermCalendar:
    """The half terms of every academic year from ``first`` to ``last``, in one query."""
    years = sorted({academic_year(first), academic_year(last)} | _years_between(first, last))
    by_year: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for row in db.session.execute(
        sa.select(HalfTerm.academic_year, HalfTerm.starts_on, HalfTerm.ends_on).where(HalfTerm.academic_year.in_(years))
    ):
        by_year[row.academic_year].append((row.starts_on, row.ends_on))
    return TermCalendar({year: tuple(terms) for year, terms in by_year.items()})


def _years_between(first: date, last: date) -> set[str]:
    return {academic_year(date(year, 1, 1)) for year in range(first.year, last.year + 1)}


def expected(placement: Placement, day: date, calendar: TermCalendar | None = None) -> set[str]:
    """The sessions ("am", "pm") the child is expected at on the day. Pass a calendar to check many days with one
    query; without one, the day's term dates are read."""
    if not placement.start_date <= day <= last_day(placement) or not working_days.is_working_day(day):
        return set()
    if not (calendar or term_calendar(day, day)).in_term(day):
        return set()
    keys = placement.expected_session_keys
    return {session for session in SESSIONS if session_key(day, session) in keys}


# ---- Recording ------------------------------------------------------------------------------------------------------


def _placement_to_record(placement_id: int, by: User) -> Placement:
    placement = placements.get_placement(placement_id, by)
    placements.ensure_may_record(placement, by)
    return placement


def _day_problem(placement: Placement, day: date, today: date) -> str | None:
    """Why no session of this day can be recorded (IllegalTransition when the placement ended before it)."""
    if placement.ended_on is not None and day > placement.ended_on:
        raise IllegalTransition(
            f"This placement ended on {long_date(placement.ended_on)}: no session after that can be recorded"
        )
    if day.weekday() >= 5:
        return "Attendance is recorded for weekdays only"
    if day < placement.start_date:
        return f"The placement starts on {long_date(placement.start_date)}: you cannot record a session before it"
    if day > last_day(placement):
        return (
            f"The placement is planned to end on {long_date(last_day(placement))}: you cannot record a session after it"
        )
    if day > today:
        return FUTURE_MESSAGE
    return None


def _check(placement: Placement, day: date, session: str, code: str | None, today: date) -> tuple[str, str | None]:
    """The code as stored, and what is wrong with recording it for the session (None if nothing)."""
    if session not in SESSIONS:
        return "", "Choose the morning or the afternoon session"
    problem = _day_problem(placement, day, today)
    if problem:
        return "", problem
    normalised = attendance_codes.normalise(code or "", session)
    if normalised not in CODES:
        return "", CODE_MESSAGE
    return normalised, None


def _insert(model):
    """An INSERT that can say ON CONFLICT, for the database in use (SQLite and PostgreSQL spell it the same)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _session(placement_id: int, day: date, session: str) -> tuple:
    """The conditions that pick one session's mark."""
    return (
        AttendanceMark.placement_id == placement_id,
        AttendanceMark.day == day,
        AttendanceMark.session == session,
    )


def _row(placement_id: int, by: User, day: date, session: str, code: str, now: datetime) -> dict:
    return {
        "placement_id": placement_id,
        "day": day,
        "session": session,
        "code": code,
        "recorded_by_id": by.id,
        "recorded_at": now,
        # The last save decides: a correction made on a later day is not "recorded the same day".
        "recorded_same_day": day == clock.london_today(now),
    }


def _upsert_marks(placement_id: int, by: User, codes: dict[tuple[date, str], str], now: datetime) -> None:
    """Write the marks: a session already marked is updated, never duplicated (a concurrent save of the same session
    meets the unique constraint, which turns it into an update)."""
    if not codes:
        return
    statement = _insert(AttendanceMark).values(
        [_row(placement_id, by, day, session, code, now) for (day, session), code in codes.items()]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["placement_id", "day", "session"],
        set_={
            "code": statement.excluded.code,
            "recorded_by_id": statement.excluded.recorded_by_id,
            "recorded_at": statement.excluded.recorded_at,
            "recorded_same_day": statement.excluded.recorded_same_day,
        },
    )
    db.session.execute(statement)


def _write_if_unchanged(placement_id: int, by: User, day: date, session: str, code: str, seen: str, now: datetime):
    """Write the mark only if the session still holds ``seen`` (the code the page showed, "" for none), with
    conditional statements, so of two saves made from pages showing the same mark only the first is written. False
    if the session holds another mark now."""
    row = _row(placement_id, by, day, session, code, now)
    if seen:
        updated = db.session.execute(
            sa.update(AttendanceMark)
            .where(*_session(placement_id, day, session), AttendanceMark.code == seen)
            .values({key: row[key] for key in ("code", "recorded_by_id", "recorded_at", "recorded_same_day")})
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount == 1:
            return True
    # No mark was shown, or the one shown is not there: write only where there is still no mark at all.
    inserted = db.session.execute(
        _insert(AttendanceMark)
        .values(row)
        .on_conflict_do_nothing(index_elements=["placement_id", "day", "session"])
        .returning(AttendanceMark.id)
    )
    return inserted.first() is not None


class StaleMarks(FieldErrors):
    """Sessions someone else marked after the page was drawn. Nothing is saved (a route answers 409); each message
    names the mark that stands."""


def _stale_message(placement_id: int, day: date, session: str, yours: str) -> str:
    view = _mark_view(placement_id, day, session)
    theirs = f"{view.recorded_by} recorded {view.code} ({view.meaning}) on {london_datetime(view.recorded_at)}"
    return (
        f"Not saved: {theirs}, after you opened this page. Save the week to replace it with {yours}, or choose "
        "another code"
    )


def _save(
    placement_id: int,
    by: User,
    codes: dict[tuple[date, str], str],
    stored: dict[tuple[date, str], str],
    seen: dict[tuple[date, str], str],
    now: datetime,
) -> dict[tuple[date, str], str]:
    """Write each code that differs from the stored one, and return those written. A session whose page said what it
    showed (``seen``) is written only if nobody has marked it otherwise since, and one left as it was shown is not
    written at all, so saving a week never undoes another person's correction; StaleMarks if any was marked
    otherwise. A session without ``seen`` (a client that does not say) is simply written: the last save decides."""
    unguarded = {key: code for key, code in codes.items() if key not in seen and stored.get(key) != code}
    _upsert_marks(placement_id, by, unguarded, now)
    written = dict(unguarded)
    stale = {}
    for (day, session), code in sorted(codes.items()):
        was = seen.get((day, session))
        if was is None or code in (was, stored.get((day, session))):
            continue
        if _write_if_unchanged(placement_id, by, day, session, code, was, now):
            written[(day, session)] = code
        else:
            stale[field_name(day, session)] = _stale_message(placement_id, day, session, code)
    if stale:
        raise StaleMarks(stale)
    return written


def _mark_view(placement_id: int, day: date, session: str) -> MarkView:
    row = db.session.execute(
        sa.select(AttendanceMark.code, AttendanceMark.recorded_at, User.name)
        .join(User, User.id == AttendanceMark.recorded_by_id)
        .where(*_session(placement_id, day, session))
    ).one()
    return MarkView.of(row)


def _mark(placement_id: int, day: date, session: str) -> AttendanceMark:
    return db.session.scalars(
        sa.select(AttendanceMark).where(*_session(placement_id, day, session)).execution_options(populate_existing=True)
    ).one()


def record(
    placement_id: int, by: User, day: date, session: str, code: str, *, now: datetime, seen: str | None = None
) -> AttendanceMark:
    """Record (or correct) one session's code; ``seen`` is the code the page showed ("" for none), see _save. Raises
    NotFound (not visible), NotAllowed (not the provider), IllegalTransition (after the placement ended), StaleMarks
    (marked otherwise since the page was drawn) or DomainError with field "code" (the message to show)."""
    placement = _placement_to_record(placement_id, by)
    stored, problem = _check(placement, day, session, code, clock.london_today(now))
    if problem:
        raise DomainError(problem, field="code")
    key = (day, session)
    before = db.session.scalar(sa.select(AttendanceMark.code).where(*_session(placement.id, day, session)))
    current = {key: before} if before is not None else {}
    written = _save(placement.id, by, {key: stored}, current, {key: seen} if seen is not None else {}, now)
    if written and stored in UNEXPLAINED:
        raise_absence_alert(placement, day, now)
    return _mark(placement.id, day, session)


def mark_day_present(placement_id: int, by: User, day: date, *, now: datetime) -> int:
    """Mark present ("/" in the morning, "\\" in the afternoon) every session expected on the day that has no mark
    yet; a mark already there is kept. Returns how many sessions were marked."""
    placement = _placement_to_record(placement_id, by)
    problem = _day_problem(placement, day, clock.london_today(now))
    if problem:
        raise DomainError(problem, field="day")
    sessions = expected(placement, day)
    if not sessions:
        return 0
    statement = (
        _insert(AttendanceMark)
        .values(
            [
                _row(placement.id, by, day, session, attendance_codes.PRESENT_BY_SESSION[session], now)
                for session in sorted(sessions)
            ]
        )
        .on_conflict_do_nothing(index_elements=["placement_id", "day", "session"])
        .returning(AttendanceMark.id)
    )
    return len(db.session.execute(statement).all())


def save_week(
    placement_id: int,
    by: User,
    week_start: date,
    codes: dict[tuple[date, str], str],
    *,
    now: datetime,
    seen: dict[tuple[date, str], str] | None = None,
) -> int:
    """The plain form: every non-empty cell of the week is checked first (FieldErrors keyed by the cells' field
    names; nothing is saved if any is wrong), then the cells whose code changed are saved, each guarded by the code
    the page showed (``seen``, see _save: StaleMarks). An empty cell leaves its mark as it is. Returns how many
    sessions were saved."""
    placement = _placement_to_record(placement_id, by)
    today = clock.london_today(now)
    monday = week_start_of(week_start)
    week_days = {monday + timedelta(days=n) for n in range(5)}
    errors: dict[str, str] = {}
    checked: dict[tuple[date, str], str] = {}
    for (day, session), code in sorted(codes.items()):
        if not (code or "").strip():
            continue
        if day not in week_days:
            errors[field_name(day, session)] = "This session is not in the week shown"
            continue
        stored, problem = _check(placement, day, session, code, today)
        if problem:
            errors[field_name(day, session)] = problem
        else:
            checked[(day, session)] = stored
    if errors:
        raise FieldErrors(errors)
    saved = {
        (row.day, row.session): row.code
        for row in db.session.execute(
            sa.select(AttendanceMark.day, AttendanceMark.session, AttendanceMark.code).where(
                AttendanceMark.placement_id == placement.id, AttendanceMark.day.in_(sorted(week_days))
            )
        )
    }
    written = _save(placement.id, by, checked, saved, seen or {}, now)
    for day in sorted({day for (day, _), code in written.items() if code in UNEXPLAINED}):
        raise_absence_alert(placement, day, now)
    return len(written)


# ---- The week grid --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkView:
    code: str
    meaning: str
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, row) -> MarkView:
        """From a row of the mark's code and recorded_at, and the recorder's name."""
        return cls(row.code, CODES[row.code].meaning if row.code in CODES else row.code, row.name, row.recorded_at)


@dataclass(frozen=True)
class Cell:
    day: date
    session: str
    mark: MarkView | None
    expected: bool
    # The session can be recorded now: a weekday of the placement, today or before (and not after it ended).
    recordable: bool
    # The day is one of the placement's (from its start to its end or planned end).
    in_placement: bool = True

    @property
    def field(self) -> str:
        return field_name(self.day, self.session)

    @property
    def seen_name(self) -> str:
        return seen_name(self.day, self.session)

    @property
    def label(self) -> str:
        return session_label(self.day, self.session)

    @property
    def code(self) -> str:
        return self.mark.code if self.mark else ""


@dataclass(frozen=True)
class Day:
    day: date
    cells: dict[str, Cell]

    @property
    def name(self) -> str:
        return WEEKDAY_NAMES[self.day.weekday()]

    @property
    def label(self) -> str:
        return day_label(self.day)

    @property
    def recordable(self) -> bool:
        return any(cell.recordable for cell in self.cells.values())

    @property
    def unmarked_expected(self) -> int:
        """Expected sessions with no mark: what "mark present" would mark."""
        return sum(1 for cell in self.cells.values() if cell.expected and cell.mark is None)


@dataclass(frozen=True)
class Week:
    start: date
    days: list[Day]
    today: date
    first_week: date
    last_week: date
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=4)

    @property
    def caption(self) -> str:
        return f"Week beginning {long_date(self.start)}"

    @property
    def previous(self) -> date | None:
        return self.start - timedelta(weeks=1) if self.start > self.first_week else None

    @property
    def next(self) -> date | None:
        return self.start + timedelta(weeks=1) if self.start < self.last_week else None

    @property
    def any_recordable(self) -> bool:
        return any(day.recordable for day in self.days)

    def cell(self, day: date, session: str) -> Cell:
        return self.days[(day - self.start).days].cells[session]


def default_week(placement: Placement, today: date) -> date:
    """The week a placement's attendance opens at: this week; its first week before it starts; its last week once it
    has ended (or passed its planned end)."""
    if today < placement.start_date:
        return week_start_of(placement.start_date)
    if today > last_day(placement):
        return week_start_of(last_day(placement))
    return week_start_of(today)


def week(placement: Placement, week_start: date, today: date | None = None) -> Week:
    """The Monday-to-Friday grid of the week holding ``week_start``: each session's mark (with who recorded it and
    when), whether it is expected, whether it can be recorded yet. One query for the marks, one for the term dates."""
    today = today or clock.london_today(clock.now())
    monday = week_start_of(week_start)
    friday = monday + timedelta(days=4)
    rows = db.session.execute(
        sa.select(
            AttendanceMark.day, AttendanceMark.session, AttendanceMark.code, AttendanceMark.recorded_at, User.name
        )
        .join(User, User.id == AttendanceMark.recorded_by_id)
        .where(AttendanceMark.placement_id == placement.id, AttendanceMark.day.between(monday, friday))
    )
    marks = {(row.day, row.session): MarkView.of(row) for row in rows}
    calendar = term_calendar(monday, friday)
    ended_on = placement.ended_on
    days = []
    for offset in range(5):
        day = monday + timedelta(days=offset)
        sessions = expected(placement, day, calendar)
        in_placement = placement.start_date <= day <= last_day(placement)
        recordable = in_placement and day <= today and (ended_on is None or day <= ended_on)
        days.append(
            Day(
                day,
                {
                    session: Cell(
                        day, session, marks.get((day, session)), session in sessions, recordable, in_placement
                    )
                    for session in SESSIONS
                },
            )
        )
    return Week(
        start=monday,
        days=days,
        today=today,
        first_week=week_start_of(placement.start_date),
        last_week=week_start_of(last_day(placement)),
        rows=[(session, [d.cells[session] for d in days]) for session in SESSIONS],
    )


# ---- The rate -------------------------------------------------------------------------------------------------------


def rate_last_four_weeks(placement_id: int, today: date) -> float | None:
    """Attended over possible sessions in the 28 days ending today (None when there was no possible session)."""
    first, last = attendance_codes.window(today)
    row = db.session.execute(
        sa.select(
            attendance_codes.attended_sum(AttendanceMark.code).label("attended"),
            attendance_codes.possible_sum(AttendanceMark.code).label("possible"),
        ).where(AttendanceMark.placement_id == placement_id, AttendanceMark.day.between(first, last))
    ).one()
    return attendance_codes.rate(row.attended, row.possible)


# ---- Alerts ---------------------------------------------------------------------------------------------------------

_WHAT_TO_DO = {
    AlertKind.ABSENCE: (
        "{provider} recorded an unexplained absence (code O or N) for placement {reference} on {day}.\n\n"
        "Contact the provider today to find out why the child is absent and that they are safe. If the child "
        "cannot be found, follow your safeguarding procedures for a child missing education."
    ),
    AlertKind.NO_MORNING_MARK: (
        "{provider} had not recorded the morning session of placement {reference} by 11:00 on {day}.\n\n"
        "Contact the provider to find out whether the child arrived, and ask them to record the session. If the "
        "child has not arrived and cannot be found, follow your safeguarding procedures."
    ),
    AlertKind.NO_AFTERNOON_MARK: (
        "{provider} had not recorded the afternoon session of placement {reference} by 15:00 on {day}.\n\n"
        "Contact the provider to find out whether the child is there, and ask them to record the session. If the "
        "child is not there and cannot be found, follow your safeguarding procedures."
    ),
}


def alert_subject(placement: Placement, kind: AlertKind, day: date) -> str:
    return f"Attendance alert: placement {placements.reference(placement)}, {kind.value} on {long_date(day)}"


def alert_body(placement: Placement, kind: AlertKind, day: date) -> str:
    """What happened and what to do, with a link to the week's attendance. Never anything about the child."""
    text = _WHAT_TO_DO[kind].format(
        provider=placement.provider.name, reference=placements.reference(placement), day=long_date(day)
    )
    path = f"/placements/{placement.id}/attendance?week={week_start_of(day).isoformat()}"
    return f"{text}\n\nSee the attendance: {current_app.config['BASE_URL']}{path}"


def _insert_alert(placement_id: int, day: date, kind: AlertKind, now: datetime) -> bool:
    """Add the alert unless it is there already (a concurrent run's insert counts as there). True if added."""
    statement = (
        _insert(AttendanceAlert)
        .values(placement_id=placement_id, day=day, kind=kind, raised_at=now)
        .on_conflict_do_nothing(index_elements=["placement_id", "day", "kind"])
        .returning(AttendanceAlert.id)
    )
    return db.session.execute(statement).first() is not None


def _send(raised: list[tuple[Placement, AlertKind, date]]) -> None:
    """Tell the officer (in the portal and by email) and the responsible party's DSL: in the portal and by email when
    the DSL has an active account, by email alone otherwise. One query finds the DSLs' accounts."""
    if not raised:
        return
    contacts = {p.id: safeguarding.placement_contact(p) for p, _, _ in raised}
    emails = sorted({c.dsl_email.strip().lower() for c in contacts.values() if c.dsl_email.strip()})
    dsl_users = {user.email: user for user in mail.active_users(User.email.in_(emails))} if emails else {}
    for placement, kind, day in raised:
        subject, body = alert_subject(placement, kind, day), alert_body(placement, kind, day)
        officer = placement.officer
        if officer is not None and officer.active:
            mail.notify(officer, subject, body)
        dsl_email = contacts[placement.id].dsl_email.strip().lower()
        if not dsl_email or (officer is not None and officer.active and dsl_email == officer.email):
            continue
        dsl_user = dsl_users.get(dsl_email)
        if dsl_user is not None:
            mail.notify(dsl_user, subject, body)
        else:
            mail.queue_email(dsl_email, subject, body)


def raise_absence_alert(placement: Placement, day: date, now: datetime) -> bool:
    """The unexplained-absence alert for the placement's day, sent now unless it was raised already."""
    if not _insert_alert(placement.id, day, AlertKind.ABSENCE, now):
        return False
    _send([(placement, AlertKind.ABSENCE, day)])
    return True


def raise_alerts(now: datetime) -> int:
    """Today's alerts for every active placement: an O or N mark today, no morning mark after 11:00, no afternoon
    mark after 15:00 (London time) on an expected session. Each new alert is sent once; returns how many were raised.
    Reads in a fixed number of queries whatever the number of placements; writes one row per new alert."""
    today = clock.london_today(now)
    local_time = now.astimezone(LONDON).time()
    running = list(
        db.session.scalars(
            sa.select(Placement)
            .options(joinedload(Placement.provider), joinedload(Placement.service), joinedload(Placement.officer))
            .where(
                Placement.status == PlacementStatus.ACTIVE,
                Placement.start_date <= today,
                Placement.planned_end_date >= today,
            )
            .order_by(Placement.id)
        )
    )
    if not running:
        return 0
    marks: dict[int, dict[str, str]] = defaultdict(dict)
    for row in db.session.execute(
        sa.select(AttendanceMark.placement_id, AttendanceMark.session, AttendanceMark.code)
        .join(Placement, Placement.id == AttendanceMark.placement_id)
        .where(AttendanceMark.day == today, Placement.status == PlacementStatus.ACTIVE)
    ):
        marks[row.placement_id][row.session] = row.code
    already = {
        (row.placement_id, row.kind)
        for row in db.session.execute(
            sa.select(AttendanceAlert.placement_id, AttendanceAlert.kind).where(AttendanceAlert.day == today)
        )
    }
    calendar = term_calendar(today, today)
    due: list[tuple[Placement, AlertKind, date]] = []
    for placement in running:
        codes = marks.get(placement.id, {})
        kinds = []
        if any(code in UNEXPLAINED for code in codes.values()):
            kinds.append(AlertKind.ABSENCE)
        sessions = expected(placement, today, calendar)
        if local_time >= MORNING_DEADLINE and "am" in sessions and "am" not in codes:
            kinds.append(AlertKind.NO_MORNING_MARK)
        if local_time >= AFTERNOON_DEADLINE and "pm" in sessions and "pm" not in codes:
            kinds.append(AlertKind.NO_AFTERNOON_MARK)
        due += [(placement, kind, today) for kind in kinds if (placement.id, kind) not in already]
    raised = [entry for entry in due if _insert_alert(entry[0].id, entry[2], entry[1], now)]
    _send(raised)
    return len(raised)
