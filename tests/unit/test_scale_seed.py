"""The scale data generator (flask seed scale): its counts at size S, its determinism, its consistency with the
portal's own rules (eligibility, SLA checksums, attendance, the audit chain), and the key pages on what it writes."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    AttendanceMark,
    Invitation,
    Lot,
    Offer,
    OfferStatus,
    Placement,
    Provider,
    Referral,
    ReferralStatus,
    Sla,
    SlaLot,
    SlaStatus,
    User,
)
from portal.services import attendance, audit_chain, eligibility, scale_seed, slas
from tests.helpers import sign_in

S = scale_seed.SIZES["S"]
# Small enough for three runs in one test.
TINY = scale_seed.Size("tiny", providers=8, referrals=150, officers=3, services=2, placements=30)
KEEP = {"document_types"}  # reference data the migrations put in


def _wipe() -> None:
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEEP:
                connection.execute(table.delete())


def _checksum() -> str:
    """A digest of the content of the main tables, in id order."""
    digest = hashlib.sha256()
    statements = [
        sa.select(Referral.id, Referral.status, Referral.lot_id, Referral.officer_id, Referral.created_at,
                  Referral.deadline, Referral.profile).order_by(Referral.id),
        sa.select(Offer.id, Offer.referral_id, Offer.provider_id, Offer.status, Offer.rate, Offer.total,
                  Offer.submitted_at).order_by(Offer.id),
        sa.select(Placement.id, Placement.referral_id, Placement.status, Placement.start_date, Placement.ended_on,
                  Placement.destination, Placement.next_review_due).order_by(Placement.id),
        sa.select(AttendanceMark.placement_id, AttendanceMark.day, AttendanceMark.session, AttendanceMark.code)
        .order_by(AttendanceMark.placement_id, AttendanceMark.day, AttendanceMark.session),
        sa.select(Invitation.referral_id, Invitation.provider_id, Invitation.viewed_at, Invitation.declined_at)
        .order_by(Invitation.referral_id, Invitation.provider_id),
        sa.select(Provider.id, Provider.name, Provider.postcode).order_by(Provider.id),
    ]  # fmt: skip
    for statement in statements:
        for row in db.session.execute(statement):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_command_writes_size_s_and_says_what_it_wrote_then_refuses_a_database_with_providers(app, runner):
    result = runner.invoke(args=["seed", "scale", "--size", "S"])
    assert result.exit_code == 2
    assert "PORTAL_ENV=development" in result.output

    result = runner.invoke(args=["seed", "scale", "--size", "S", "--force"])
    assert result.exit_code == 0, result.output
    assert re.search(r"referrals\s+2,000", result.output)
    assert re.search(r"providers\s+50\b", result.output)
    assert re.search(r"attendance_marks\s+[\d,]+", result.output)
    assert "rows in" in result.output

    with app.app_context():
        _assert_size_s_counts()
        _assert_consistent_with_the_rules()
        assert audit_chain.verify().intact

    again = runner.invoke(args=["seed", "scale", "--size", "S", "--force"])
    assert again.exit_code == 2
    assert "already has providers" in again.output
    with app.app_context():
        assert _count(Provider) == S.providers


def _assert_size_s_counts() -> None:
    assert _count(Provider) == S.providers
    assert _count(Referral) == S.referrals
    roles = Counter(db.session.scalars(sa.select(User.role)))
    assert (roles["manager"], roles["officer"], roles["provider"]) == (1, S.officers, S.providers)
    placements = _count(Placement)
    assert 0.8 * S.placements <= placements <= 1.1 * S.placements

    # 0 to 10 offers a published referral, some with none; about five on average.
    per_referral = dict(
        db.session.execute(
            sa.select(Referral.id, sa.func.count(Offer.id))
            .outerjoin(Offer, Offer.referral_id == Referral.id)
            .where(Referral.status != ReferralStatus.DRAFT)
            .group_by(Referral.id)
        ).all()
    )
    assert max(per_referral.values()) <= 10
    assert min(per_referral.values()) == 0
    assert 3 <= sum(per_referral.values()) / len(per_referral) <= 7

    # Every stage has referrals: live ones (deadline to come), drafts, awards, withdrawals, off the DPS.
    statuses = Counter(db.session.scalars(sa.select(Referral.status)))
    assert all(statuses[status] for status in ReferralStatus)
    now = london_today()
    live = db.session.scalar(
        sa.select(sa.func.count()).where(Referral.status == ReferralStatus.OPEN, Referral.deadline > clock.now())
    )
    assert live >= S.referrals * S.open_share * 0.9
    assert db.session.scalar(sa.select(sa.func.count()).where(Placement.ended_on.is_not(None))) > placements / 3
    assert db.session.scalar(sa.select(sa.func.count()).where(Placement.ended_on.is_(None))) > 0
    assert db.session.scalar(sa.select(sa.func.min(Referral.created_at))).year <= now.year - S.years + 1


def _assert_consistent_with_the_rules() -> None:
    today = london_today()
    # Offers only from invited providers, and within the rate cap of their SLA.
    uninvited = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Offer)
        .where(
            ~sa.exists().where(
                Invitation.referral_id == Offer.referral_id,
                Invitation.provider_id == Offer.provider_id,
                Invitation.round == Offer.round,
            )
        )
    )
    assert uninvited == 0
    for offer in db.session.scalars(sa.select(Offer).order_by(Offer.id).limit(200)):
        referral = db.session.get(Referral, offer.referral_id)
        terms = slas.sla_lot_in_force(offer.provider_id, referral.lot_id, offer.submitted_at.date())
        assert terms is not None
        assert offer.rate <= slas.rate_cap(terms, offer.rate_type)
    # One award per awarded referral, and a placement made from it.
    awarded = db.session.scalar(sa.select(sa.func.count()).where(Offer.status == OfferStatus.AWARDED))
    assert awarded == db.session.scalar(sa.select(sa.func.count()).where(Referral.status == ReferralStatus.AWARDED))
    assert _count(Placement) <= awarded

    # The invitations of a live referral are exactly the providers eligible in its lot the day it was published.
    live = db.session.scalars(
        sa.select(Referral).where(Referral.status == ReferralStatus.OPEN).order_by(Referral.id.desc()).limit(3)
    ).all()
    for referral in live:
        lot = db.session.get(Lot, referral.lot_id)
        published_on = referral.published_at.date()
        expected = {p.id for p in eligibility.eligible_providers(lot, published_on)}
        invited = set(
            db.session.scalars(sa.select(Invitation.provider_id).where(Invitation.referral_id == referral.id))
        )
        assert invited == expected

    # The SLAs in force read as intact (the checksum written is the portal's own).
    for sla in db.session.scalars(sa.select(Sla).where(Sla.status == SlaStatus.APPROVED).limit(5)):
        assert slas.integrity(sla).intact
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaLot)) > 0

    # A mark for every session the portal expects, on every school day from the start to yesterday.
    placements = db.session.scalars(sa.select(Placement).order_by(Placement.id).limit(25)).all()
    calendar = attendance.term_calendar(min(p.start_date for p in placements), today)
    for placement in placements:
        expected = 0
        day = placement.start_date
        while day <= min(attendance.last_day(placement), today - timedelta(days=1)):
            expected += len(attendance.expected(placement, day, calendar))
            day += timedelta(days=1)
        marks = db.session.scalar(sa.select(sa.func.count()).where(AttendanceMark.placement_id == placement.id))
        assert marks == expected, placement.id


def test_the_same_seed_writes_the_same_rows_and_another_seed_different_ones(app_context):
    # On TINY: every size runs the same code, only the counts differ, and S takes 5-10 s each time.
    scale_seed.generate(TINY, seed=7)
    first = _checksum()
    _wipe()
    scale_seed.generate(TINY, seed=7)
    assert _checksum() == first
    _wipe()
    scale_seed.generate(TINY, seed=8)
    assert _checksum() != first


def test_the_generator_refuses_a_database_with_providers(app_context):
    scale_seed.generate(TINY)
    with pytest.raises(scale_seed.AlreadyHasData):
        scale_seed.generate(TINY)


def test_the_generated_people_sign_in_and_their_key_pages_work(app):
    with app.app_context():
        counts = scale_seed.generate(TINY)
        assert counts["providers"] == TINY.providers
        assert audit_chain.verify().intact
        officer = db.session.scalar(sa.select(User).where(User.email == scale_seed.officer_email(1)))
        referral_id = db.session.scalar(
            sa.select(Referral.id)
            .where(Referral.officer_id == officer.id, Referral.status != ReferralStatus.DRAFT)
            .order_by(Referral.id.desc())
            .limit(1)
        )
        assert referral_id is not None

    def signed_in(email: str):
        client = app.test_client()
        response = sign_in(client, email, scale_seed.SCALE_PASSWORD, scale_seed.SCALE_TOTP_SECRET)
        assert response.status_code == 302, email
        return client

    officer_client = signed_in(scale_seed.officer_email(1))
    for path in ["/officer/placements", "/directory", f"/officer/referrals/{referral_id}"]:
        assert officer_client.get(path).status_code == 200, path

    provider_client = signed_in(scale_seed.provider_email(1))
    assert provider_client.get("/provider/opportunities").status_code == 200

    manager_client = signed_in(scale_seed.MANAGER_EMAIL)
    assert manager_client.get("/manager/oversight").status_code == 200
