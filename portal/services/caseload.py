"""The lists of placements: the officer's caseload, the manager's view of every placement, and the provider's
placements with today's attendance to record.

Each page is one SELECT (plus pagination's COUNT) whatever it holds: the provider, lot, service and officer are
joined, and the flags are computed in SQL (EXISTS for an open concern, today's alert and the report; the attendance
over the last four weeks from a grouped subquery joined in), so that urgency, sorting, the flag filter and pagination
all happen in the database. The children's names are read afterwards, for the whole page in one query, with one audit
event (``with_children``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import aliased, contains_eager, lazyload, raiseload

from portal import clock
from portal.extensions import db
from portal.models import (
    AttendanceAlert,
    AttendanceMark,
    Child,
    Concern,
    ConcernStatus,
    CouncilService,
    Lot,
    Placement,
    PlacementStatus,
    ProgressReport,
    Provider,
    Role,
    User,
)
from portal.pagination import Page, paginate
from portal.services import attendance, attendance_codes, children, review_schedule

PER_PAGE = 25
# A provider's report is flagged on its list this long before it is due (and while it is overdue).
REPORT_NOTICE = timedelta(days=14)


class Flag:
    """The flags a placement can carry, their filter values, labels, GOV.UK tag colours and urgency weights."""

    CONCERN = "concern"
    ABSENCE = "absence"
    REVIEW_OVERDUE = "review-overdue"
    LOW_ATTENDANCE = "attendance"
    REPORT_OVERDUE = "report-overdue"
    REVIEW_DUE = "review-due"


# value: (label, tag colour class, urgency weight). The weights are powers of two, so a placement with a more urgent
# flag always sorts above one with any number of less urgent ones.
FLAGS: dict[str, tuple[str, str, int]] = {
    Flag.CONCERN: ("Concern open", "govuk-tag--red", 16),
    Flag.ABSENCE: ("Absent today", "govuk-tag--red", 8),
    Flag.REVIEW_OVERDUE: ("Review overdue", "govuk-tag--red", 4),
    Flag.LOW_ATTENDANCE: ("Attendance under 90%", "govuk-tag--orange", 2),
    Flag.REPORT_OVERDUE: ("Report overdue", "govuk-tag--orange", 1),
    Flag.REVIEW_DUE: ("Review due", "govuk-tag--yellow", 0),
}
ANY_FLAG = "any"


class StatusFilter:
    ACTIVE = "active"
    ENDED = "ended"
    ALL = "all"


@dataclass(frozen=True)
class CaseloadFilters:
    """What a list shows. ``None`` means "any"; ``flag`` is a Flag value or ANY_FLAG."""

    status: str = StatusFilter.ACTIVE
    service_id: int | None = None
    lot_id: int | None = None
    provider_id: int | None = None
    officer_id: int | None = None
    flag: str | None = None
    # The officer's caseload: every placement of the officer's service, not only their own.
    whole_service: bool = False


@dataclass
class CaseloadRow:
    placement: Placement
    attended: int
    possible: int
    concern_open: bool
    absence_today: bool
    review_overdue: bool
    review_due_soon: bool
    report_overdue: bool
    # Under 90% over the last four weeks, while the placement is active (computed in SQL, as the filter is).
    low_attendance: bool
    urgency: int
    # Filled in by with_children (an audited read).
    child: Child | None = None

    @property
    def attendance_rate(self) -> float | None:
        return attendance_codes.rate(self.attended, self.possible)

    @property
    def attendance_percent(self) -> int | None:
        rate = self.attendance_rate
        return None if rate is None else int(rate * 100)

    @property
    def flags(self) -> list[str]:
        """The row's flags, most urgent first (Flag values; FLAGS gives each one's label and colour)."""
        found = {
            Flag.CONCERN: self.concern_open,
            Flag.ABSENCE: self.absence_today,
            Flag.REVIEW_OVERDUE: self.review_overdue,
            Flag.LOW_ATTENDANCE: self.low_attendance,
            Flag.REPORT_OVERDUE: self.report_overdue,
            Flag.REVIEW_DUE: self.review_due_soon,
        }
        return [flag for flag in FLAGS if found[flag]]


@dataclass
class ProviderRow:
    placement: Placement
    am_code: str | None
    pm_code: str | None
    am_expected: bool
    pm_expected: bool
    report_due_on: date
    report_needed: bool
    report_overdue: bool
    child: Child | None = None
    week: date = field(default=date.min)

    def session(self, which: str) -> tuple[str | None, bool]:
        return (self.am_code, self.am_expected) if which == "am" else (self.pm_code, self.pm_expected)


# ---- The flags, as SQL ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    attended: sa.ColumnElement
    possible: sa.ColumnElement
    concern_open: sa.ColumnElement
    absence_today: sa.ColumnElement
    review_overdue: sa.ColumnElement
    review_due_soon: sa.ColumnElement
    low_attendance: sa.ColumnElement
    report_overdue: sa.ColumnElement
    urgency: sa.ColumnElement

    def by_flag(self) -> dict[str, sa.ColumnElement]:
        return {
            Flag.CONCERN: self.concern_open,
            Flag.ABSENCE: self.absence_today,
            Flag.REVIEW_OVERDUE: self.review_overdue,
            Flag.LOW_ATTENDANCE: self.low_attendance,
            Flag.REPORT_OVERDUE: self.report_overdue,
            Flag.REVIEW_DUE: self.review_due_soon,
        }


def _flag_columns(today: date, placements: sa.Select | None = None) -> tuple[_Columns, sa.Subquery]:
    """The flag and attendance columns; ``placements`` (a SELECT of ids) limits the 28 days' marks added up to the
    placements listed, so an officer's caseload reads its own placements' marks, not the whole region's."""
    start, end = attendance_codes.window(today)
    marks = (
        sa.select(
            AttendanceMark.placement_id.label("placement_id"),
            attendance_codes.attended_sum(AttendanceMark.code).label("attended"),
            attendance_codes.possible_sum(AttendanceMark.code).label("possible"),
        )
        .where(AttendanceMark.day >= start, AttendanceMark.day <= end)
        .group_by(AttendanceMark.placement_id)
    )
    if placements is not None:
        marks = marks.where(AttendanceMark.placement_id.in_(placements))
    marks = marks.subquery("recent_marks")
    attended = sa.func.coalesce(marks.c.attended, 0)
    possible = sa.func.coalesce(marks.c.possible, 0)
    active = Placement.status == PlacementStatus.ACTIVE
    concern_open = sa.exists().where(Concern.placement_id == Placement.id, Concern.status == ConcernStatus.OPEN)
    absence_today = sa.and_(
        active, sa.exists().where(AttendanceAlert.placement_id == Placement.id, AttendanceAlert.day == today)
    )
    review_overdue = sa.and_(active, Placement.next_review_due < today)
    review_due_soon = sa.and_(
        active, Placement.next_review_due >= today, Placement.next_review_due <= today + review_schedule.DUE_SOON
    )
    # Under 90% in whole numbers, exactly on every database: attended * 10 < possible * 9.
    low = Fraction(str(attendance_codes.LOW_ATTENDANCE)).limit_denominator(1000)
    low_attendance = sa.and_(active, possible > 0, attended * low.denominator < possible * low.numerator)
    # The report is due a week before the review: overdue once today is past that day and none was written for it.
    report_overdue = sa.and_(
        active,
        Placement.next_review_due < today + review_schedule.REPORT_LEAD,
        ~sa.exists().where(
            ProgressReport.placement_id == Placement.id, ProgressReport.review_due_on == Placement.next_review_due
        ),
    )
    expressions = {
        Flag.CONCERN: concern_open,
        Flag.ABSENCE: absence_today,
        Flag.REVIEW_OVERDUE: review_overdue,
        Flag.LOW_ATTENDANCE: low_attendance,
        Flag.REPORT_OVERDUE: report_overdue,
    }
    urgency = sum(
        (sa.case((expression, FLAGS[flag][2]), else_=0) for flag, expression in expressions.items()),
        sa.literal(0),
    )
    columns = _Columns(
        attended=attended,
        possible=possible,
        concern_open=concern_open,
        absence_today=absence_today,
        review_overdue=review_overdue,
        review_due_soon=review_due_soon,
        low_attendance=low_attendance,
        report_overdue=report_overdue,
        urgency=urgency,
    )
    return columns, marks


