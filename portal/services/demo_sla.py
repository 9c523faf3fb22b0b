"""Demo data for service level agreements: version 1 of the terms, and an SLA for each admitted demo provider, in
every state the workflow has: approved and in force (with a superseded version before one of them), a variation in
draft, a variation sent to the provider, a variation accepted and waiting for the manager's approval, a first SLA still
in draft, and a terminated one.

The providers invited to the call-off demo (Brookfield, Colne Valley and Pinewood) have SLAs in force for their lots,
with caps above the demo's offers and placements, so the call-off demo still invites them. Expiring within 90 days
cannot be shown: the demo DPS ends on 23 February 2029 (its legal end), and the flag is demonstrated by tests only.

Idempotent: terms are written only when there are none, and a provider that has any SLA is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    Admission,
    Provider,
    Role,
    Sla,
    SlaComment,
    SlaKpi,
    SlaLot,
    SlaStatus,
    SlaTemplate,
    User,
)
from portal.services import sla_terms, slas

# The most a provider may charge in each lot (day, session, hour): above every offer and placement in the demo.
CAPS: dict[int, tuple[str, str, str]] = {
    1: ("300.00", "150.00", "50.00"),
    2: ("280.00", "140.00", "45.00"),
    3: ("320.00", "160.00", "55.00"),
    4: ("250.00", "125.00", "40.00"),
}
MANAGER_EMAIL = "manager@council.example"


@dataclass(frozen=True)
class DemoSla:
    """What one demo provider's SLA history looks like."""

    provider: str
    # The state of the version after the approved one (a variation), or of the only version.
    shape: str


PLANS = [
    DemoSla("Brookfield Learning Centre", "variation draft"),
    DemoSla("Colne Valley Tutors", "variation accepted"),
    DemoSla("Pinewood Therapeutic Education", "variation sent"),
    DemoSla("Harefield Horizons Academy", "terminated"),
    DemoSla("Ruislip Vocational Skills", "first draft"),
]


def seed_terms(manager: User | None, now: datetime) -> SlaTemplate | None:
    """Version 1 of the terms (the six standard sections), unless there are terms already."""
    found = slas.current_template()
    if found is not None or manager is None:
        return found
    return sla_terms.new_version(manager, now=now)


def _caps(lot_number: int, raise_by: Decimal = Decimal("0")) -> dict[str, Decimal]:
    day, session, hour = (Decimal(value) for value in CAPS.get(lot_number, CAPS[1]))
    return {
        "max_day_rate": day + raise_by * 2,
        "max_session_rate": session + raise_by,
        "max_hour_rate": hour + raise_by / 4,
    }


class _Builder:
    def __init__(self, provider: Provider, lots: list, template: SlaTemplate, manager: User | None, now: datetime):
        self.provider, self.lots, self.template, self.manager, self.now = provider, lots, template, manager, now
        self.signer = db.session.scalar(
            sa.select(User).where(User.provider_id == provider.id, User.role == Role.PROVIDER).order_by(User.id)
        )
        self.number = 0

    def version(
        self,
        status: SlaStatus,
        *,
        starts_on: date,
        days_ago: int,
        previous: Sla | None = None,
        raise_by: Decimal = Decimal("0"),
    ) -> Sla:
        """A version written as the workflow leaves it in ``status``, its steps ``days_ago`` days back."""
        self.number += 1
        at = self.now - timedelta(days=days_ago)
        manager_id = self.manager.id if self.manager else None
        sla = Sla(
            provider_id=self.provider.id,
            number=self.number,
            previous_id=previous.id if previous else None,
            template_id=self.template.id,
            arrangement_id=self.lots[0].arrangement_id,
            status=status,
            starts_on=starts_on,
            created_at=at,
            created_by_id=manager_id,
        )
        sla.lots = [SlaLot(lot_id=lot.id, **_caps(lot.number, raise_by)) for lot in self.lots]
        sla.kpis = [SlaKpi(kind=kind, target=target) for kind, target in slas.DEFAULT_KPIS.items()]
        if status is not SlaStatus.DRAFT:
            sla.sent_at, sla.sent_by_id = at + timedelta(hours=1), manager_id
        if status not in {SlaStatus.DRAFT, SlaStatus.SENT}:
            sla.accepted_at = at + timedelta(days=1)
            sla.accepted_by_id = self.signer.id if self.signer else None
            sla.accepted_ip = "192.0.2.10"
            sla.signatory_name, sla.signatory_role = f"{self.provider.dsl_name or 'Alex Director'}", "Director"
        if status in {SlaStatus.APPROVED, SlaStatus.SUPERSEDED, SlaStatus.TERMINATED}:
            sla.approved_at, sla.approved_by_id = at + timedelta(days=2), manager_id
        db.session.add(sla)
        db.session.flush()
        if status is not SlaStatus.DRAFT:
            db.session.refresh(sla)  # the lots' Lot rows, for the checksum of what was sent
            sla.checksum = slas.checksum(sla)
        return sla


