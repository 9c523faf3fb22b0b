"""The full-year demo behind the oversight dashboard: seeded once, deterministic, with a realistic spread."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationStatus,
    AttendanceMark,
    Child,
    Concern,
    ConcernStatus,
    Destination,
    Invitation,
    Offer,
    OfferStatus,
    Placement,
    PlacementStatus,
    ProgressReport,
    Referral,
    ReferralStatus,
    ResponsibleParty,
    Review,
    Sla,
    Suspension,
)
from portal.services import attendance, demo, demo_oversight, safeguarding
from portal.services.attendance_codes import UNEXPLAINED, attended_sum, possible_sum

MOMENT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)
TABLES = (Referral, Offer, Invitation, Placement, AttendanceMark, ProgressReport, Review, Concern, Child, Suspension)


@pytest.fixture
def seeded(app_context, monkeypatch):
    monkeypatch.setattr(demo, "utcnow", lambda: MOMENT)
    monkeypatch.setattr(demo, "london_today", lambda: TODAY)
    started = time.perf_counter()
    demo.seed_demo(full_year=True)
    app_context.seconds = time.perf_counter() - started
    return app_context


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in TABLES}


def _demo_referrals() -> list[Referral]:
    return list(
        db.session.scalars(
            sa.select(Referral)
            .join(Child, Child.id == Referral.child_id)
            .where(Child.upn.like(f"_{demo_oversight.UPN_PREFIX}%"))
            .order_by(Referral.id)
        )
    )


def _demo_placements() -> list[Placement]:
    ids = [r.id for r in _demo_referrals()]
    return list(db.session.scalars(sa.select(Placement).where(Placement.referral_id.in_(ids)).order_by(Placement.id)))


def test_seeding_twice_adds_nothing_and_is_fast(seeded):
    assert seeded.seconds < 20
    first = _counts()
    assert first["Referral"] >= 60 and first["Placement"] >= 30
    demo.seed_demo(full_year=True)
    demo_oversight.seed(MOMENT)
    assert _counts() == first


def test_without_full_year_nothing_of_it_is_seeded(app_context, monkeypatch):
    monkeypatch.setattr(demo, "utcnow", lambda: MOMENT)
    demo.seed_demo()
    assert not demo_oversight.seeded()
    assert _demo_referrals() == []


def _fingerprint() -> tuple:
    referrals = [(r.status, r.lot_id, r.service_id, r.created_at, r.child.first_name) for r in _demo_referrals()]
    marks = db.session.execute(
        sa.select(AttendanceMark.code, sa.func.count()).group_by(AttendanceMark.code).order_by(AttendanceMark.code)
    ).all()
    return referrals, [tuple(row) for row in marks]


def test_it_is_deterministic(app_context, monkeypatch):
    monkeypatch.setattr(demo, "utcnow", lambda: MOMENT)
    demo.seed_demo()
    savepoint = db.session.begin_nested()
    demo_oversight.seed(MOMENT)
    first = _fingerprint()
    savepoint.rollback()
    assert not demo_oversight.seeded()
    demo_oversight.seed(MOMENT)
    assert len(first[0]) == demo_oversight.REFERRALS and sum(n for _, n in first[1]) > 3000
    assert _fingerprint() == first


def test_referrals_spread_across_the_months_lots_and_services(seeded):
    referrals = _demo_referrals()
    assert len(referrals) == 60
    months = {(r.created_at.year, r.created_at.month) for r in referrals}
    assert len(months) >= 8
    # From the summer term before last year to this autumn.
    assert min(r.created_at.date() for r in referrals) >= demo_oversight.window_start(TODAY)
    assert max(r.created_at.date() for r in referrals) < TODAY
    assert any(r.created_at.date() >= date(2026, 9, 1) for r in referrals)
    assert len({r.lot_id for r in referrals}) == 4 and len({r.service_id for r in referrals}) == 3
    statuses = Counter(r.status for r in referrals)
    assert statuses[ReferralStatus.AWARDED] >= 30
    assert statuses[ReferralStatus.OFF_DPS] >= 1 and statuses[ReferralStatus.WITHDRAWN] >= 1
    assert statuses[ReferralStatus.OPEN] >= 1
    offers = Counter(
        db.session.scalars(sa.select(Offer.referral_id).where(Offer.referral_id.in_([r.id for r in referrals])))
    )
    closed = [r for r in referrals if r.status is not ReferralStatus.OPEN]
    without = [r for r in closed if offers[r.id] == 0]
    assert 3 <= len(without) < len(closed) / 2
    assert all(r.status in {ReferralStatus.OFF_DPS, ReferralStatus.WITHDRAWN} for r in without)
    assert max(offers.values()) >= 2
    # Every awarded referral has exactly one awarded offer, from a provider admitted to the lot with an SLA.
    admitted = {tuple(row) for row in db.session.execute(sa.select(Admission.provider_id, Admission.lot_id))}
    with_sla = set(db.session.scalars(sa.select(Sla.provider_id).where(Sla.approved_at.is_not(None))))
    for referral in referrals:
        if referral.status is ReferralStatus.AWARDED:
            (won,) = db.session.scalars(
                sa.select(Offer).where(Offer.referral_id == referral.id, Offer.status == OfferStatus.AWARDED)
            )
            assert (won.provider_id, referral.lot_id) in admitted and won.provider_id in with_sla
            assert referral.published_at < referral.deadline < referral.awarded_at


def test_placements_end_with_a_range_of_destinations(seeded):
    placements = _demo_placements()
    assert 30 <= len(placements) <= 45
    for p in placements:
        assert p.referral.status is ReferralStatus.AWARDED and p.offer.status is OfferStatus.AWARDED
        assert safeguarding.responsibility(p.on_roll, p.provision_role, p.commissioner).party is p.responsible_party
        assert p.start_date > p.referral.awarded_at.date()
    assert len({p.responsible_party for p in placements}) == len(ResponsibleParty)
    ended = [p for p in placements if p.status is PlacementStatus.ENDED]
    assert 10 <= len(ended) <= 20
    destinations = Counter(p.destination for p in ended)
    assert len(destinations) >= 4
    assert destinations.most_common(1)[0][0] is Destination.HOME_SCHOOL
    assert all(p.ended_on < TODAY and p.end_reason for p in ended)
    assert all(p.planned_end_date >= TODAY for p in placements if p.status is PlacementStatus.ACTIVE)


def test_attendance_is_realistic_and_covers_every_expected_past_session(seeded):
    placements = _demo_placements()
    rows = db.session.execute(
        sa.select(AttendanceMark.placement_id, attended_sum(AttendanceMark.code), possible_sum(AttendanceMark.code))
        .where(AttendanceMark.placement_id.in_([p.id for p in placements]))
        .group_by(AttendanceMark.placement_id)
    ).all()
    attended = sum(row[1] for row in rows)
    possible = sum(row[2] for row in rows)
    assert 0.80 <= attended / possible <= 0.98
    assert all(0.7 <= row[1] / row[2] <= 1 for row in rows if row[2] >= 40)
    codes = Counter(db.session.scalars(sa.select(AttendanceMark.code)))
    unexplained = sum(codes[c] for c in UNEXPLAINED)
    assert 0 < unexplained < possible * 0.05
    # One placement in full: a mark exactly on every expected session up to the day it ended (or yesterday).
    placement = next(p for p in placements if p.status is PlacementStatus.ENDED)
    calendar = attendance.term_calendar(placement.start_date, TODAY)
    marked = set(
        db.session.execute(
            sa.select(AttendanceMark.day, AttendanceMark.session).where(AttendanceMark.placement_id == placement.id)
        )
    )
    expected = set()
    day = placement.start_date
    while day <= placement.ended_on:
        expected |= {(day, session) for session in attendance.expected(placement, day, calendar)}
        day = day.fromordinal(day.toordinal() + 1)
    assert marked == expected and len(marked) > 30


def test_reviews_concerns_and_the_market(seeded):
    placements = _demo_placements()
    ids = [p.id for p in placements]
    reviews = db.session.scalars(sa.select(Review).where(Review.placement_id.in_(ids))).all()
    assert len(reviews) >= len(placements)
    assert all(r.report_id is not None and r.aims for r in reviews)
    ratings = Counter(aim.rating for r in reviews for aim in r.aims)
    assert len(ratings) >= 3
    overdue = [p for p in placements if p.status is PlacementStatus.ACTIVE and p.next_review_due < TODAY]
    assert 1 <= len(overdue) <= 6
    concerns = Counter(db.session.scalars(sa.select(Concern.status).where(Concern.placement_id.in_(ids))))
    assert concerns[ConcernStatus.CLOSED] >= 2 and concerns[ConcernStatus.OPEN] >= 1
    decided = db.session.scalars(sa.select(Application).where(Application.status == ApplicationStatus.DECIDED)).all()
    on_time = [a for a in decided if a.decided_at.date() <= a.decision_due_on]
    assert len(decided) - len(on_time) == 1 and len(on_time) >= 3
    assert all(a.submitted_at < a.decided_at < MOMENT for a in decided)
    lifted = db.session.scalars(sa.select(Suspension).where(Suspension.lifted_at.is_not(None))).all()
    assert len(lifted) == 1


def test_the_oversight_dashboard_shows_meaningful_figures_for_last_year_and_this_one(seeded):
    from portal.services import oversight

    for period in (
        oversight.Period(date(2025, 9, 1), date(2026, 8, 31), "2025/26"),
        oversight.resolve_period("year", TODAY),
    ):
        figures = oversight.dashboard(oversight.Filters(period=period), TODAY)
        assert figures.referrals_made >= 15, period
        assert 0 < figures.share_without_offer < 0.5 and figures.offers_per_referral >= 1
        assert figures.median_days_to_award and figures.median_days_to_start
        assert figures.spend_committed > 0 and figures.spend_to_date > 0
        assert 0.8 <= figures.attendance_rate <= 0.98
        assert 0 < figures.progress_rate < 1
        assert len([month for month, n in figures.referrals_by_month if n]) >= 3
        assert len(figures.attendance_by_provider) >= 3
    last_year = oversight.dashboard(
        oversight.Filters(period=oversight.Period(date(2025, 9, 1), date(2026, 8, 31), "")), TODAY
    )
    assert sum(last_year.ended_by_destination.values()) >= 5 and len(last_year.ended_by_destination) >= 3
    assert last_year.decided >= 1 and last_year.suspensions >= 1
    now = oversight.dashboard(oversight.Filters(period=oversight.resolve_period("year", TODAY)), TODAY)
    assert now.open_concerns >= 1 and now.overdue_reviews >= 1
