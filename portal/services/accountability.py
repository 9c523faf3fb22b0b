"""Provider accountability: each admitted provider's placements, attendance, progress, on-time reporting, concerns,
complaints and performance meetings, for the manager; and recording performance meetings and complaints.

How each figure is defined (over a period: the table's is the 365 days up to and including today; the provider's page
has one per academic term, or per calendar quarter when no term dates are set):

- Active placements: the provider's placements active today.
- Placements: the provider's placements that ran on at least one day of the period (started on or before its last
  day, and not ended before its first).
- Attendance rate: attended over possible sessions (``attendance_codes``) of days in the period.
- Recorded the same day: the marks of days in the period last saved on the session's own day, over all of them
  (as the SLA KPI, ``sla_kpis``).
- Reports on time: the review cycles whose report fell due in the period (and before today), as the SLA KPI counts
  them (a submitted report, a review held with none, an active placement's overdue current cycle); on time when
  submitted on or before its due date (London time).
- Progress: at each placement's latest review held in the period, the aims rated on or ahead of target, over all
  the aims those reviews rated.
- Open concerns: safeguarding concerns about the provider's placements open today; concerns raised: those raised in
  the period.
- Complaints: received in the period, and how many of them were upheld.
- Last performance meeting: the latest held, ever.

Unlike the SLA KPIs these count every placement of the provider, whatever its lot. All of it is one SELECT (with a
COUNT for the table's pages), whatever the number of providers, placements, marks or reviews.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.sql.functions import FunctionElement

from portal import clock
from portal.extensions import db
from portal.models import (
    Admission,
    AttendanceMark,
    Complaint,
    Concern,
    ConcernStatus,
    HalfTerm,
    PerformanceMeeting,
    Placement,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Provider,
    Review,
    ReviewAim,
    Role,
    User,
)
from portal.pagination import Page, paginate
from portal.services import attendance_codes, audit, eligibility, review_schedule
from portal.services.audit import Events
from portal.services.errors import DomainError, FieldErrors, NotAllowed, NotFound

PER_PAGE = 25
NOTES_MAX = 5000
SUMMARY_MAX = 500
PERIODS = 6
WINDOW = timedelta(days=365)
ONE_PLACE = Decimal("0.1")


# ---- The London date of a timestamp, in SQL ---------------------------------------------------------------------


class _LondonDatePlus(FunctionElement):
    """The Europe/London calendar day of a UTC timestamp, plus a number of days (SQLite: a Python function registered
    on the connection by ``_prepare``; PostgreSQL: ``timezone()``)."""

    type = sa.Date()
    inherit_cache = True
    name = "portal_london_date_plus"


@compiles(_LondonDatePlus)
def _london_date_plus_sqlite(element, compiler, **kw):
    return f"portal_london_date_plus({compiler.process(element.clauses, **kw)})"


@compiles(_LondonDatePlus, "postgresql")
def _london_date_plus_postgresql(element, compiler, **kw):
    timestamp, days = list(element.clauses)
    return (
        f"(CAST(timezone('Europe/London', {compiler.process(timestamp, **kw)}) AS DATE) "
        f"+ CAST({compiler.process(days, **kw)} AS INTEGER))"
    )


def _london_date_plus_python(value, days) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (clock.london_today(moment) + timedelta(days=int(days))).isoformat()


def _prepare() -> None:
    """Register the SQLite function on the session's connection (no SQL statement is sent)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.create_function(
            "portal_london_date_plus", 2, _london_date_plus_python, deterministic=True
        )


# ---- Figures -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """``numerator`` of ``denominator``, as a percentage to one decimal place (half up); None with nothing counted."""

    numerator: int
    denominator: int

    @property
    def percent(self) -> Decimal | None:
        if not self.denominator:
            return None
        return (Decimal(self.numerator) * 100 / Decimal(self.denominator)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)

    @property
    def text(self) -> str:
        percent = self.percent
        return "None counted" if percent is None else f"{percent}% ({self.numerator} of {self.denominator})"


