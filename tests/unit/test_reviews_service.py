"""Progress reports and reviews (portal.services.reviews), the schedule flags, and the review date's holiday rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Destination,
    HalfTerm,
    Notification,
    OutboxMessage,
    Placement,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Readiness,
    Review,
)
from portal.services import review_schedule, reviews
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, IllegalTransition, NotAllowed, NotFound
from tests.factories import make_user
from tests.factories_calloff import CHILD_IDENTIFIERS
from tests.factories_placements import awarded_referral, make_placement, placed

NOW = datetime(2027, 2, 10, 10, tzinfo=UTC)  # before the first review (22 February 2027) and its report (15th)


def _ratings(placement, rating=ProgressRating.ON_TARGET, text="Attended 8 of 10 sessions"):
    return {aim.id: (rating, text) for aim in placement.referral.aims}


def _submit(awarded, placement, **overrides):
    values = {"ratings": _ratings(placement), "child_view": "I like the farm days", "now": NOW}
    values.update(overrides)
    report = reviews.submit_report(
        placement.id, awarded.provider_user, values["ratings"], values["child_view"], now=values["now"]
    )
    db.session.commit()
    return report


def _review(awarded, placement, **overrides):
    values = {
        "held_on": date(2027, 2, 19),
        "ratings": _ratings(placement, ProgressRating.AHEAD, "Good term"),
        "next_steps": "Two afternoons a week at the home school",
        "readiness": Readiness.SOON,
        "next_review_on": date(2027, 3, 31),
        "version": placement.version,
        "now": datetime(2027, 2, 20, 9, tzinfo=UTC),
    }
    values.update(overrides)
    return reviews.record_review(placement.id, awarded.officer, **values)


def _another(awarded, **fields):
    """A second placement with the same officer, lot, provider and child."""
    other = awarded_referral(
        officer=awarded.officer,
        lot=awarded.lot,
        provider=awarded.provider,
        provider_user=awarded.provider_user,
        child=awarded.referral.child,
    )
    return make_placement(other, **fields)


def _texts(model, *columns):
    return [" ".join(str(getattr(row, c)) for c in columns) for row in db.session.scalars(sa.select(model))]


# --- Progress reports -----------------------------------------------------------------------------------------------


def test_a_report_is_saved_for_the_current_review_and_the_officer_is_told(app_context):
    awarded, placement = placed()
    report = _submit(awarded, placement)
    assert report.review_due_on == date(2027, 2, 22)
    assert {row.aim_id for row in report.aims} == {aim.id for aim in placement.referral.aims}
    assert all(row.rating is ProgressRating.ON_TARGET for row in report.aims)
    assert report.child_view == "I like the farm days"
    notes = db.session.scalars(sa.select(Notification)).all()
    assert [n.user_id for n in notes] == [awarded.officer.id]
    assert f"P{placement.id:05d}" in notes[0].subject
    mails = db.session.scalars(sa.select(OutboxMessage)).all()
    assert [m.to_address for m in mails] == [awarded.officer.email]
    for text in _texts(OutboxMessage, "subject", "body") + _texts(Notification, "subject", "body"):
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in text
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.PROGRESS_REPORT_SUBMITTED))
    assert event is not None and event.details["placement_id"] == placement.id


def test_one_report_per_review(app_context):
    awarded, placement = placed()
    _submit(awarded, placement)
    with pytest.raises(IllegalTransition, match="already submitted"):
        _submit(awarded, placement)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 1


def test_a_report_needs_a_rating_and_evidence_for_each_aim_and_the_childs_view(app_context):
    awarded, placement = placed()
    first, second = placement.referral.aims
    ratings = {first.id: (None, "Some evidence"), second.id: ("ahead of target", "  ")}
    with pytest.raises(FieldErrors) as refused:
        reviews.submit_report(placement.id, awarded.provider_user, ratings, " ", now=NOW)
    assert set(refused.value.errors) == {f"rating_{first.id}", f"evidence_{second.id}", "child_view"}
    with pytest.raises(FieldErrors) as too_long:
        reviews.submit_report(placement.id, awarded.provider_user, _ratings(placement), "x" * 5001, now=NOW)
    assert set(too_long.value.errors) == {"child_view"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 0


def test_only_the_placements_provider_reports_and_only_while_it_is_active(app_context):
    awarded, placement = placed()
    stranger = make_user("provider")
    with pytest.raises(NotFound):
        reviews.submit_report(placement.id, stranger, _ratings(placement), "View", now=NOW)
    with pytest.raises(NotAllowed):
        reviews.submit_report(placement.id, awarded.officer, _ratings(placement), "View", now=NOW)
    ended = _another(
        awarded,
        status=PlacementStatus.ENDED,
        ended_on=date(2027, 2, 1),
        destination=Destination.HOME_SCHOOL,
        end_reason="Returned",
    )
    with pytest.raises(IllegalTransition, match="ended"):
        reviews.submit_report(ended.id, awarded.provider_user, _ratings(ended), "View", now=NOW)


# --- Reviews ---------------------------------------------------------------------------------------------------------


def test_a_review_moves_the_next_review_on_bumps_the_version_and_tells_the_provider(app_context):
    awarded, placement = placed()
    report = _submit(awarded, placement)
    version = placement.version
    review = _review(awarded, placement)
    db.session.commit()
    assert review.due_on == date(2027, 2, 22)
    assert review.report_id == report.id
    assert {row.aim_id for row in review.aims} == {aim.id for aim in placement.referral.aims}
    fresh = db.session.get(Placement, placement.id)
    assert fresh.next_review_due == date(2027, 3, 31)
    assert fresh.version == version + 1
    told = db.session.scalars(sa.select(Notification).where(Notification.subject.contains("Review recorded"))).all()
    assert [n.user_id for n in told] == [awarded.provider_user.id]
    assert "24 March 2027" in told[0].body  # the next report: a week before the next review
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.REVIEW_RECORDED)) is not None


def test_a_review_without_a_report_is_recorded_with_none(app_context):
    awarded, placement = placed()
    review = _review(awarded, placement)
    assert review.report_id is None


def test_a_stale_review_is_refused_and_nothing_is_saved(app_context):
    awarded, placement = placed()
    with pytest.raises(Conflict):
        _review(awarded, placement, version=placement.version - 1)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 0
    assert db.session.get(Placement, placement.id).next_review_due == date(2027, 2, 22)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"held_on": None}, "held_on", "Enter the date the review was held"),
        ({"held_on": date(2027, 2, 21)}, "held_on", "today or in the past"),
        ({"held_on": date(2027, 1, 8)}, "held_on", "on or after the placement started"),
        ({"next_steps": " "}, "next_steps", "Enter the next steps"),
        ({"readiness": None}, "readiness", "Choose how ready"),
        ({"readiness": "whenever"}, "readiness", "Choose how ready"),
        ({"next_review_on": None}, "next_review_on", "Enter the date of the next review"),
        ({"next_review_on": date(2027, 2, 19)}, "next_review_on", "after the date this review was held"),
        ({"next_review_on": date(2027, 4, 10)}, "next_review_on", "Reviews are at least every half term"),
    ],
)
def test_a_review_is_checked_field_by_field(app_context, changes, field, message):
    awarded, placement = placed()
    with pytest.raises(FieldErrors) as refused:
        _review(awarded, placement, **changes)
    assert message in refused.value.errors[field]


def test_a_review_needs_a_rating_for_each_aim(app_context):
    awarded, placement = placed()
    first = placement.referral.aims[0]
    with pytest.raises(FieldErrors) as refused:
        _review(awarded, placement, ratings={first.id: (ProgressRating.BEHIND, "")})
    assert list(refused.value.errors) == [f"rating_{placement.referral.aims[1].id}"]


def test_seven_weeks_after_the_review_is_the_latest_next_review(app_context):
    awarded, placement = placed()
    review = _review(awarded, placement, next_review_on=date(2027, 4, 9))
    assert review.next_review_on == date(2027, 4, 9)


def test_only_officers_of_the_service_review(app_context):
    awarded, placement = placed()
    other_service = make_user("officer")
    with pytest.raises(NotFound):
        reviews.record_review(
            placement.id,
            other_service,
            held_on=date(2027, 2, 19),
            ratings={},
            next_steps="x",
            readiness=Readiness.SOON,
            next_review_on=date(2027, 3, 31),
            version=placement.version,
            now=NOW,
        )
    with pytest.raises(NotAllowed):
        reviews.record_review(
            placement.id,
            awarded.provider_user,
            held_on=date(2027, 2, 19),
            ratings={},
            next_steps="x",
            readiness=Readiness.SOON,
            next_review_on=date(2027, 3, 31),
            version=placement.version,
            now=NOW,
        )


# --- The schedule and its flags -------------------------------------------------------------------------------------


def test_the_flags_follow_the_dates(app_context):
    awarded, placement = placed()  # review due Monday 22 February 2027, report due Monday 15 February
    on_time = reviews.status(placement, date(2027, 2, 15))
    assert on_time.report_due_on == date(2027, 2, 15)
    assert not on_time.report_overdue and not on_time.review_overdue and on_time.review_due_soon
    late = reviews.status(placement, date(2027, 2, 16))
    assert late.report_overdue and not late.review_overdue
    assert reviews.status(placement, date(2027, 2, 23)).review_overdue
    assert not reviews.status(placement, date(2027, 2, 7)).review_due_soon
    _submit(awarded, placement)
    submitted = reviews.status(placement, date(2027, 2, 16))
    assert submitted.report_submitted and not submitted.report_overdue
    assert reviews.report_overdue(placement, False, date(2027, 2, 16))
    assert not reviews.report_overdue(placement, True, date(2027, 2, 16))


def test_an_ended_placement_is_never_overdue(app_context):
    awarded, _ = placed()
    ended = _another(
        awarded,
        status=PlacementStatus.ENDED,
        ended_on=date(2027, 2, 1),
        destination=Destination.HOME_SCHOOL,
        end_reason="Returned",
    )
    flags = reviews.status(ended, date(2027, 6, 1))
    assert not (flags.report_overdue or flags.review_overdue or flags.review_due_soon)


def test_status_takes_one_query_and_statuses_one_for_many(app_context):
    from tests.helpers import count_queries

    awarded, placement = placed()
    _submit(awarded, placement)
    others = [_another(awarded) for _ in range(3)]
    db.session.expire_all()
    loaded = [db.session.get(Placement, p.id) for p in [placement, *others]]
    with count_queries(db.engine) as counted:
        reviews.status(loaded[0], date(2027, 2, 16))
    assert counted.count == 1
    with count_queries(db.engine) as counted:
        found = reviews.statuses(loaded, date(2027, 2, 16))
    assert counted.count == 1
    assert found[placement.id].report_submitted and not found[placement.id].report_overdue
    assert all(found[p.id].report_overdue for p in others)


# --- The review date: holidays and weekends -------------------------------------------------------------------------


def _spring(ends_first: date = date(2027, 2, 12)):
    db.session.add_all(
        [
            HalfTerm(academic_year="2026/27", position=3, starts_on=date(2027, 1, 4), ends_on=ends_first),
            HalfTerm(academic_year="2026/27", position=4, starts_on=date(2027, 2, 22), ends_on=date(2027, 4, 1)),
        ]
    )
    db.session.commit()


def test_a_review_falling_in_a_holiday_moves_back_to_the_half_terms_last_day(app_context):
    _spring()
    # Six weeks after Monday 4 January is Monday 15 February: half-term week.
    assert review_schedule.default_next_review(date(2027, 1, 4)) == date(2027, 2, 12)
    # In term it stays where it is.
    assert review_schedule.default_next_review(date(2027, 1, 11)) == date(2027, 2, 22)


def test_a_half_term_ending_at_a_weekend_moves_the_review_on_to_the_friday(app_context):
    _spring(ends_first=date(2027, 2, 14))  # a Sunday
    assert review_schedule.default_next_review(date(2027, 1, 5)) == date(2027, 2, 12)


def test_a_review_at_a_weekend_moves_back_to_the_friday(app_context):
    # No term dates: six weeks after Saturday 9 January is Saturday 20 February.
    assert review_schedule.default_next_review(date(2027, 1, 9)) == date(2027, 2, 19)
    assert review_schedule.default_next_review(date(2027, 1, 10)) == date(2027, 2, 19)


def test_a_review_never_falls_on_or_before_its_anchor(app_context):
    # A review on the summer term's last day (a Friday): six weeks on is the holiday, the half term before it ends on
    # the anchor itself, and stepping back off the Saturday used to land on the anchor.
    db.session.add(HalfTerm(academic_year="2026/27", position=6, starts_on=date(2027, 6, 7), ends_on=date(2027, 7, 16)))
    db.session.commit()
    due = review_schedule.default_next_review(date(2027, 7, 16))
    assert due > date(2027, 7, 16) and due.weekday() < 5
