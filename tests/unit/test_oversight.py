"""The oversight figures against a hand-built dataset with known answers, the edges, the filters and the statement
count."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.models import (
    ApplicationStatus,
    Concern,
    ConcernStatus,
    Destination,
    HalfTerm,
    OfferStatus,
    PlacementStatus,
    ProgressRating,
    Readiness,
    ReferralStatus,
    Review,
    ReviewAim,
)
from portal.models.placements import AttendanceMark
from portal.models.referrals import RateType
from portal.services import oversight
from portal.services.oversight import Filters, Period
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_child, make_offer, make_referral
from tests.factories_dps import admit, make_provider, make_submitted_application, suspend
from tests.factories_placements import awarded_referral, make_placement
from tests.helpers import count_queries

PERIOD = Period(date(2027, 1, 1), date(2027, 3, 31), "test period")
TODAY = date(2027, 3, 15)
_upn = iter(range(100000))


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def child(officer):
    return make_child(officer, upn=f"B{next(_upn):012d}")


def awarded(officer, lot, *, published, deadline, awarded_on, **offer):
    made = awarded_referral(officer=officer, lot=lot, child=child(officer), **offer)
    made.referral.published_at, made.referral.deadline = at(published), at(deadline)
    made.referral.awarded_at = at(awarded_on)
    db.session.commit()
    return made


def marks(placement, user, *items):
    for n, (day, code) in enumerate(items):
        db.session.add(
            AttendanceMark(
                placement_id=placement.id,
                day=day,
                session="am" if n % 2 == 0 else "pm",
                code=code,
                recorded_by_id=user.id,
            )
        )
    db.session.commit()


def review(placement, referral, user, held_on, *ratings):
    db.session.add(
        Review(
            placement_id=placement.id,
            held_on=held_on,
            due_on=held_on,
            recorded_by_id=user.id,
            next_steps="Carry on",
            readiness=Readiness.NOT_YET,
            next_review_on=date(2027, 6, 1),
            aims=[ReviewAim(aim_id=aim.id, rating=r) for aim, r in zip(referral.aims, ratings, strict=True)],
        )
    )
    db.session.commit()


def build(extra: int = 0):
    """The dataset. ``extra`` adds that many more placements outside the period (for the statement count)."""
    lot, lot2 = make_lot(1), make_lot(2)
    officer = make_user("officer")
    # A: published 4 Jan, awarded 18 Jan (14 days), starts 1 Feb (14 days); two live offers and one withdrawn.
    a = awarded(
        officer,
        lot,
        published=date(2027, 1, 4),
        deadline=date(2027, 1, 14),
        awarded_on=date(2027, 1, 18),
        total=Decimal("7200.00"),
    )
    pa = make_placement(a, start_date=date(2027, 2, 1), total_cost=Decimal("7200.00"), next_review_due=date(2027, 3, 1))
    other = eligible_provider(lot, "Second offerer", voluntary_sector=True)
    other_user = make_user("provider", provider=other)
    make_offer(a.referral, other, other_user, status=OfferStatus.UNSUCCESSFUL)
    third = eligible_provider(lot2, "Withdrawer", small_business=True)
    make_offer(a.referral, third, make_user("provider", provider=third), status=OfferStatus.WITHDRAWN)
    # B: published 10 Jan, awarded 30 Jan (20 days), starts 15 Feb (16 days), session rate; ended 10 Mar.
    b = awarded(
        officer,
        lot,
        published=date(2027, 1, 10),
        deadline=date(2027, 1, 20),
        awarded_on=date(2027, 1, 30),
        rate_type=RateType.SESSION,
        rate=Decimal("25.00"),
        total=Decimal("3000.50"),
    )
    pb = make_placement(
        b,
        start_date=date(2027, 2, 15),
        total_cost=Decimal("3000.50"),
        status=PlacementStatus.ENDED,
        ended_on=date(2027, 3, 10),
        destination=Destination.NOT_IN_EDUCATION,
    )
    # C: published 1 Feb, awarded 12 Feb (11 days), no placement yet.
    awarded(officer, lot, published=date(2027, 2, 1), deadline=date(2027, 2, 11), awarded_on=date(2027, 2, 12))
    # D: before the period, starts 7 Dec 2026 and ends 26 Feb 2027 back at the home school.
    d = awarded(officer, lot, published=date(2026, 11, 1), deadline=date(2026, 11, 10), awarded_on=date(2026, 12, 1))
    pd = make_placement(
        d,
        start_date=date(2026, 12, 7),
        total_cost=Decimal("9999.00"),
        status=PlacementStatus.ENDED,
        ended_on=date(2027, 2, 26),
        destination=Destination.HOME_SCHOOL,
    )
    # F: published 15 Feb, closed 25 Feb with no offer.
    f = make_referral(
        officer,
        lot,
        child=child(officer),
        status=ReferralStatus.OPEN,
        round=1,
        published_at=at(date(2027, 2, 15)),
        deadline=at(date(2027, 2, 25)),
    )
    assert f.id
    # Attendance.
    marks(
        pa,
        officer,
        (date(2027, 2, 1), "/"),
        (date(2027, 2, 1), "\\"),
        (date(2027, 2, 2), "/"),
        (date(2027, 2, 2), "O"),
        (date(2027, 3, 20), "/"),
    )
    marks(pb, officer, (date(2027, 2, 15), "/"), (date(2027, 2, 15), "X"), (date(2027, 2, 16), "I"))
    marks(pd, officer, (date(2026, 12, 7), "/"), (date(2027, 1, 5), "/"), (date(2027, 1, 5), "\\"))
    # Reviews: A's latest in the period is 1 of 2, D's is 2 of 2; B's after the period does not count.
    review(pa, a.referral, officer, date(2027, 2, 10), ProgressRating.BEHIND, ProgressRating.BEHIND)
    review(pa, a.referral, officer, date(2027, 3, 1), ProgressRating.ON_TARGET, ProgressRating.BEHIND)
    review(pd, d.referral, officer, date(2027, 1, 20), ProgressRating.AHEAD, ProgressRating.AHEAD)
    review(pb, b.referral, officer, date(2027, 4, 5), ProgressRating.NO_PROGRESS, ProgressRating.NO_PROGRESS)
    # Concerns: one open, one closed.
    for placement, status in ((pa, ConcernStatus.OPEN), (pb, ConcernStatus.CLOSED)):
        db.session.add(
            Concern(placement_id=placement.id, status=status, raised_by_id=officer.id, summary="S", details="D")
        )
    db.session.commit()
    # The market: a provider removed from lot 2 before the end, one admitted after it.
    admit(make_provider("Removed"), lot2, removed_on=date(2027, 2, 1))
    admit(make_provider("Late joiner"), lot2, on=date(2027, 4, 1))
    late = make_submitted_application(lots=[lot], submitted_on=date(2026, 12, 1), status=ApplicationStatus.DECIDED)
    late.decided_at = at(date(2027, 1, 4))
    on_time = make_submitted_application(lots=[lot], submitted_on=date(2027, 1, 5), status=ApplicationStatus.DECIDED)
    on_time.decided_at = at(date(2027, 1, 15))
    make_submitted_application(lots=[lot2], submitted_on=date(2027, 2, 10))
    db.session.commit()
    suspend(other, lot, starts_on=date(2027, 2, 1))
    suspend(other, starts_on=date(2026, 10, 1))
    for _ in range(extra):
        e = awarded(officer, lot, published=date(2026, 10, 1), deadline=date(2026, 10, 5), awarded_on=date(2026, 10, 6))
        pe = make_placement(e, start_date=date(2026, 10, 12))
        marks(pe, officer, (date(2027, 1, 4), "/"))
    return {"lot": lot, "lot2": lot2, "other": other, "officer": officer}


def test_every_figure_against_the_dataset(app_context):
    build()
    result = oversight.dashboard(Filters(PERIOD), TODAY)
    assert result.referrals_made == 4  # A, B, C, F (D was published before the period)
    assert (result.closed_referrals, result.live_offers, result.referrals_with_offer) == (4, 4, 3)
    assert result.offers_per_referral == 1.0
    assert result.share_with_offer == 0.75 and result.share_without_offer == 0.25
    assert sorted(result.days_to_award) == [11, 14, 20]
    assert result.median_days_to_award == 14.0  # odd count: the middle one
    assert sorted(result.days_to_start) == [14, 16]
    assert result.median_days_to_start == 15.0  # even count: the mean of the middle two
    # D started before the period: its cost is not committed in it, but its January marks count.
    assert result.spend_committed == Decimal("10200.50")
    assert isinstance(result.spend_committed, Decimal)
    # A: 3 attended x £60 (half the day rate); B: 1 x £25; D: 2 x £60. A's mark after today is left out.
    assert result.spend_to_date == Decimal("325.00")
    assert (result.attended, result.possible) == (6, 8)
    assert result.attendance_rate == 0.75
    assert (result.aims_on_or_ahead, result.aims_rated) == (3, 4)
    assert result.ended_by_destination == {Destination.HOME_SCHOOL: 1, Destination.NOT_IN_EDUCATION: 1}
    assert result.reintegration_rate == 0.5
    assert result.open_concerns == 1
    assert result.overdue_reviews == 1  # A (B and D have ended)
    per_lot = {lot.number: n for lot, n in result.providers_per_lot}
    assert per_lot == {1: 5, 2: 1}  # four placing providers and the second offerer; the withdrawer in lot 2
    assert (result.admitted_providers, result.small_or_voluntary) == (6, 2)
    assert result.new_applications == 2
    assert (result.decided, result.decided_in_time) == (2, 1)
    assert result.share_decided_in_time == 0.5
    assert result.suspensions == 1
    assert dict(result.referrals_by_month) == {date(2027, 1, 1): 2, date(2027, 2, 1): 2, date(2027, 3, 1): 0}
    assert dict(result.placements_by_month) == {date(2027, 1, 1): 0, date(2027, 2, 1): 2, date(2027, 3, 1): 0}
    names = [row[0] for row in result.attendance_by_provider]
    assert len(names) == 3 and all(p >= a for _, a, p in result.attendance_by_provider)


def test_filters_narrow_the_figures(app_context):
    data = build()
    by_lot2 = oversight.dashboard(Filters(PERIOD, lot_id=data["lot2"].id), TODAY)
    assert by_lot2.referrals_made == 0 and by_lot2.spend_committed == Decimal("0.00")
    assert [n for _, n in by_lot2.providers_per_lot] == [1]
    assert by_lot2.new_applications == 1
    by_provider = oversight.dashboard(Filters(PERIOD, provider_id=data["other"].id), TODAY)
    assert by_provider.referrals_made == 0  # invited to nothing (its offer was written straight in)
    assert by_provider.suspensions == 1
    assert by_provider.attended == 0
    other_service = oversight.dashboard(Filters(PERIOD, service_id=data["officer"].service_id + 1000), TODAY)
    assert other_service.referrals_made == 0 and other_service.open_concerns == 0


def test_nothing_shows_none_without_dividing_by_zero(app_context):
    result = oversight.dashboard(Filters(PERIOD), TODAY)
    assert result.referrals_made == 0
    for value in (
        result.offers_per_referral,
        result.share_with_offer,
        result.median_days_to_award,
        result.attendance_rate,
        result.progress_rate,
        result.reintegration_rate,
        result.share_decided_in_time,
        result.share_small_or_voluntary,
    ):
        assert value is None
    assert result.spend_committed == Decimal("0.00") and result.spend_to_date == Decimal("0.00")
    shown = {name: value for name, value, _ in result.rows()}
    assert shown["Offers per referral"] == "none" and shown["Attendance rate"] == "none"
    assert shown["Referrals made"] == "0"


def test_one_referral(app_context):
    officer = make_user("officer")
    awarded(officer, make_lot(1), published=date(2027, 1, 4), deadline=date(2027, 1, 14), awarded_on=date(2027, 1, 21))
    result = oversight.dashboard(Filters(PERIOD), TODAY)
    assert result.referrals_made == 1 and result.median_days_to_award == 17.0 and result.offers_per_referral == 1.0


@pytest.mark.parametrize(("values", "expected"), [([], None), ([5], 5.0), ([3, 1, 2], 2.0), ([4, 1, 3, 2], 2.5)])
def test_median(values, expected):
    assert oversight.median(values) == expected


def test_price_per_session():
    assert oversight.price_per_session(RateType.DAY, Decimal("120"), Decimal("15"), "mon-am") == Decimal("60")
    assert oversight.price_per_session(RateType.SESSION, Decimal("25"), Decimal("15"), "") == Decimal("25")
    ten = " ".join(f"d{n}" for n in range(10))
    assert oversight.price_per_session(RateType.HOUR, Decimal("30"), Decimal("15"), ten) == Decimal("45")


def test_periods(app_context):
    assert oversight.academic_year(date(2027, 3, 15)) == Period(
        date(2026, 9, 1), date(2027, 8, 31), "academic year 2026/27"
    )
    assert oversight.academic_year(date(2026, 9, 1)).start == date(2026, 9, 1)
    for position, (starts, ends) in enumerate(
        [
            ((2026, 9, 2), (2026, 10, 23)),
            ((2026, 11, 2), (2026, 12, 18)),
            ((2027, 1, 5), (2027, 2, 12)),
            ((2027, 2, 22), (2027, 3, 26)),
        ],
        start=1,
    ):
        db.session.add(
            HalfTerm(academic_year="2026/27", position=position, starts_on=date(*starts), ends_on=date(*ends))
        )
    db.session.commit()
    spring = oversight.this_term(date(2027, 2, 16))  # half-term holiday: still the spring term
    assert (spring.start, spring.end) == (date(2027, 1, 5), date(2027, 3, 26))
    autumn = oversight.this_term(date(2026, 12, 30))  # Christmas: the autumn term that ended last
    assert (autumn.start, autumn.end) == (date(2026, 9, 2), date(2026, 12, 18))
    with pytest.raises(oversight.FieldErrors):
        oversight.resolve_period("custom", TODAY, date(2027, 3, 1), date(2027, 2, 1))
    with pytest.raises(oversight.FieldErrors):
        oversight.resolve_period("custom", TODAY, None, date(2027, 2, 1))


def test_statement_count_does_not_grow(app_context):
    data = build()
    with count_queries(db.engine) as small:
        oversight.dashboard(Filters(PERIOD), TODAY)
    build_more = 6
    officer = make_user("officer")
    for _ in range(build_more):
        e = awarded(
            officer, data["lot"], published=date(2027, 1, 6), deadline=date(2027, 1, 9), awarded_on=date(2027, 1, 10)
        )
        pe = make_placement(e, start_date=date(2027, 1, 18))
        marks(pe, officer, (date(2027, 1, 18), "/"), (date(2027, 1, 18), "\\"))
        review(pe, e.referral, officer, date(2027, 2, 1), ProgressRating.AHEAD, ProgressRating.BEHIND)
    db.session.expire_all()
    with count_queries(db.engine) as large:
        bigger = oversight.dashboard(Filters(PERIOD), TODAY)
    assert bigger.referrals_made == 4 + build_more
    assert len(large.statements) == len(small.statements)