@dataclass(frozen=True)
class Figures:
    """One provider's figures over one period."""

    provider_id: int
    provider_name: str
    active_placements: int
    placements: int
    attendance: Share
    same_day: Share
    reports_on_time: Share
    progress: Share
    open_concerns: int
    concerns_raised: int
    complaints: int
    upheld: int
    last_meeting: date | None

    @classmethod
    def from_row(cls, row) -> Figures:
        def n(value) -> int:
            return int(value or 0)

        last_meeting = row.last_meeting
        if isinstance(last_meeting, str):  # SQLite's MAX() of a date column comes back as text
            last_meeting = date.fromisoformat(last_meeting)
        return cls(
            provider_id=row.provider_id,
            provider_name=row.provider_name,
            active_placements=n(row.active_placements),
            placements=n(row.placements),
            attendance=Share(n(row.attended), n(row.possible)),
            same_day=Share(n(row.same_day), n(row.marks)),
            reports_on_time=Share(n(row.reports_on_time), n(row.reports_due)),
            progress=Share(n(row.aims_on_or_ahead), n(row.aims_rated)),
            open_concerns=n(row.open_concerns),
            concerns_raised=n(row.concerns_raised),
            complaints=n(row.complaints),
            upheld=n(row.upheld),
            last_meeting=last_meeting,
        )


def _by_provider(*columns, select_from, where=(), join=None) -> sa.Subquery:
    statement = sa.select(Placement.provider_id.label("provider_id"), *columns).select_from(select_from)
    if join is not None:
        statement = statement.join(Placement, join)
    return statement.where(*where).group_by(Placement.provider_id).subquery()


def _statement(first: date, last: date, today: date) -> sa.Select:
    """The figures of every provider over the days ``first`` to ``last`` (not after ``today``): one row a provider.
    The caller adds its conditions and order."""
    ran = sa.and_(Placement.start_date <= last, sa.or_(Placement.ended_on.is_(None), Placement.ended_on >= first))
    placements = (
        sa.select(
            Placement.provider_id.label("provider_id"),
            sa.func.sum(sa.case((Placement.status == PlacementStatus.ACTIVE, 1), else_=0)).label("active"),
            sa.func.sum(sa.case((ran, 1), else_=0)).label("ran"),
        )
        .group_by(Placement.provider_id)
        .subquery()
    )
    marks = _by_provider(
        sa.func.count(AttendanceMark.id).label("marks"),
        sa.func.sum(sa.case((AttendanceMark.recorded_same_day, 1), else_=0)).label("same_day"),
        attendance_codes.attended_sum(AttendanceMark.code).label("attended"),
        attendance_codes.possible_sum(AttendanceMark.code).label("possible"),
        select_from=AttendanceMark,
        join=Placement.id == AttendanceMark.placement_id,
        where=[AttendanceMark.day.between(first, last)],
    )

    # Reports: the review cycles whose report fell due from ``first`` to the day before today (and by ``last``).
    lead = review_schedule.REPORT_LEAD
    first_review = first + lead
    last_review = min(last, today - timedelta(days=1)) + lead
    submitted_by_due = _LondonDatePlus(ProgressReport.submitted_at, lead.days) <= ProgressReport.review_due_on
    cycles = sa.union_all(
        sa.select(
            ProgressReport.placement_id.label("placement_id"),
            ProgressReport.review_due_on.label("due_on"),
            sa.case((submitted_by_due, 1), else_=0).label("on_time"),
        ).where(ProgressReport.review_due_on.between(first_review, last_review)),
        sa.select(Review.placement_id, Review.due_on, sa.literal(0)).where(
            Review.due_on.between(first_review, last_review)
        ),
        sa.select(Placement.id, Placement.next_review_due, sa.literal(0)).where(
            Placement.status == PlacementStatus.ACTIVE, Placement.next_review_due.between(first_review, last_review)
        ),
    ).subquery()
    per_cycle = (
        sa.select(cycles.c.placement_id, cycles.c.due_on, sa.func.max(cycles.c.on_time).label("on_time"))
        .group_by(cycles.c.placement_id, cycles.c.due_on)
        .subquery()
    )
    reports = _by_provider(
        sa.func.count().label("due"),
        sa.func.sum(per_cycle.c.on_time).label("on_time"),
        select_from=per_cycle,
        join=Placement.id == per_cycle.c.placement_id,
    )

    # Progress: the aims of each placement's latest review held in the period.
    ranked = (
        sa.select(
            Review.id.label("review_id"),
            Placement.provider_id.label("provider_id"),
            sa.func.row_number()
            .over(partition_by=Review.placement_id, order_by=(Review.held_on.desc(), Review.id.desc()))
            .label("latest_first"),
        )
        .join(Placement, Placement.id == Review.placement_id)
        .where(Review.held_on.between(first, last))
        .subquery()
    )
    on_or_ahead = sorted(rating for rating in ProgressRating if rating.on_or_ahead)
    progress = (
        sa.select(
            ranked.c.provider_id,
            sa.func.count().label("rated"),
            sa.func.sum(sa.case((ReviewAim.rating.in_(on_or_ahead), 1), else_=0)).label("on_or_ahead"),
        )
        .select_from(ReviewAim)
        .join(ranked, ranked.c.review_id == ReviewAim.review_id)
        .where(ranked.c.latest_first == 1)
        .group_by(ranked.c.provider_id)
        .subquery()
    )

    raised_from, raised_before = clock.london_day_start(first), clock.london_day_start(last + timedelta(days=1))
    concerns = _by_provider(
        sa.func.sum(sa.case((Concern.status == ConcernStatus.OPEN, 1), else_=0)).label("open"),
        sa.func.sum(
            sa.case(((Concern.raised_at >= raised_from) & (Concern.raised_at < raised_before), 1), else_=0)
        ).label("raised"),
        select_from=Concern,
        join=Placement.id == Concern.placement_id,
    )
    complaints = (
        sa.select(
            Complaint.provider_id.label("provider_id"),
            sa.func.count().label("received"),
            sa.func.sum(sa.case((Complaint.upheld.is_(True), 1), else_=0)).label("upheld"),
        )
        .where(Complaint.received_on.between(first, last))
        .group_by(Complaint.provider_id)
        .subquery()
    )
    meetings = (
        sa.select(
            PerformanceMeeting.provider_id.label("provider_id"),
            sa.func.max(PerformanceMeeting.held_on).label("last_held"),
        )
        .where(PerformanceMeeting.held_on <= today)
        .group_by(PerformanceMeeting.provider_id)
        .subquery()
    )

    statement = sa.select(
        Provider.id.label("provider_id"),
        Provider.name.label("provider_name"),
        placements.c.active.label("active_placements"),
        placements.c.ran.label("placements"),
        marks.c.marks,
        marks.c.same_day,
        marks.c.attended,
        marks.c.possible,
        reports.c.due.label("reports_due"),
        reports.c.on_time.label("reports_on_time"),
        progress.c.rated.label("aims_rated"),
        progress.c.on_or_ahead.label("aims_on_or_ahead"),
        concerns.c.open.label("open_concerns"),
        concerns.c.raised.label("concerns_raised"),
        complaints.c.received.label("complaints"),
        complaints.c.upheld,
        meetings.c.last_held.label("last_meeting"),
    ).select_from(Provider)
    for sub in (placements, marks, reports, progress, concerns, complaints, meetings):
        statement = statement.outerjoin(sub, sub.c.provider_id == Provider.id)
    return statement


