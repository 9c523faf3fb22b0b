"""KPI performance: each of an SLA's KPIs, worked out so far from the provider's placements, against its target.

What counts: the provider's placements (``Placement.provider_id``) in the SLA's lots, and only what falls in the
period from the SLA's start to today (or to the SLA's end, if that came first). Each KPI is a share, numerator over
denominator, shown as a percentage to one decimal place (half up); with nothing to count it has no actual value.

- Attendance recorded the same day: the marks of days in the period whose last save was made on the session's own
  day, London time (``AttendanceMark.recorded_same_day``), over all the marks of days in the period.
- Attendance rate: attended over possible sessions (the DfE codes, ``attendance_codes``) of days in the period.
- Progress reports on time: see ``_reports_on_time``.
- Aims on or ahead of target: at each placement's latest review held in the period, its aims rated on or ahead of
  target, summed over the placements, over all the aims those reviews rated.

The figures are read in a fixed number of queries, whatever the number of placements, marks or reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import (
    AttendanceMark,
    KpiKind,
    Placement,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Review,
    ReviewAim,
    Sla,
)
from portal.services import attendance_codes, review_schedule, slas

ONE_PLACE = Decimal("0.1")

# What each KPI counts, in words (the numerator and the denominator of its explanation).
_COUNTED: dict[KpiKind, tuple[str, str]] = {
    KpiKind.ATTENDANCE_SAME_DAY: ("sessions recorded the same day", "No sessions recorded yet"),
    KpiKind.ATTENDANCE_RATE: ("possible sessions attended", "No possible sessions recorded yet"),
    KpiKind.REPORTS_ON_TIME: ("progress reports submitted on time", "No progress reports due yet"),
    KpiKind.PROGRESS: ("aims on or ahead of target at the latest review", "No reviews yet"),
}

# How each is worked out: the line shown under the table.
HOW: dict[KpiKind, str] = {
    KpiKind.ATTENDANCE_SAME_DAY: (
        "The sessions whose attendance mark was last saved on the session's own day, out of every session recorded."
    ),
    KpiKind.ATTENDANCE_RATE: (
        "The sessions attended (present, or at an approved educational activity) out of the possible sessions: "
        "sessions the child was not required to attend, such as code X, do not count."
    ),
    KpiKind.REPORTS_ON_TIME: (
        "Every progress report that has fallen due (a week before its review): it is on time when it was submitted "
        "on or before its due date. A report never submitted counts as late."
    ),
    KpiKind.PROGRESS: (
        "At each placement's latest review, the aims the officer rated on target or ahead of target, out of all the "
        "aims rated."
    ),
}


@dataclass(frozen=True)
class KpiResult:
    """One KPI so far: how many of how many (``numerator`` of ``denominator``) against its ``target`` (per cent)."""

    kind: KpiKind
    target: Decimal
    numerator: int
    denominator: int
    # Why there is nothing to count, when there is not: "No placements yet", "The SLA has not started yet".
    empty_reason: str = ""

    @property
    def actual(self) -> Decimal | None:
        """The percentage so far, to one decimal place (half up), or None with nothing to count."""
        if not self.denominator:
            return None
        return (Decimal(self.numerator) * 100 / Decimal(self.denominator)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)

    @property
    def met(self) -> bool | None:
        actual = self.actual
        return None if actual is None else actual >= self.target

    @property
    def explanation(self) -> str:
        """ "412 of 430 sessions recorded the same day", or why there is nothing to count yet."""
        counted, nothing = _COUNTED[self.kind]
        if not self.denominator:
            return self.empty_reason or nothing
        return f"{self.numerator} of {self.denominator} {counted}"

    @property
    def how(self) -> str:
        return HOW[self.kind]


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    today: date

    @property
    def started(self) -> bool:
        return self.first <= self.last


def period(sla: Sla, today: date) -> Period:
    """From the SLA's start to today, or to its end if that came first."""
    return Period(sla.starts_on, min(today, slas.ends_on(sla)), today)


def _placements(sla: Sla) -> list[sa.ColumnElement]:
    """The conditions that pick the SLA's placements: the provider's, in the SLA's lots."""
    return [Placement.provider_id == sla.provider_id, Placement.lot_id.in_(sorted(sla.lot_ids))]


def _marks(sla: Sla, within: Period) -> sa.Row:
    """One query: all marks, those recorded the same day, attended and possible sessions, of days in the period."""
    return db.session.execute(
        sa.select(
            sa.func.count(AttendanceMark.id).label("marks"),
            sa.func.sum(sa.case((AttendanceMark.recorded_same_day, 1), else_=0)).label("same_day"),
            attendance_codes.attended_sum(AttendanceMark.code).label("attended"),
            attendance_codes.possible_sum(AttendanceMark.code).label("possible"),
        )
        .join(Placement, Placement.id == AttendanceMark.placement_id)
        .where(*_placements(sla), AttendanceMark.day.between(within.first, within.last))
    ).one()


