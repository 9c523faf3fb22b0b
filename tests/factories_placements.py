"""Builders for placements: an awarded referral (written straight to the database), and a placement made from it.
Objects are committed (a live server thread sees them); call them inside an app context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from portal.extensions import db
from portal.models import (
    Commissioner,
    Lot,
    Offer,
    OfferStatus,
    OnRoll,
    Placement,
    PlacementSite,
    Provider,
    ProvisionRole,
    Referral,
    ReferralStatus,
    ResponsibleParty,
    Site,
    User,
)
from portal.services.placements import ALL_SESSIONS
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_child, make_offer, make_referral

PLACEMENT_START = date(2027, 1, 11)  # a Monday


def award(referral: Referral, offer: Offer, officer: User, *, at: datetime | None = None) -> None:
    """Mark the referral awarded to the offer, as evaluation.award leaves them."""
    referral.status = ReferralStatus.AWARDED
    referral.round = max(referral.round, 1)
    referral.published_at = referral.published_at or datetime(2026, 12, 1, 10, tzinfo=UTC)
    referral.deadline = referral.deadline or datetime(2026, 12, 11, 17, tzinfo=UTC)
    referral.awarded_at = at or datetime(2026, 12, 14, 10, tzinfo=UTC)
    referral.awarded_by_id = officer.id
    referral.award_rationale = "Best value for money"
    offer.status = OfferStatus.AWARDED
    db.session.commit()


@dataclass
class Awarded:
    """A referral awarded to a provider (with one site, a DSL and one user), ready to become a placement."""

    officer: User
    lot: Lot
    provider: Provider
    provider_user: User
    referral: Referral
    offer: Offer


def awarded_referral(
    *,
    officer: User | None = None,
    lot: Lot | None = None,
    provider: Provider | None = None,
    provider_user: User | None = None,
    child=None,
    registered: bool = True,
    **offer_fields,
) -> Awarded:
    lot = lot or make_lot(1)
    officer = officer or make_user("officer")
    if provider is None:
        provider = eligible_provider(
            lot,
            f"Placing provider {db.session.query(Provider).count() + 1}",
            registered=registered,
            dsl_name="Dana Lead",
            dsl_role="Head of centre",
            dsl_email="dsl@placing-provider.example",
            dsl_phone="01895 250111",
            sites=(
                ("Main site", "1 High Street, Uxbridge", "UB8 1UW"),
                ("Farm site", "Hill Farm, Harefield", "UB9 6AA"),
            ),
        )
    provider_user = provider_user or make_user("provider", provider=provider)
    referral = make_referral(officer, lot, child=child or make_child(officer))
    referral.round = 1
    db.session.commit()
    offer = make_offer(referral, provider, provider_user, **offer_fields)
    award(referral, offer, officer)
    return Awarded(officer, lot, provider, provider_user, referral, offer)


def make_placement(awarded: Awarded, **fields) -> Placement:
    """A placement from the awarded offer, the provider on the child's roll (so it holds responsibility)."""
    offer, referral = awarded.offer, awarded.referral
    values = {
        "referral_id": referral.id,
        "offer_id": offer.id,
        "child_id": referral.child_id,
        "provider_id": offer.provider_id,
        "service_id": referral.service_id,
        "lot_id": referral.lot_id,
        "officer_id": referral.officer_id,
        "created_by_id": awarded.officer.id,
        "start_date": PLACEMENT_START,
        "planned_end_date": date(2027, 4, 2),
        "hours_per_week": offer.hours_per_week,
        "sessions": offer.sessions,
        "expected_sessions": " ".join(ALL_SESSIONS),
        "full_time": False,
        "rate_type": offer.rate_type,
        "rate": offer.rate,
        "units_per_week": offer.units_per_week,
        "total_cost": offer.total,
        "reintegration_criteria": referral.reintegration_criteria,
        "next_review_due": date(2027, 2, 22),
        "on_roll": OnRoll.PROVIDER,
        "provision_role": ProvisionRole.MAIN,
        "commissioner": Commissioner.COUNCIL,
        "responsible_party": ResponsibleParty.PROVIDER,
        "responsibility_confirmed_by_id": awarded.officer.id,
    }
    values.update(fields)
    placement = Placement(**values)
    site_ids = [s.id for s in db.session.query(Site).filter_by(provider_id=offer.provider_id).order_by(Site.id)][:1]
    placement.sites = [PlacementSite(site_id=site_id) for site_id in site_ids]
    db.session.add(placement)
    db.session.commit()
    return placement


def placed(**fields) -> tuple[Awarded, Placement]:
    """An awarded referral and its active placement, in one call."""
    awarded = awarded_referral()
    return awarded, make_placement(awarded, **fields)


__all__ = ["Awarded", "award", "awarded_referral", "make_placement", "placed", "PLACEMENT_START"]