# ---- The table -----------------------------------------------------------------------------------------------------


class Sort(enum.StrEnum):
    NAME = "name"
    ACTIVE = "active"
    PLACEMENTS = "placements"
    ATTENDANCE = "attendance"
    PROGRESS = "progress"
    SAME_DAY = "same-day"
    REPORTS = "reports"
    CONCERNS = "concerns"
    COMPLAINTS = "complaints"
    MEETING = "meeting"


def _ratio(numerator, denominator):
    return sa.cast(numerator, sa.Float) / sa.func.nullif(denominator, 0)


def _sort_key(sort: Sort, columns) -> sa.ColumnElement:
    c = columns
    return {
        Sort.NAME: sa.func.lower(c.provider_name),
        Sort.ACTIVE: sa.func.coalesce(c.active_placements, 0),
        Sort.PLACEMENTS: sa.func.coalesce(c.placements, 0),
        Sort.ATTENDANCE: _ratio(c.attended, c.possible),
        Sort.PROGRESS: _ratio(c.aims_on_or_ahead, c.aims_rated),
        Sort.SAME_DAY: _ratio(c.same_day, c.marks),
        Sort.REPORTS: _ratio(c.reports_on_time, c.reports_due),
        Sort.CONCERNS: sa.func.coalesce(c.open_concerns, 0),
        Sort.COMPLAINTS: sa.func.coalesce(c.complaints, 0),
        Sort.MEETING: c.last_meeting,
    }[sort]


def window(today: date) -> tuple[date, date]:
    """The table's period: the 365 days up to and including today."""
    return today - WINDOW + timedelta(days=1), today