def _search(conditions: list, filters: CaseloadFilters, today: date, page: int, per_page: int) -> Page:
    result = paginate(_statement(conditions, filters, today), page=page, per_page=per_page, rows=True)
    return replace(result, items=[caseload_row(row) for row in result.items])


def caseload_row(row) -> CaseloadRow:
    """A row of the lists' SELECT as a CaseloadRow."""
    return CaseloadRow(
        placement=row[0],
        attended=int(row[1] or 0),
        possible=int(row[2] or 0),
        concern_open=bool(row[3]),
        absence_today=bool(row[4]),
        review_overdue=bool(row[5]),
        review_due_soon=bool(row[6]),
        report_overdue=bool(row[7]),
        low_attendance=bool(row[8]),
        urgency=int(row[9] or 0),
    )


def _statement(conditions: list, filters: CaseloadFilters, today: date) -> sa.Select:
    officer = aliased(User)
    if filters.status == StatusFilter.ACTIVE:
        conditions.append(Placement.status == PlacementStatus.ACTIVE)
    elif filters.status == StatusFilter.ENDED:
        conditions.append(Placement.status == PlacementStatus.ENDED)
    for value, column in (
        (filters.service_id, Placement.service_id),
        (filters.lot_id, Placement.lot_id),
        (filters.provider_id, Placement.provider_id),
        (filters.officer_id, Placement.officer_id),
    ):
        if value is not None:
            conditions.append(column == value)
    # The conditions so far name only the placement's own columns: the same ones choose whose marks are added up (the
    # subquery's own SELECT of placements, not correlated with the outer one).
    listed = sa.select(Placement.id).where(*conditions).correlate(None) if conditions else None
    columns, marks = _flag_columns(today, listed)
    if filters.flag == ANY_FLAG:
        conditions.append(sa.or_(*columns.by_flag().values()))
    elif filters.flag in FLAGS:
        conditions.append(columns.by_flag()[filters.flag])
    urgency = columns.urgency.label("urgency")
    statement = (
        sa.select(
            Placement,
            columns.attended.label("attended"),
            columns.possible.label("possible"),
            columns.concern_open.label("concern_open"),
            columns.absence_today.label("absence_today"),
            columns.review_overdue.label("review_overdue"),
            columns.review_due_soon.label("review_due_soon"),
            columns.report_overdue.label("report_overdue"),
            columns.low_attendance.label("low_attendance"),
            urgency,
        )
        .join(Provider, Provider.id == Placement.provider_id)
        .join(Lot, Lot.id == Placement.lot_id)
        .join(CouncilService, CouncilService.id == Placement.service_id)
        .join(officer, officer.id == Placement.officer_id)
        .outerjoin(marks, marks.c.placement_id == Placement.id)
        .options(
            contains_eager(Placement.provider.of_type(Provider)),
            contains_eager(Placement.lot.of_type(Lot)),
            contains_eager(Placement.service.of_type(CouncilService)),
            contains_eager(Placement.officer.of_type(officer)),
            raiseload("*"),
        )
        .where(*conditions)
        .order_by(urgency.desc(), Placement.next_review_due, Placement.id)
    )
    return statement