def _reports_on_time(sla: Sla, within: Period) -> tuple[int, int]:
    """(on time, due): progress reports.

    A review cycle is identified by its placement and the review's due date; its report is due a week before
    (``review_schedule.report_due_on``). A cycle counts once its report due date has passed (it is before today) and
    falls in the period. The cycles counted are the union of:

    - every progress report submitted for such a cycle (``ProgressReport.review_due_on``);
    - every review held for such a cycle with no report (``Review.due_on``): a report never submitted;
    - each active placement's current cycle (``Placement.next_review_due``) whose report is overdue with none
      submitted yet.

    A cycle is on time when its report was submitted (the London date of ``submitted_at``) on or before its report
    due date; a cycle with no report is late. Three queries, whatever the number of placements.
    """
    # Report due dates from the period's first day to the day before today (and not after the period's end).
    first_due = within.first
    last_due = min(within.last, within.today - timedelta(days=1))
    if last_due < first_due:
        return 0, 0
    # The review dates whose report falls due in that window.
    lead = review_schedule.REPORT_LEAD
    first_review, last_review = first_due + lead, last_due + lead
    cycles: dict[tuple[int, date], bool] = {}
    for row in db.session.execute(
        sa.select(ProgressReport.placement_id, ProgressReport.review_due_on, ProgressReport.submitted_at)
        .join(Placement, Placement.id == ProgressReport.placement_id)
        .where(*_placements(sla), ProgressReport.review_due_on.between(first_review, last_review))
    ):
        due = review_schedule.report_due_on(row.review_due_on)
        cycles[(row.placement_id, row.review_due_on)] = clock.london_today(row.submitted_at) <= due
    for row in db.session.execute(
        sa.select(Review.placement_id, Review.due_on)
        .join(Placement, Placement.id == Review.placement_id)
        .where(*_placements(sla), Review.due_on.between(first_review, last_review))
    ):
        cycles.setdefault((row.placement_id, row.due_on), False)
    for row in db.session.execute(
        sa.select(Placement.id, Placement.next_review_due).where(
            *_placements(sla),
            Placement.status == PlacementStatus.ACTIVE,
            Placement.next_review_due.between(first_review, last_review),
        )
    ):
        cycles.setdefault((row.id, row.next_review_due), False)
    return sum(cycles.values()), len(cycles)


def _progress(sla: Sla, within: Period) -> tuple[int, int]:
    """(on or ahead, rated): the aims of each placement's latest review held in the period. One query."""
    ranked = (
        sa.select(
            Review.id.label("review_id"),
            sa.func.row_number()
            .over(partition_by=Review.placement_id, order_by=(Review.held_on.desc(), Review.id.desc()))
            .label("latest_first"),
        )
        .join(Placement, Placement.id == Review.placement_id)
        .where(*_placements(sla), Review.held_on.between(within.first, within.last))
        .subquery()
    )
    on_or_ahead = sorted(rating for rating in ProgressRating if rating.on_or_ahead)
    row = db.session.execute(
        sa.select(
            sa.func.count().label("rated"),
            sa.func.sum(sa.case((ReviewAim.rating.in_(on_or_ahead), 1), else_=0)).label("on_or_ahead"),
        )
        .select_from(ReviewAim)
        .join(ranked, ranked.c.review_id == ReviewAim.review_id)
        .where(ranked.c.latest_first == 1)
    ).one()
    return row.on_or_ahead or 0, row.rated or 0


def performance(sla: Sla, today: date) -> list[KpiResult]:
    """Each of the SLA's KPIs so far (in the SLA's order), from its start to ``today`` or its end if earlier.

    At most six queries (whether there are placements; the marks; three for the reports; one for the reviews), and
    only those its KPIs need: never one per placement."""
    within = period(sla, today)
    kinds = {kpi.kind for kpi in sla.kpis}
    empty_reason = ""
    if not sla.lot_ids or not db.session.scalar(sa.select(sa.exists().where(*_placements(sla)))):
        empty_reason = "No placements yet"
    elif not within.started:
        empty_reason = f"The SLA starts on {sla.starts_on.day} {sla.starts_on:%B %Y}"
    figures: dict[KpiKind, tuple[int, int]] = {}
    if not empty_reason:
        if kinds & {KpiKind.ATTENDANCE_SAME_DAY, KpiKind.ATTENDANCE_RATE}:
            marks = _marks(sla, within)
            figures[KpiKind.ATTENDANCE_SAME_DAY] = (marks.same_day or 0, marks.marks or 0)
            figures[KpiKind.ATTENDANCE_RATE] = (marks.attended or 0, marks.possible or 0)
        if KpiKind.REPORTS_ON_TIME in kinds:
            figures[KpiKind.REPORTS_ON_TIME] = _reports_on_time(sla, within)
        if KpiKind.PROGRESS in kinds:
            figures[KpiKind.PROGRESS] = _progress(sla, within)
    return [
        KpiResult(kpi.kind, kpi.target, *figures.get(kpi.kind, (0, 0)), empty_reason=empty_reason) for kpi in sla.kpis
    ]


__all__ = ["HOW", "KpiResult", "Period", "performance", "period"]
