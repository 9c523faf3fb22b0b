"""Progress reports (the provider) and reviews (the officer) against the placement's aims, and the schedule flags.

A placement's current review is ``placement.next_review_due``. The provider writes one report for it (a week before:
review_schedule.report_due_on); the officer records the review, which moves ``next_review_due`` on to the next one (at
most a half term away). Emails and notifications name the placement by its reference, never the child.

The functions take plain arguments, the acting user and ``now``; they raise DomainError (or a subclass) and never
commit: the route does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.clock import london_today
from portal.extensions import db
from portal.formatting import long_date
from portal.models import (
    Placement,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Readiness,
    ReportAim,
    Review,
    ReviewAim,
    User,
)
from portal.pagination import Page, paginate
from portal.services import audit, placements, review_schedule
from portal.services.audit import Events
from portal.services.errors import FieldErrors, IllegalTransition, NotFound
from portal.services.mail import notify, provider_users
from portal.services.placements import reference

TEXT_MAX = 5000
# "Reviews are at least every half term": the next review may be set at most this far after the one held.
LONGEST_GAP = timedelta(weeks=7)
PER_PAGE = 10


def field_name(kind: str, aim_id: int) -> str:
    """The form field of an aim's rating ("rating"), evidence ("evidence") or note ("note"): "rating_12"."""
    return f"{kind}_{aim_id}"


def report_path(placement_id: int, report_id: int) -> str:
    return f"/placements/{placement_id}/reports/{report_id}"


def reviews_path(placement_id: int) -> str:
    return f"/placements/{placement_id}/reviews"


# --- The schedule ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewStatus:
    next_review_due: date
    report_due_on: date
    report_submitted: bool
    report_overdue: bool
    review_overdue: bool
    review_due_soon: bool


def report_overdue(placement: Placement, has_report: bool, today: date) -> bool:
    """The report for the current review is late: past its due date (a week before the review) and not in."""
    return (
        placement.status is PlacementStatus.ACTIVE
        and not has_report
        and today > review_schedule.report_due_on(placement.next_review_due)
    )


def _status(placement: Placement, has_report: bool, today: date) -> ReviewStatus:
    active = placement.status is PlacementStatus.ACTIVE
    due = placement.next_review_due
    return ReviewStatus(
        next_review_due=due,
        report_due_on=review_schedule.report_due_on(due),
        report_submitted=has_report,
        report_overdue=report_overdue(placement, has_report, today),
        review_overdue=active and review_schedule.review_overdue(due, today),
        review_due_soon=active and review_schedule.review_due_soon(due, today),
    )


def status(placement: Placement, today: date) -> ReviewStatus:
    """Where the placement's reviews stand today (one query: is the current review's report in?)."""
    has_report = db.session.scalar(
        sa.select(
            sa.exists().where(
                ProgressReport.placement_id == placement.id,
                ProgressReport.review_due_on == placement.next_review_due,
            )
        )
    )
    return _status(placement, bool(has_report), today)


def statuses(found: Iterable[Placement], today: date) -> dict[int, ReviewStatus]:
    """The status of many placements (a caseload) in one query, whatever their number."""
    found = list(found)
    if not found:
        return {}
    submitted = set(
        db.session.execute(
            sa.select(ProgressReport.placement_id, ProgressReport.review_due_on).where(
                sa.tuple_(ProgressReport.placement_id, ProgressReport.review_due_on).in_(
                    [(p.id, p.next_review_due) for p in found]
                )
            )
        ).all()
    )
    return {p.id: _status(p, (p.id, p.next_review_due) in submitted, today) for p in found}


# --- Reading --------------------------------------------------------------------------------------------------------


def report_for(placement_id: int, review_due_on: date) -> ProgressReport | None:
    return db.session.scalar(
        sa.select(ProgressReport).where(
            ProgressReport.placement_id == placement_id, ProgressReport.review_due_on == review_due_on
        )
    )


def get_report(placement: Placement, report_id: int) -> ProgressReport:
    """A report of this placement (the caller has checked the user may see the placement)."""
    found = db.session.scalar(
        sa.select(ProgressReport)
        .options(joinedload(ProgressReport.submitted_by))
        .where(ProgressReport.id == report_id, ProgressReport.placement_id == placement.id)
    )
    if found is None:
        raise NotFound("There is no such report")
    return found