def officer_caseload(
    user: User,
    page: int = 1,
    filters: CaseloadFilters | None = None,
    today: date | None = None,
    *,
    per_page: int = PER_PAGE,
) -> Page:
    """The officer's placements (or, with ``filters.whole_service``, every placement of their service), most urgent
    first, then by the next review. Pages of CaseloadRow."""
    if user.role is not Role.OFFICER:
        raise ValueError("the caseload is an officer's")
    filters = filters or CaseloadFilters()
    today = today or clock.london_today(clock.now())
    return _search(_officer_conditions(user, filters), replace(filters, service_id=None), today, page, per_page)


def _officer_conditions(user: User, filters: CaseloadFilters) -> list:
    conditions: list = [Placement.service_id == user.service_id]
    if not filters.whole_service:
        conditions.append(Placement.officer_id == user.id)
    return conditions


def officer_caseload_statement(user: User, filters: CaseloadFilters, today: date) -> sa.Select:
    """The caseload's SELECT (rows for caseload_row), for a CSV of all of it."""
    if user.role is not Role.OFFICER:
        raise ValueError("the caseload is an officer's")
    return _statement(_officer_conditions(user, filters), replace(filters, service_id=None), today)


def manager_placements_statement(filters: CaseloadFilters, today: date) -> sa.Select:
    """The manager's list's SELECT (rows for caseload_row), for a CSV of all of it."""
    return _statement([], filters, today)


def flags_of(placement_id: int, today: date) -> CaseloadRow:
    """One placement's row, with the same flags the lists show (for the placement page)."""
    return _search([Placement.id == placement_id], CaseloadFilters(status=StatusFilter.ALL), today, 1, 1).items[0]


