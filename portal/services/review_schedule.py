"""When a placement's reviews and the provider's progress reports fall due.

A review is due at least every half term: by default six weeks after the start or the last review. When the manager
has set the term dates and that day falls in a holiday, the review moves back to the last day of the half term
before it (a review is held while the child attends). A weekend moves it back to the Friday. The provider's report
is due a week before the review.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import HalfTerm

REVIEW_INTERVAL = timedelta(weeks=6)
REPORT_LEAD = timedelta(days=7)
# A review is "due soon" (flagged on the caseload) this close to its date.
DUE_SOON = timedelta(days=14)


def default_next_review(anchor: date) -> date:
    """The default review date after ``anchor`` (the start, or the last review)."""
    due = anchor + REVIEW_INTERVAL
    half_terms = list(
        db.session.scalars(
            sa.select(HalfTerm).where(HalfTerm.ends_on >= anchor, HalfTerm.starts_on <= due).order_by(HalfTerm.ends_on)
        )
    )
    if half_terms and not any(h.starts_on <= due <= h.ends_on for h in half_terms):
        # A holiday: the last day of the half term before it (never earlier than the day after the anchor).
        earlier = [h.ends_on for h in half_terms if h.ends_on < due]
        if earlier:
            due = max(max(earlier), anchor + timedelta(days=1))
    while due.weekday() >= 5:
        due -= timedelta(days=1)
    # Stepping back off a weekend must not land on the anchor itself (a Friday anchor with a holiday next day).
    while due <= anchor or due.weekday() >= 5:
        due += timedelta(days=1)
    return due


def report_due_on(review_due: date) -> date:
    return review_due - REPORT_LEAD


def review_overdue(next_review_due: date, today: date) -> bool:
    return next_review_due < today


def review_due_soon(next_review_due: date, today: date) -> bool:
    return today <= next_review_due <= today + DUE_SOON