def reports_page(placement: Placement, page: int = 1) -> Page:
    """The placement's reports, newest first, with who submitted each (no lazy loads)."""
    statement = (
        sa.select(ProgressReport)
        .options(joinedload(ProgressReport.submitted_by).lazyload("*"))
        .where(ProgressReport.placement_id == placement.id)
        .order_by(ProgressReport.review_due_on.desc(), ProgressReport.id.desc())
    )
    return paginate(statement, page=page, per_page=PER_PAGE)


def reviews_page(placement: Placement, page: int = 1) -> Page:
    statement = (
        sa.select(Review)
        .options(joinedload(Review.recorded_by).lazyload("*"))
        .where(Review.placement_id == placement.id)
        .order_by(Review.held_on.desc(), Review.id.desc())
    )
    return paginate(statement, page=page, per_page=PER_PAGE)


# --- The provider's progress report ---------------------------------------------------------------------------------


def _text(value: str | None) -> str:
    return (value or "").strip()


def _rating(value) -> ProgressRating | None:
    if isinstance(value, ProgressRating):
        return value
    try:
        return ProgressRating(value)
    except ValueError:
        return None


def _already_reported(placement: Placement, report: ProgressReport) -> IllegalTransition:
    return IllegalTransition(
        f"A progress report for the review due on {long_date(report.review_due_on)} was already submitted on "
        f"{long_date(london_today(report.submitted_at))}. There is one report for each review: read it, or write the "
        "next one after the review is recorded."
    )


def submit_report(
    placement_id: int,
    by: User,
    ratings: Mapping[int, tuple[ProgressRating | str | None, str | None]],
    child_view: str | None,
    *,
    now: datetime,
    ip: str | None = None,
) -> ProgressReport:
    """The provider's report for the placement's current review: a rating and evidence for each aim, and the child's
    own view. One per review (a second is IllegalTransition). Tells the placement's officer."""
    placement = placements.get_placement(placement_id, by)
    placements.ensure_may_record(placement, by)
    placements.ensure_active(placement)
    due = placement.next_review_due
    existing = report_for(placement.id, due)
    if existing is not None:
        raise _already_reported(placement, existing)

    errors: dict[str, str] = {}
    aims: list[ReportAim] = []
    for aim in placement.referral.aims:
        rating_value, evidence_value = ratings.get(aim.id, (None, None))
        rating, evidence = _rating(rating_value), _text(evidence_value)
        if rating is None:
            errors[field_name("rating", aim.id)] = f"Choose the progress made towards aim {aim.position}"
        if not evidence:
            errors[field_name("evidence", aim.id)] = f"Enter the evidence of progress towards aim {aim.position}"
        elif len(evidence) > TEXT_MAX:
            errors[field_name("evidence", aim.id)] = f"The evidence must be {TEXT_MAX} characters or fewer"
        if rating is not None and evidence:
            aims.append(ReportAim(aim_id=aim.id, rating=rating, evidence=evidence))
    view = _text(child_view)
    if not view:
        errors["child_view"] = "Enter the child's own view of their progress"
    elif len(view) > TEXT_MAX:
        errors["child_view"] = f"The child's view must be {TEXT_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)

    report = ProgressReport(
        placement_id=placement.id, review_due_on=due, submitted_at=now, submitted_by_id=by.id, child_view=view
    )
    report.aims = aims
    try:
        with db.session.begin_nested():
            db.session.add(report)
            db.session.flush()
    except IntegrityError:
        # Someone else at the provider submitted one a moment ago.
        raise _already_reported(placement, report_for(placement.id, due) or report) from None
    audit.record(
        Events.PROGRESS_REPORT_SUBMITTED,
        actor=by,
        ip=ip,
        subject=report,
        placement_id=placement.id,
        review_due_on=due.isoformat(),
    )
    ref = reference(placement)
    officer = placement.officer
    if officer is not None and officer.active:
        notify(
            officer,
            f"Progress report submitted for placement {ref}",
            f"{placement.provider.name} has submitted its progress report for placement {ref}, for the review due "
            f"on {long_date(due)}.\n\nRead it in the portal: {report_path(placement.id, report.id)}",
        )
    return report


