"""The demo's SLAs: seeded once, every state of the workflow present, and the call-off demo's providers still invited
(their SLAs are in force, with caps above the demo's offers)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Invitation, Offer, Provider, Referral, Sla, SlaStatus, SlaTemplate
from portal.services import demo, slas

MOMENT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture
def seeded(app_context, monkeypatch):
    monkeypatch.setattr(demo, "utcnow", lambda: MOMENT)
    monkeypatch.setattr(demo, "london_today", lambda: date(2026, 11, 25))
    demo.seed_demo()
    return app_context


def _by_provider() -> dict[str, list[Sla]]:
    found: dict[str, list[Sla]] = {}
    for sla in db.session.scalars(sa.select(Sla).order_by(Sla.provider_id, Sla.number)):
        found.setdefault(sla.provider.name, []).append(sla)
    return found


def test_seeding_twice_adds_nothing(seeded):
    counts = (
        db.session.scalar(sa.select(sa.func.count()).select_from(Sla)),
        db.session.scalar(sa.select(sa.func.count()).select_from(SlaTemplate)),
    )
    assert counts == (9, 1)
    demo.seed_demo()
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Sla)),
        db.session.scalar(sa.select(sa.func.count()).select_from(SlaTemplate)),
    ) == counts


def test_every_state_is_present_and_only_admitted_providers_have_slas(seeded):
    found = _by_provider()
    assert {name: [sla.status for sla in versions] for name, versions in found.items()} == {
        "Brookfield Learning Centre": [SlaStatus.APPROVED, SlaStatus.DRAFT],
        "Colne Valley Tutors": [SlaStatus.SUPERSEDED, SlaStatus.APPROVED, SlaStatus.ACCEPTED],
        "Harefield Horizons Academy": [SlaStatus.TERMINATED],
        "Pinewood Therapeutic Education": [SlaStatus.APPROVED, SlaStatus.SENT],
        "Ruislip Vocational Skills": [SlaStatus.DRAFT],
    }
    today = date(2026, 11, 25)
    terminated = found["Harefield Horizons Academy"][0]
    assert terminated.terminated_on < today and terminated.termination_reason
    assert slas.display_status(found["Brookfield Learning Centre"][0], today) == "active"
    # A variation points at the version it varies; what was sent carries its checksum, intact.
    superseded, approved, accepted = found["Colne Valley Tutors"]
    assert approved.previous_id == superseded.id and accepted.previous_id == approved.id
    for versions in found.values():
        for sla in versions:
            if sla.status is not SlaStatus.DRAFT:
                assert slas.integrity(sla).intact, (sla.provider.name, sla.number)
    assert accepted.signatory_name and accepted.accepted_at is not None
    # Every version covers exactly the lots the provider is admitted to.
    brookfield = found["Brookfield Learning Centre"][0]
    assert sorted(lot.lot.number for lot in brookfield.lots) == [1, 2]
    assert all(lot.max_day_rate and lot.max_session_rate and lot.max_hour_rate for lot in brookfield.lots)


def test_the_calloff_demo_still_invites_its_providers_and_the_offers_are_within_the_caps(seeded):
    invited = db.session.execute(
        sa.select(Referral.lot_id, Provider.name)
        .join(Invitation, Invitation.referral_id == Referral.id)
        .join(Provider, Provider.id == Invitation.provider_id)
        .order_by(Referral.id, Provider.name)
    ).all()
    names = {name for _, name in invited}
    assert {"Brookfield Learning Centre", "Colne Valley Tutors", "Pinewood Therapeutic Education"} <= names
    # Harefield (terminated, suspended) and Ruislip (draft only) are never invited.
    assert not names & {"Harefield Horizons Academy", "Ruislip Vocational Skills"}
    # Every offer in the demo (the call-off's and the placements') is within its provider's cap for the lot.
    offers = db.session.execute(
        sa.select(Offer, Referral.lot_id).join(Referral, Referral.id == Offer.referral_id)
    ).all()
    assert len(offers) >= 3
    for offer, lot_id in offers:
        terms = slas.sla_lot_in_force(offer.provider_id, lot_id, date(2026, 11, 25))
        assert terms is not None and offer.rate <= slas.rate_cap(terms, offer.rate_type), offer.provider_id
