"""The demo's placements: seeded once, with the variety a demonstration needs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AttendanceAlert,
    AttendanceMark,
    Child,
    Concern,
    ConcernStatus,
    CouncilService,
    Destination,
    HalfTerm,
    Offer,
    OfferStatus,
    Placement,
    PlacementStatus,
    ProgressReport,
    Provider,
    Referral,
    ReferralStatus,
    ResponsibleParty,
    Review,
    User,
)
from portal.services import caseload, demo, demo_placements, safeguarding
from portal.services.caseload import CaseloadFilters, Flag, StatusFilter
from portal.services.placements import session_key

# A Wednesday afternoon in term, after both registers are taken.
MOMENT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)
TABLES = (Placement, Referral, Offer, Child, AttendanceMark, AttendanceAlert, ProgressReport, Review, Concern, HalfTerm)


@pytest.fixture
def seeded(app_context, monkeypatch):
    monkeypatch.setattr(demo, "utcnow", lambda: MOMENT)
    demo.seed_demo()
    return app_context


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in TABLES}


def _placements() -> list[Placement]:
    return list(db.session.scalars(sa.select(Placement).order_by(Placement.id)))


def test_seeding_twice_adds_nothing_the_second_time(seeded):
    first = _counts()
    assert first["Placement"] == 4 and first["HalfTerm"] == 6
    assert first["AttendanceMark"] > 100
    demo.seed_demo()
    demo_placements.seed(MOMENT + timedelta(days=1))
    assert _counts() == first


def test_the_placements_have_different_safeguarding_set_ups_and_one_ended(seeded):
    placements = _placements()
    parties = Counter(p.responsible_party for p in placements)
    assert parties == {ResponsibleParty.PROVIDER: 2, ResponsibleParty.SERVICE: 1, ResponsibleParty.SCHOOL: 1}
    for p in placements:
        assert safeguarding.responsibility(p.on_roll, p.provision_role, p.commissioner).party is p.responsible_party
    (school,) = [p for p in placements if p.responsible_party is ResponsibleParty.SCHOOL]
    assert school.staff_checks_confirmed_on is not None and school.staff_checks_reference
    assert school.school_name and school.school_dsl_email
    assert Counter(p.status for p in placements) == {PlacementStatus.ACTIVE: 3, PlacementStatus.ENDED: 1}
    assert Counter(p.destination for p in placements) == {None: 3, Destination.HOME_SCHOOL: 1}
    (ended,) = [p for p in placements if p.status is PlacementStatus.ENDED]
    assert ended.ended_on < TODAY and ended.end_reason
    assert (
        db.session.scalar(sa.select(sa.func.max(AttendanceMark.day)).where(AttendanceMark.placement_id == ended.id))
        <= ended.ended_on
    )
    for p in placements:
        assert TODAY - timedelta(weeks=10, days=6) <= p.start_date <= TODAY - timedelta(weeks=4)
        assert p.referral.status is ReferralStatus.AWARDED and p.offer.status is OfferStatus.AWARDED
        assert p.offer.provider_id == p.provider_id and p.sites
    # Every council service has a Designated Safeguarding Lead for the placements it is responsible for.
    assert all(s.dsl_name and s.dsl_email for s in db.session.scalars(sa.select(CouncilService)))


def test_attendance_covers_every_expected_past_session_with_a_few_absences(seeded):
    half_terms = list(db.session.scalars(sa.select(HalfTerm)))
    for placement in _placements():
        marked = {
            (m.day, m.session): m.code
            for m in db.session.scalars(sa.select(AttendanceMark).where(AttendanceMark.placement_id == placement.id))
        }
        last = placement.ended_on or TODAY - timedelta(days=1)
        day = placement.start_date
        while day <= last:
            in_term = any(h.starts_on <= day <= h.ends_on for h in half_terms)
            for session in ("am", "pm"):
                expected = in_term and session_key(day, session) in placement.expected_session_keys
                assert ((day, session) in marked) is expected, (placement.id, day, session)
            day += timedelta(days=1)
        assert not [day for day, _ in marked if day > (placement.ended_on or TODAY)]
        codes = Counter(marked.values())
        assert codes["/"] > sum(n for code, n in codes.items() if code not in {"/", "\\"})
    everything = Counter(db.session.scalars(sa.select(AttendanceMark.code)))
    assert {"I", "M", "O", "N"} <= set(everything)
    # Unexplained absences raised their alerts on the day.
    alerts = db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceAlert))
    assert alerts >= 1


def test_the_officer_sees_a_useful_caseload(seeded):
    officer = db.session.scalar(sa.select(User).where(User.email == demo_placements.OFFICER_EMAIL))
    page = caseload.officer_caseload(officer, 1, CaseloadFilters(), TODAY)
    assert page.total == 3
    rows = {row.placement.responsible_party: row for row in page.items}
    # Under 90% over four weeks, with its review (and report) overdue.
    low = rows[ResponsibleParty.SERVICE]
    assert low.low_attendance and low.attendance_percent < 90
    assert Flag.REVIEW_OVERDUE in low.flags
    # An open concern, and today's marks not recorded yet (the alerts command has something to do).
    school = rows[ResponsibleParty.SCHOOL]
    assert Flag.CONCERN in school.flags
    assert page.items[0].placement.id == school.placement.id
    assert not db.session.scalars(
        sa.select(AttendanceMark).where(AttendanceMark.placement_id == school.placement.id, AttendanceMark.day == TODAY)
    ).all()
    assert session_key(TODAY, "am") in school.placement.expected_session_keys
    # The oldest has a report and a review; its next review was moved on by it.
    oldest = rows[ResponsibleParty.PROVIDER]
    (review,) = db.session.scalars(sa.select(Review).where(Review.placement_id == oldest.placement.id))
    (report,) = db.session.scalars(sa.select(ProgressReport).where(ProgressReport.placement_id == oldest.placement.id))
    assert review.report_id == report.id and report.aims and review.aims
    assert oldest.placement.next_review_due == review.next_review_on > TODAY
    assert not oldest.low_attendance and Flag.REVIEW_OVERDUE not in oldest.flags
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Concern).where(Concern.status == ConcernStatus.OPEN))
        == 1
    )
    ended = caseload.officer_caseload(officer, 1, CaseloadFilters(status=StatusFilter.ENDED), TODAY)
    assert ended.total == 1


def test_the_demo_provider_sees_its_placements_with_today_to_record(seeded):
    provider = db.session.scalar(sa.select(Provider).where(Provider.name == "Brookfield Learning Centre"))
    user = db.session.scalar(sa.select(User).where(User.email == "provider1@provider.example"))
    assert user.provider_id == provider.id
    page = caseload.provider_placements(user, 1, TODAY)
    assert page.total == 2
    to_record = [row for row in page.items if row.am_expected and row.am_code is None]
    recorded = [row for row in page.items if row.am_code]
    assert len(to_record) == 1 and len(recorded) == 1