def manager_placements(
    page: int = 1, filters: CaseloadFilters | None = None, today: date | None = None, *, per_page: int = PER_PAGE
) -> Page:
    """Every placement, most urgent first, filtered by service, lot, provider, officer, flag and status."""
    return _search([], filters or CaseloadFilters(), today or clock.london_today(clock.now()), page, per_page)


def with_children(result: Page, by: User, *, ip: str | None, purpose: str) -> Page:
    """The page's rows with each child's record, read in one query with one audit event for the page."""
    found = children.read_children([row.placement.child_id for row in result.items], by, ip=ip, purpose=purpose)
    for row in result.items:
        row.child = found.get(row.placement.child_id)
    return result


# ---- The provider's placements: today's attendance to record ----------------------------------------------------


def provider_placements(user: User, page: int = 1, today: date | None = None, *, per_page: int = PER_PAGE) -> Page:
    """The provider's active placements, children due today first: today's morning and afternoon marks (or None),
    whether each session is expected, and whether a progress report is due within 14 days or overdue. Pages of
    ProviderRow."""
    today = today or clock.london_today(clock.now())
    result = paginate(provider_placements_statement(user, today), page=page, per_page=per_page, rows=True)
    return _provider_rows(result, today)


def provider_placements_statement(user: User, today: date) -> sa.Select:
    """The provider's list's SELECT (placement, morning code, afternoon code, report written), for a CSV of it."""
    if user.role is not Role.PROVIDER or user.provider_id is None:
        raise ValueError("the placements page is a provider's")
    am = aliased(AttendanceMark)
    pm = aliased(AttendanceMark)
    report_written = sa.exists().where(
        ProgressReport.placement_id == Placement.id, ProgressReport.review_due_on == Placement.next_review_due
    )
    statement = (
        sa.select(Placement, am.code, pm.code, report_written.label("report_written"))
        .join(Lot, Lot.id == Placement.lot_id)
        .join(CouncilService, CouncilService.id == Placement.service_id)
        .outerjoin(am, sa.and_(am.placement_id == Placement.id, am.day == today, am.session == "am"))
        .outerjoin(pm, sa.and_(pm.placement_id == Placement.id, pm.day == today, pm.session == "pm"))
        .options(
            contains_eager(Placement.lot.of_type(Lot)),
            contains_eager(Placement.service.of_type(CouncilService)),
            raiseload("*"),
        )
        .where(Placement.provider_id == user.provider_id, Placement.status == PlacementStatus.ACTIVE)
        .order_by(Placement.start_date, Placement.id)
    )
    return statement


def _provider_rows(result: Page, today: date) -> Page:
    # Term dates (one query) and bank holidays: the same rule the attendance grid and alerts use.
    calendar = attendance.term_calendar(today, today) if result.items else None
    monday = today - timedelta(days=today.weekday())
    rows = []
    for placement, am_code, pm_code, written in result.items:
        expected = attendance.expected(placement, today, calendar)
        due = review_schedule.report_due_on(placement.next_review_due)
        rows.append(
            ProviderRow(
                placement=placement,
                am_code=am_code,
                pm_code=pm_code,
                am_expected="am" in expected,
                pm_expected="pm" in expected,
                report_due_on=due,
                report_needed=not written and due <= today + REPORT_NOTICE,
                report_overdue=not written and due < today,
                week=monday,
            )
        )
    return replace(result, items=rows)


def filter_choices(*, officers: bool = True) -> dict[str, list]:
    """What the manager's filters offer: services, lots, providers with a placement, and officers (four SELECTs;
    three with ``officers=False``, for the oversight dashboard, which has no officer filter)."""
    from portal.services.referrals import every_lot

    with_placements = sa.select(Placement.provider_id).distinct()
    choices = {
        "services": list(db.session.scalars(sa.select(CouncilService).order_by(CouncilService.name))),
        "lots": every_lot(),
        "providers": list(
            db.session.scalars(
                # Only names are shown: not the profile lists (lazy="selectin"), four SELECTs saved.
                sa.select(Provider)
                .options(lazyload("*"))
                .where(Provider.id.in_(with_placements))
                .order_by(Provider.name)
            )
        ),
    }
    if officers:
        choices["officers"] = list(
            db.session.scalars(sa.select(User).where(User.role == Role.OFFICER).order_by(User.name))
        )
    return choices
