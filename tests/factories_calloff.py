"""Builders for the call-off: a child, a complete draft referral, a published one with its invited providers, offers.
Objects are committed (a live server thread sees them); call them inside an app context.

The child's identity is distinctive on purpose (CHILD_*), so isolation tests can look for it in every response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from portal.clock import now as clock_now
from portal.extensions import db
from portal.models import (
    Aim,
    AimResponse,
    Area,
    Child,
    ExclusionStatus,
    Gender,
    Lot,
    Need,
    Offer,
    OnRollStatus,
    Provider,
    RateType,
    Referral,
    ReferralNeed,
    User,
)
from portal.services import referrals
from portal.services.referrals import PublishTerms
from tests.factories import make_lot, make_user
from tests.factories_dps import admit, make_provider

CHILD_FIRST_NAME = "Zephyrine"
CHILD_LAST_NAME = "Quillfeather"
CHILD_DATE_OF_BIRTH = date(2012, 3, 14)
# A valid UPN: the check letter A matches the 12 characters after it.
CHILD_UPN = "A123456789012"
CHILD_SCHOOL = "Marblewick Academy"
# Every way a provider-facing page might give the child away.
CHILD_IDENTIFIERS = (
    CHILD_FIRST_NAME,
    CHILD_LAST_NAME,
    CHILD_UPN,
    CHILD_SCHOOL,
    "14 March 2012",
    "14/03/2012",
    "2012-03-14",
)


def make_child(officer: User, **fields) -> Child:
    values = {
        "first_name": CHILD_FIRST_NAME,
        "last_name": CHILD_LAST_NAME,
        "date_of_birth": CHILD_DATE_OF_BIRTH,
        "upn": CHILD_UPN,
        "gender": Gender.FEMALE,
        "home_school": CHILD_SCHOOL,
        "on_roll_status": OnRollStatus.HOME_SCHOOL,
        "ehc_plan": False,
        "looked_after": False,
        "exclusion_status": ExclusionStatus.AT_RISK,
        "created_by_id": officer.id,
    }
    values.update(fields)
    child = Child(**values)
    db.session.add(child)
    db.session.commit()
    return child


def make_referral(officer: User, lot: Lot | None, *, child: Child | None = None, aims: int = 2, **fields) -> Referral:
    """A draft referral with everything publishing needs (pass lot=None, aims=0 ... to leave parts out)."""
    child = child or make_child(officer)
    values = {
        "child_id": child.id,
        "service_id": officer.service_id,
        "lot_id": lot.id if lot is not None else None,
        "officer_id": officer.id,
        "hours_per_week": Decimal("15.0"),
        "sessions": "Monday to Friday mornings",
        "start_date": date(2027, 1, 11),
        "duration_weeks": 12,
        "location": "Central area, within 30 minutes by bus",
        "travel_needs": "Can travel independently by bus",
        "reintegration_criteria": "Attends 90% of sessions for six weeks and manages a full morning in class",
        "area": Area.CENTRAL,
        "profile": "A bright, anxious pupil who has been out of school for a term and enjoys practical work.",
    }
    values.update(fields)
    referral = Referral(**values)
    referral.needs = [ReferralNeed(need=Need.SEMH), ReferralNeed(need=Need.ANXIETY_EBSA)]
    referral.aims = [
        Aim(
            position=n,
            description=f"Aim {n}: build up attendance",
            baseline=f"Baseline {n}: attends 40% of sessions",
            target=f"Target {n}: attends 90% of sessions",
            measure=f"Measure {n}: weekly attendance returns",
        )
        for n in range(1, aims + 1)
    ]
    db.session.add(referral)
    db.session.commit()
    return referral


def publish(referral: Referral, officer: User, *, now: datetime | None = None, days: int = 10, **terms) -> Referral:
    """Publish through the service (so invitations and emails are real) and commit."""
    now = now or clock_now()
    from portal.clock import london_today

    values = {"deadline_date": london_today(now) + timedelta(days=days), "leaks_checked": True}
    if days < referrals.DEFAULT_DEADLINE_DAYS:
        values["deadline_reason"] = "Urgent: sixth day of a permanent exclusion"
    values.update(terms)
    db.session.refresh(referral)
    referrals.publish(referral.id, officer, version=referral.version, terms=PublishTerms(**values), now=now)
    db.session.commit()
    return referral


def eligible_provider(lot: Lot, name: str, **fields) -> Provider:
    """A provider admitted to the lot (which requires no documents unless the test adds some)."""
    provider = make_provider(name, **fields)
    admit(provider, lot)
    return provider


def make_offer(referral: Referral, provider: Provider, user: User, **fields) -> Offer:
    """A submitted offer in the referral's current round, written straight to the database."""
    values = {
        "referral_id": referral.id,
        "round": referral.round,
        "provider_id": provider.id,
        "submitted_by_id": user.id,
        "start_date": date(2027, 1, 11),
        "hours_per_week": Decimal("15.0"),
        "sessions": "Monday to Friday, 9am to 12pm",
        "location": "Main site",
        "staffing_ratio": "1:3",
        "transport": "Bus pass provided",
        "delivery_and_staffing": "A qualified teacher and a mentor",
        "safeguarding": "DSL on site every day; all staff with enhanced DBS checks",
        "rate_type": RateType.DAY,
        "rate": Decimal("120.00"),
        "units_per_week": Decimal("5"),
        "total": Decimal("7200.00"),
    }
    values.update(fields)
    offer = Offer(**values)
    offer.aim_responses = [AimResponse(aim_id=aim.id, response=f"We will meet aim {aim.position}") for aim in referral.aims]
    db.session.add(offer)
    db.session.commit()
    return offer


@dataclass
class CallOff:
    """A published referral in a lot with two invited providers, each with a signed-in-able user."""

    officer: User
    lot: Lot
    referral: Referral
    providers: list[Provider]
    provider_users: list[User]


def published_call_off(*, providers: int = 2, now: datetime | None = None, days: int = 10) -> CallOff:
    lot = make_lot(1)
    officer = make_user("officer")
    made = [eligible_provider(lot, f"Offering provider {n}") for n in range(1, providers + 1)]
    users = [make_user("provider", provider=provider) for provider in made]
    referral = make_referral(officer, lot)
    publish(referral, officer, now=now, days=days)
    return CallOff(officer=officer, lot=lot, referral=referral, providers=made, provider_users=users)


def offer_fields(aim_ids, start: date) -> dict:
    """What a provider types into the offer form: an answer for each aim, a start date (day, month, year boxes) and a
    price whose total is right (120 a day x 5 days a week x 12 weeks)."""
    return {
        **{f"aim_{aim_id}": f"Daily mentoring for aim {n}" for n, aim_id in enumerate(aim_ids, start=1)},
        "start_date": [str(start.day), str(start.month), str(start.year)],
        "hours_per_week": "15",
        "sessions": "Monday to Friday, 9am to 12pm",
        "location": "Our Uxbridge site",
        "staffing_ratio": "1:2",
        "transport": "Travel training",
        "delivery_and_staffing": "A qualified teacher and a mentor",
        "safeguarding": "DSL on site every day",
        "rate_type": "day",
        "rate": "120",
        "units_per_week": "5",
        "total": "7200",
    }