def _admitted(provider_id: int, today: date) -> tuple[list, date | None]:
    admissions = db.session.scalars(
        sa.select(Admission)
        .where(
            Admission.provider_id == provider_id,
            Admission.admitted_on <= today,
            sa.or_(Admission.removed_on.is_(None), Admission.removed_on > today),
        )
        .order_by(Admission.lot_id)
    ).all()
    lots = [admission.lot for admission in admissions]
    return lots, min((admission.admitted_on for admission in admissions), default=None)


def _seed_provider(plan: DemoSla, build: _Builder, starts_on: date, today: date) -> None:
    if plan.shape == "first draft":
        build.version(SlaStatus.DRAFT, starts_on=starts_on, days_ago=2)
        return
    if plan.shape == "terminated":
        sla = build.version(SlaStatus.TERMINATED, starts_on=starts_on, days_ago=55)
        sla.terminated_on = today - timedelta(days=5)
        sla.terminated_at = build.now - timedelta(days=6)
        sla.terminated_by_id = build.manager.id if build.manager else None
        sla.termination_reason = (
            "Serious safeguarding concern under investigation by the LADO; the provider is suspended from every lot."
        )
        return
    if plan.shape == "variation accepted":
        # A variation approved earlier (the first version superseded), then a second one awaiting approval.
        first = build.version(SlaStatus.SUPERSEDED, starts_on=starts_on, days_ago=56)
        first.superseded_at = build.now - timedelta(days=18)
        approved = build.version(
            SlaStatus.APPROVED, starts_on=starts_on, days_ago=20, previous=first, raise_by=Decimal("5.00")
        )
        build.version(SlaStatus.ACCEPTED, starts_on=starts_on, days_ago=3, previous=approved, raise_by=Decimal("10.00"))
        return
    approved = build.version(SlaStatus.APPROVED, starts_on=starts_on, days_ago=56)
    if plan.shape == "variation sent":
        build.version(SlaStatus.SENT, starts_on=starts_on, days_ago=4, previous=approved, raise_by=Decimal("5.00"))
    elif plan.shape == "variation draft":
        variation = build.version(
            SlaStatus.DRAFT, starts_on=starts_on, days_ago=1, previous=approved, raise_by=Decimal("10.00")
        )
        if build.manager is not None and build.signer is not None:
            # It went to the provider once and came back with a comment.
            variation.comments = [
                SlaComment(
                    by_id=build.signer.id,
                    at=build.now - timedelta(hours=20),
                    returned_from=SlaStatus.SENT,
                    comment="Our session rate for Lot 2 should include the cost of the practical materials.",
                )
            ]


def seed(now: datetime) -> None:
    """The demo's terms and SLAs (see the module's docstring). Run after the DPS demo (it needs the admissions) and
    before the call-off demo (invitations need SLAs in force)."""
    today = london_today(now)
    manager = db.session.scalar(sa.select(User).where(User.email == MANAGER_EMAIL))
    template = seed_terms(manager, now)
    if template is None:
        return
    providers = {
        p.name: p for p in db.session.scalars(sa.select(Provider).where(Provider.name.in_([p.provider for p in PLANS])))
    }
    for plan in PLANS:
        provider = providers.get(plan.provider)
        if provider is None or db.session.scalar(sa.select(sa.exists().where(Sla.provider_id == provider.id))):
            continue
        lots, starts_on = _admitted(provider.id, today)
        if not lots or starts_on is None:
            continue
        _seed_provider(plan, _Builder(provider, lots, template, manager, now), starts_on, today)
    db.session.flush()
