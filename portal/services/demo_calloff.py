"""Demo data for the call-off: a draft referral, an open one with an offer and a decline, and one whose deadline has
passed with two offers to score and award. Fictional children. Idempotent: nothing is added once any referral exists.

Publishing goes through portal.services.referrals, so invitations go to exactly the eligible demo providers and their
emails are in the outbox, as in real use.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    Aim,
    AimResponse,
    Area,
    Child,
    ExclusionStatus,
    Gender,
    Invitation,
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
from portal.services.children import upn_check_letter
from portal.services.referrals import PublishTerms


def _upn(digits: str) -> str:
    return upn_check_letter("?" + digits) + digits


CHILDREN = [
    # first, last, date of birth, UPN digits, school, on roll, EHC plan, looked after, exclusion
    (
        "Riley",
        "Ashdown",
        date(2012, 5, 9),
        "301234567890",
        "Harlington Park School",
        OnRollStatus.HOME_SCHOOL,
        False,
        False,
        ExclusionStatus.AT_RISK,
    ),
    (
        "Jordan",
        "Beckett",
        date(2011, 1, 23),
        "301234567891",
        "Ruislip High School",
        OnRollStatus.HOME_SCHOOL,
        True,
        False,
        ExclusionStatus.NONE,
    ),
    (
        "Casey",
        "Okafor",
        date(2013, 10, 2),
        "301234567892",
        "",
        OnRollStatus.NOT_ON_ROLL,
        False,
        True,
        ExclusionStatus.PERMANENTLY_EXCLUDED,
    ),
]

AIMS = [
    (
        "Attend regularly",
        "Attends 35% of sessions",
        "Attends 90% of sessions for six weeks",
        "Weekly attendance returns",
    ),
    (
        "Manage anxiety in a group",
        "Leaves the room in most lessons",
        "Stays for a full session in a group of six",
        "Key worker's session log, reviewed each half term",
    ),
]


def _child(officer: User, row) -> Child:
    first, last, born, digits, school, on_roll, ehc, looked_after, exclusion = row
    child = Child(
        first_name=first,
        last_name=last,
        date_of_birth=born,
        upn=_upn(digits),
        gender=Gender.NOT_KNOWN,
        home_school=school,
        on_roll_status=on_roll,
        ehc_plan=ehc,
        looked_after=looked_after,
        exclusion_status=exclusion,
        created_by_id=officer.id,
        exclusion_date=date(2026, 11, 2) if exclusion is ExclusionStatus.PERMANENTLY_EXCLUDED else None,
    )
    db.session.add(child)
    return child


def _referral(officer: User, child: Child, lot: Lot, profile: str, needs: list[Need], area: Area) -> Referral:
    referral = Referral(
        child=child,
        service_id=officer.service_id,
        lot_id=lot.id,
        officer_id=officer.id,
        hours_per_week=Decimal("15.0"),
        sessions="Monday to Friday mornings",
        start_date=london_today() + timedelta(days=21),
        duration_weeks=12,
        location="Within 30 minutes of home by bus",
        travel_needs="Travels independently by bus",
        reintegration_criteria="Attends 90% of sessions for six weeks and manages a full morning in class",
        area=area,
        profile=profile,
    )
    referral.needs = [ReferralNeed(need=need) for need in needs]
    referral.aims = [
        Aim(position=n, description=d, baseline=b, target=t, measure=m) for n, (d, b, t, m) in enumerate(AIMS, start=1)
    ]
    db.session.add(referral)
    db.session.flush()
    return referral


def _publish(referral: Referral, officer: User, published: datetime) -> None:
    deadline = london_today(published) + timedelta(days=10)
    terms = PublishTerms(deadline_date=deadline, leaks_checked=True)
    referrals.publish(referral.id, officer, version=referral.version, terms=terms, now=published)
    db.session.flush()


def _offer(referral: Referral, provider: Provider, rate: str, days: int, ratio: str, at: datetime) -> None:
    user = db.session.scalar(sa.select(User).where(User.provider_id == provider.id))
    offer = Offer(
        referral_id=referral.id,
        round=referral.round,
        provider_id=provider.id,
        submitted_by_id=user.id,
        submitted_at=at,
        start_date=referral.start_date,
        hours_per_week=referral.hours_per_week,
        sessions="Monday to Friday, 9am to 12pm",
        location=f"{provider.name}, main site",
        staffing_ratio=ratio,
        transport="Travel training for the first fortnight",
        delivery_and_staffing="A qualified teacher and a key worker; small groups of up to six",
        safeguarding="DSL on site every day; staff hold enhanced DBS checks; daily attendance calls home",
        rate_type=RateType.DAY,
        rate=Decimal(rate),
        units_per_week=Decimal(days),
        total=Decimal(rate) * days * referral.duration_weeks,
    )
    offer.aim_responses = [
        AimResponse(aim_id=aim.id, response=f"Weekly targets agreed with the family for: {aim.description.lower()}")
        for aim in referral.aims
    ]
    db.session.add(offer)


def seed_calloff_demo(now: datetime) -> None:
    if db.session.scalar(sa.select(sa.exists().where(Referral.id.is_not(None)))):
        return
    officer = db.session.scalar(sa.select(User).where(User.email == "send.officer@council.example"))
    colleague = db.session.scalar(sa.select(User).where(User.email == "inclusion.officer@council.example"))
    lots = {lot.number: lot for lot in db.session.scalars(sa.select(Lot))}
    riley, jordan, casey = (_child(officer, row) for row in CHILDREN)
    db.session.flush()

    # Open for offers: one provider has offered, one has declined, one has not answered yet.
    open_referral = _referral(
        officer,
        riley,
        lots[2],
        "An anxious, articulate pupil who has missed most of this term; enjoys art and music.",
        [Need.ANXIETY_EBSA, Need.SEMH],
        Area.CENTRAL,
    )
    _publish(open_referral, officer, now - timedelta(days=2))
    invited = db.session.scalars(
        sa.select(Invitation).where(Invitation.referral_id == open_referral.id).order_by(Invitation.id)
    ).all()
    if invited:
        invited[0].viewed_at = now - timedelta(days=1, hours=2)
        _offer(open_referral, invited[0].provider, "118.00", 5, "1:4", now - timedelta(days=1))
    if len(invited) > 1:
        invited[1].viewed_at = now - timedelta(days=1, hours=1)
        invited[1].declined_at = now - timedelta(days=1)
        invited[1].decline_reason = "No places for this age group until the spring term."

    # The deadline has passed: offers to score and award.
    closed = _referral(
        officer,
        jordan,
        lots[3],
        "A pupil with an EHC plan for autism who finds large groups hard; loves computing.",
        [Need.AUTISM, Need.SLCN],
        Area.NORTH,
    )
    _publish(closed, officer, now - timedelta(days=12))
    for invitation, (rate, days, ratio) in zip(
        db.session.scalars(sa.select(Invitation).where(Invitation.referral_id == closed.id).order_by(Invitation.id)),
        [("135.00", 5, "1:2"), ("110.00", 5, "1:4")],
        strict=False,
    ):
        invitation.viewed_at = now - timedelta(days=11)
        _offer(closed, invitation.provider, rate, days, ratio, now - timedelta(days=10))

    # A draft another service is still writing.
    _referral(colleague, casey, lots[1], "", [Need.EXCLUSION], Area.SOUTH)
    db.session.flush()
