"""Demo data for development: the Hillingdon DPS, its lots, the council services and one account of each kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from portal.clock import london_today
from portal.extensions import db
from portal.models import Arrangement, CouncilService, Lot, Provider, Regime, Role, User
from portal.models.base import utcnow
from portal.services import demo_oversight, demo_placements, demo_sla
from portal.services.accounts import create_user
from portal.services.demo_calloff import seed_calloff_demo
from portal.services.demo_dps import seed_dps_demo

ARRANGEMENT = ("Hillingdon Alternative Provision DPS", Regime.PCR2015_DPS, date(2024, 4, 1), date(2031, 3, 31))
LOTS = [
    (1, "Full Time Education Provision"),
    (2, "Part Time Education Provision"),
    (3, "Bespoke Provision"),
    (4, "Support for post-16 Education and Preparation for Adulthood"),
]
SERVICES = [
    "SEND",
    "Inclusion",
    "Virtual School",
    "Medical Needs",
    "Children Missing Education",
    "Post-16",
]
PROVIDERS = [
    "Brookfield Learning Centre",
    "Colne Valley Tutors",
    "Harefield Horizons Academy",
    "Pinewood Therapeutic Education",
    "Ruislip Vocational Skills",
    "Uxbridge Youth Trust",
    "West Drayton Outdoor Learning",
    "Yiewsley Preparation for Adulthood",
]
# Known passwords are for a developer's laptop only: seeding refuses to run outside development unless forced.
DEMO_PASSWORD = "demo-password-2026"
# Managers and providers must use two-factor: demo accounts share this secret (`flask seed code` prints a code).
DEMO_TOTP_SECRET = "DEMOAPPORTALDEMOAPPORTAL"


@dataclass(frozen=True)
class DemoSignIn:
    role: Role
    email: str
    organisation: str


def _demo_users() -> list[tuple[str, str, Role, str | None, str | None]]:
    users = [("manager@council.example", "Morgan Manager", Role.MANAGER, None, None)]
    for email, name, service in [
        ("send.officer@council.example", "Sam Send", "SEND"),
        ("inclusion.officer@council.example", "Ira Inclusion", "Inclusion"),
        ("virtual.school@council.example", "Val Virtual", "Virtual School"),
    ]:
        users.append((email, name, Role.OFFICER, service, None))
    for number, provider in enumerate(PROVIDERS, start=1):
        users.append((f"provider{number}@provider.example", f"Provider User {number}", Role.PROVIDER, None, provider))
    return users


def _get_or_create(model, lookup: dict, **values):
    instance = db.session.scalar(sa.select(model).filter_by(**lookup))
    if instance is None:
        instance = model(**lookup, **values)
        db.session.add(instance)
        db.session.flush()
    return instance


def seed_demo(*, full_year: bool = False) -> list[DemoSignIn]:
    """Create whatever of the demo is missing; running it twice changes nothing. ``full_year`` adds an academic
    year of history for the oversight dashboard (portal.services.demo_oversight)."""
    name, regime, start, end = ARRANGEMENT
    arrangement = _get_or_create(Arrangement, {"name": name}, regime=regime, start_date=start, end_date=end)
    for number, title in LOTS:
        _get_or_create(Lot, {"arrangement_id": arrangement.id, "number": number}, title=title)
    for service in SERVICES:
        _get_or_create(CouncilService, {"name": service})
    for provider in PROVIDERS:
        _get_or_create(Provider, {"name": provider})

    sign_ins = []
    for email, person, role, service, provider in _demo_users():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = create_user(
                email=email,
                name=person,
                role=role,
                password=DEMO_PASSWORD,
                service_name=service,
                provider_name=provider,
            )
            if user.two_factor_required:
                user.totp_secret = DEMO_TOTP_SECRET
                user.totp_enabled_at = utcnow()
        sign_ins.append(DemoSignIn(role=role, email=email, organisation=user.organisation_name))
    seed_dps_demo(london_today())
    db.session.flush()
    demo_sla.seed(utcnow())  # before the call-off demo: invitations go only to providers with an SLA in force
    seed_calloff_demo(utcnow())
    db.session.flush()
    demo_placements.seed(utcnow())
    if full_year:
        db.session.flush()
        demo_oversight.seed(utcnow())
    db.session.commit()
    return sign_ins