# --- The officer's review -------------------------------------------------------------------------------------------


def record_review(
    placement_id: int,
    by: User,
    *,
    held_on: date | None,
    ratings: Mapping[int, tuple[ProgressRating | str | None, str | None]],
    next_steps: str | None,
    readiness: Readiness | str | None,
    next_review_on: date | None,
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> Review:
    """The review of the placement's current review date: progress per aim (rating and note), next steps, readiness to
    return and the next review date, which becomes the placement's ``next_review_due`` (its version moves on).
    Tells the provider's users."""
    placement = placements.get_placement(placement_id, by)
    placements.ensure_may_manage(placement, by)
    placements.ensure_active(placement)
    placements.check_version(placement, version)
    today = london_today(now)

    errors: dict[str, str] = {}
    if held_on is None:
        errors["held_on"] = "Enter the date the review was held"
    elif held_on > today:
        errors["held_on"] = "The date the review was held must be today or in the past"
    elif held_on < placement.start_date:
        errors["held_on"] = (
            f"The date the review was held must be on or after the placement started ({long_date(placement.start_date)})"
        )
    aims: list[ReviewAim] = []
    for aim in placement.referral.aims:
        rating_value, note_value = ratings.get(aim.id, (None, None))
        rating, note = _rating(rating_value), _text(note_value)
        if rating is None:
            errors[field_name("rating", aim.id)] = f"Choose the progress made towards aim {aim.position}"
        if len(note) > TEXT_MAX:
            errors[field_name("note", aim.id)] = f"The note must be {TEXT_MAX} characters or fewer"
        if rating is not None:
            aims.append(ReviewAim(aim_id=aim.id, rating=rating, note=note))
    steps = _text(next_steps)
    if not steps:
        errors["next_steps"] = "Enter the next steps"
    elif len(steps) > TEXT_MAX:
        errors["next_steps"] = f"The next steps must be {TEXT_MAX} characters or fewer"
    try:
        ready = Readiness(readiness) if readiness else None
    except ValueError:
        ready = None
    if ready is None:
        errors["readiness"] = "Choose how ready the child is to return to school"
    if next_review_on is None:
        errors["next_review_on"] = "Enter the date of the next review"
    elif held_on is not None and next_review_on <= held_on:
        errors["next_review_on"] = "The next review must be after the date this review was held"
    elif held_on is not None and next_review_on > held_on + LONGEST_GAP:
        errors["next_review_on"] = (
            "Reviews are at least every half term: the next review must be within 7 weeks of this one "
            f"(by {long_date(held_on + LONGEST_GAP)})"
        )
    if errors:
        raise FieldErrors(errors)

    due = placement.next_review_due
    report = report_for(placement.id, due)
    review = Review(
        placement_id=placement.id,
        held_on=held_on,
        due_on=due,
        report_id=report.id if report is not None else None,
        recorded_by_id=by.id,
        recorded_at=now,
        next_steps=steps,
        readiness=ready,
        next_review_on=next_review_on,
    )
    review.aims = aims
    db.session.add(review)
    placement.next_review_due = next_review_on
    db.session.flush()
    audit.record(
        Events.REVIEW_RECORDED,
        actor=by,
        ip=ip,
        subject=review,
        placement_id=placement.id,
        due_on=due.isoformat(),
        held_on=held_on.isoformat(),
        next_review_on=next_review_on.isoformat(),
        readiness=ready.value,
    )
    ref = reference(placement)
    for user in provider_users([placement.provider_id]):
        notify(
            user,
            f"Review recorded for placement {ref}",
            f"The review of placement {ref} held on {long_date(held_on)} has been recorded. The next review is on "
            f"{long_date(next_review_on)}, so the next progress report is due on "
            f"{long_date(review_schedule.report_due_on(next_review_on))}.\n\n"
            f"See the reviews in the portal: {reviews_path(placement.id)}",
        )
    return review


__all__ = [
    "ReviewStatus",
    "field_name",
    "get_report",
    "record_review",
    "report_for",
    "report_overdue",
    "reports_page",
    "reviews_page",
    "status",
    "statuses",
    "submit_report",
]