def _table(today: date, sort: Sort, descending: bool) -> sa.Select:
    first, last = window(today)
    inner = (
        _statement(first, last, today)
        .where(sa.exists().where(Admission.provider_id == Provider.id, eligibility.admission_in_force(today)))
        .subquery()
    )
    key = _sort_key(sort, inner.c)
    # Providers with nothing to show for the column come last, whichever the direction.
    return sa.select(inner).order_by(
        sa.case((key.is_(None), 1), else_=0),
        key.desc() if descending else key.asc(),
        sa.func.lower(inner.c.provider_name),
        inner.c.provider_id,
    )


def table_page(
    *, today: date, sort: Sort = Sort.NAME, descending: bool = False, page: int = 1, per_page: int = PER_PAGE
) -> Page:
    """Admitted providers (admitted to a lot today) with their figures over the last 365 days, sorted: a COUNT and
    one SELECT whatever the number of providers."""
    _prepare()
    result = paginate(_table(today, sort, descending), page=page, per_page=per_page, rows=True)
    return Page(
        items=[Figures.from_row(row) for row in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
    )


CSV_HEADER = [
    "Provider",
    "Active placements",
    "Placements in the last 12 months",
    "Attendance rate (%)",
    "Sessions attended",
    "Possible sessions",
    "Aims on or ahead of target (%)",
    "Aims on or ahead",
    "Aims rated",
    "Attendance recorded the same day (%)",
    "Progress reports on time (%)",
    "Reports on time",
    "Reports due",
    "Open safeguarding concerns",
    "Complaints",
    "Complaints upheld",
    "Last performance meeting",
]


def table_rows(*, today: date, sort: Sort = Sort.NAME, descending: bool = False) -> Iterator[list]:
    """Every row of the table, in its order, for the CSV: read in batches."""
    _prepare()
    for row in db.session.execute(_table(today, sort, descending).execution_options(yield_per=1000)):
        f = Figures.from_row(row)
        yield [
            f.provider_name,
            f.active_placements,
            f.placements,
            f.attendance.percent,
            f.attendance.numerator,
            f.attendance.denominator,
            f.progress.percent,
            f.progress.numerator,
            f.progress.denominator,
            f.same_day.percent,
            f.reports_on_time.percent,
            f.reports_on_time.numerator,
            f.reports_on_time.denominator,
            f.open_concerns,
            f.complaints,
            f.upheld,
            f.last_meeting,
        ]


# ---- One provider over time ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    name: str
    first: date
    last: date


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def periods(today: date, count: int = PERIODS) -> list[Period]:
    """The last ``count`` periods begun by today, oldest first: academic terms (Autumn, Spring, Summer: each two half
    terms) when term dates are set, else calendar quarters. The current one ends today."""
    terms: dict[tuple[str, int], list[date]] = {}
    for half in db.session.scalars(sa.select(HalfTerm).order_by(HalfTerm.starts_on)):
        key = (half.academic_year, (half.position - 1) // 2)
        terms.setdefault(key, []).extend([half.starts_on, half.ends_on])
    found = [
        Period(f"{('Autumn', 'Spring', 'Summer')[term]} term {year}", min(days), min(max(days), today))
        for (year, term), days in terms.items()
        if min(days) <= today
    ]
    if found:
        return sorted(found, key=lambda p: p.first)[-count:]
    quarters: list[Period] = []
    start = _quarter_start(today)
    for _ in range(count):
        end = _quarter_start(start + timedelta(days=95)) - timedelta(days=1)
        quarters.append(Period(f"{start:%B} to {end:%B} {start.year}", start, min(end, today)))
        start = _quarter_start(start - timedelta(days=1))
    return list(reversed(quarters))


@dataclass(frozen=True)
class ProviderPerformance:
    provider: Provider
    periods: list[tuple[Period, Figures]]
    meetings: list[PerformanceMeeting]  # newest first
    complaints: list[Complaint]  # newest first


def get_provider(provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("No provider has that number")
    return provider


def performance(provider: Provider, today: date) -> ProviderPerformance:
    """The provider's figures per period (one SELECT each), its performance meetings and complaints."""
    _prepare()
    rows = []
    for period in periods(today):
        row = db.session.execute(_statement(period.first, period.last, today).where(Provider.id == provider.id)).one()
        rows.append((period, Figures.from_row(row)))
    meetings = db.session.scalars(
        sa.select(PerformanceMeeting)
        .options(joinedload(PerformanceMeeting.recorded_by))
        .where(PerformanceMeeting.provider_id == provider.id)
        .order_by(PerformanceMeeting.held_on.desc(), PerformanceMeeting.id.desc())
    ).all()
    complaints = db.session.scalars(
        sa.select(Complaint)
        .where(Complaint.provider_id == provider.id)
        .order_by(Complaint.received_on.desc(), Complaint.id.desc())
    ).all()
    return ProviderPerformance(provider, rows, list(meetings), list(complaints))


def placements_of(provider: Provider) -> list[Placement]:
    """The provider's placements, newest first, that a complaint may be about (no child's details are read)."""
    return list(
        db.session.scalars(
            sa.select(Placement)
            .options(lazyload("*"))
            .where(Placement.provider_id == provider.id)
            .order_by(Placement.start_date.desc(), Placement.id.desc())
        )
    )


# ---- Recording -----------------------------------------------------------------------------------------------------


def _require_manager(by: User) -> None:
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the commissioning manager can record performance meetings and complaints")


def _text(value: str | None, field: str, missing: str, maximum: int, name: str) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(missing, field=field)
    if len(text) > maximum:
        raise DomainError(f"{name} must be {maximum} characters or fewer", field=field)
    return text


def record_meeting(
    provider_id: int, by: User, *, held_on: date | None, notes: str | None, today: date, ip: str | None = None
) -> PerformanceMeeting:
    """Record a performance meeting held with the provider (on ``held_on``, today or before)."""
    _require_manager(by)
    provider = get_provider(provider_id)
    errors: dict[str, str] = {}
    if held_on is None:
        errors["held_on"] = "Enter the date the meeting was held"
    elif held_on > today:
        errors["held_on"] = "The date the meeting was held must be today or in the past"
    try:
        notes = _text(notes, "notes", "Enter what was discussed and agreed", NOTES_MAX, "Notes")
    except DomainError as error:
        errors["notes"] = error.message
    if errors:
        raise FieldErrors(errors)
    meeting = PerformanceMeeting(provider_id=provider.id, held_on=held_on, notes=notes, recorded_by_id=by.id)
    db.session.add(meeting)
    db.session.flush()
    audit.record(
        Events.PERFORMANCE_MEETING_RECORDED,
        actor=by,
        ip=ip,
        subject=meeting,
        provider_id=provider.id,
        provider=provider.name,
        held_on=held_on.isoformat(),
    )
    return meeting


def record_complaint(
    provider_id: int,
    by: User,
    *,
    received_on: date | None,
    summary: str | None,
    upheld: bool | None,
    placement_id: int | None,
    today: date,
    ip: str | None = None,
) -> Complaint:
    """Record a complaint about the provider: upheld True, False, or None while not yet decided; about one of its
    placements, or none."""
    _require_manager(by)
    provider = get_provider(provider_id)
    errors: dict[str, str] = {}
    if received_on is None:
        errors["received_on"] = "Enter the date the complaint was received"
    elif received_on > today:
        errors["received_on"] = "The date the complaint was received must be today or in the past"
    try:
        summary = _text(summary, "summary", "Enter a summary of the complaint", SUMMARY_MAX, "Summary")
    except DomainError as error:
        errors["summary"] = error.message
    if placement_id is not None:
        owner = db.session.scalar(sa.select(Placement.provider_id).where(Placement.id == placement_id))
        if owner != provider.id:
            errors["placement"] = "Select one of this provider's placements, or none"
    if errors:
        raise FieldErrors(errors)
    complaint = Complaint(
        provider_id=provider.id,
        placement_id=placement_id,
        received_on=received_on,
        summary=summary,
        upheld=upheld,
        recorded_by_id=by.id,
    )
    db.session.add(complaint)
    db.session.flush()
    audit.record(
        Events.COMPLAINT_RECORDED,
        actor=by,
        ip=ip,
        subject=complaint,
        provider_id=provider.id,
        provider=provider.name,
        placement_id=placement_id,
        received_on=received_on.isoformat(),
        upheld={True: "yes", False: "no", None: "not yet decided"}[upheld],
    )
    return complaint


__all__ = [
    "CSV_HEADER",
    "Figures",
    "Period",
    "ProviderPerformance",
    "Share",
    "Sort",
    "get_provider",
    "performance",
    "periods",
    "placements_of",
    "record_complaint",
    "record_meeting",
    "table_page",
    "table_rows",
    "window",
]
