"""Data builders for the AP directory, eligibility and compliance tests: lots, provider profiles, admissions,
suspensions and compliance documents. Each builder commits (a live server thread sees the rows) and must be called
inside an app context. many_providers() uses bulk INSERTs, so hundreds of providers take a fraction of a second."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Admission,
    Area,
    Arrangement,
    ComplianceDocument,
    DeliveryMode,
    DocumentType,
    Lot,
    LotDocumentRequirement,
    Need,
    Provider,
    ProviderArea,
    ProviderDeliveryMode,
    ProviderNeed,
    Regime,
    Site,
    Suspension,
)

TODAY = date(2026, 6, 15)
LONG_AGO = date(2025, 1, 6)
PDF = b"%PDF-1.4\n%%EOF\n"


def arrangement() -> Arrangement:
    found = db.session.scalar(sa.select(Arrangement).where(Arrangement.name == "Test DPS"))
    if found is None:
        found = Arrangement(
            name="Test DPS", regime=Regime.PCR2015_DPS, start_date=date(2024, 4, 1), end_date=date(2031, 3, 31)
        )
        db.session.add(found)
        db.session.commit()
    return found


def make_lot(number: int, title: str | None = None) -> Lot:
    lot = Lot(arrangement_id=arrangement().id, number=number, title=title or f"Test lot {number}")
    db.session.add(lot)
    db.session.commit()
    return lot


def document_type(code: str) -> DocumentType:
    """A document type the migrations put in (public-liability, safeguarding-policy, ofsted-report, ...)."""
    return db.session.scalar(sa.select(DocumentType).where(DocumentType.code == code))


def require(lot: Lot, *codes: str) -> None:
    for code in codes:
        db.session.add(LotDocumentRequirement(lot_id=lot.id, document_type_id=document_type(code).id))
    db.session.commit()


def make_provider(
    name: str,
    *,
    needs: tuple[Need, ...] = (),
    areas: tuple[Area, ...] = (),
    modes: tuple[DeliveryMode, ...] = (),
    registered: bool | None = False,
    ages: tuple[int | None, int | None] = (None, None),
    sites: tuple[tuple[str, str, str], ...] = (),
    **fields,
) -> Provider:
    provider = Provider(name=name, registered=registered, age_from=ages[0], age_to=ages[1], **fields)
    provider.needs = [ProviderNeed(need=need) for need in needs]
    provider.areas = [ProviderArea(area=area) for area in areas]
    provider.delivery_modes = [ProviderDeliveryMode(mode=mode) for mode in modes]
    provider.sites = [Site(name=site, address=address, postcode=postcode) for site, address, postcode in sites]
    db.session.add(provider)
    db.session.commit()
    return provider


def admit(provider: Provider, lot: Lot, *, on: date = LONG_AGO, removed_on: date | None = None) -> Admission:
    admission = Admission(provider_id=provider.id, lot_id=lot.id, admitted_on=on, removed_on=removed_on)
    if removed_on is not None:
        admission.removed_reason = "Removed in a test"
    db.session.add(admission)
    db.session.commit()
    return admission


def suspend(
    provider: Provider,
    lot: Lot | None = None,
    *,
    starts_on: date,
    ends_on: date | None = None,
    lifted: bool = False,
    reason: str = "Concern under investigation",
) -> Suspension:
    suspension = Suspension(
        provider_id=provider.id, lot_id=lot.id if lot else None, starts_on=starts_on, ends_on=ends_on, reason=reason
    )
    if lifted:
        suspension.lifted_at = datetime.now(UTC)
        suspension.lift_reason = "Investigation closed"
    db.session.add(suspension)
    db.session.commit()
    return suspension


def upload(
    provider: Provider,
    code: str,
    *,
    expires_on: date | None = None,
    uploaded_at: datetime | None = None,
    filename: str | None = None,
) -> ComplianceDocument:
    document = ComplianceDocument(
        provider_id=provider.id,
        document_type_id=document_type(code).id,
        filename=filename or f"{code}.pdf",
        content_type="application/pdf",
        size_bytes=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
        content=PDF,
        expires_on=expires_on,
        uploaded_at=uploaded_at or datetime.now(UTC),
    )
    db.session.add(document)
    db.session.commit()
    return document


def many_providers(count: int, lots: list[Lot] | list[int], *, prefix: str = "Bulk provider") -> list[int]:
    """``count`` admitted providers, each with two needs, two areas, two ways of teaching, a site and an admission to
    every lot given (every fifth suspended from the first lot), no documents: a handful of bulk INSERTs, whatever the
    count. Returns the providers' ids."""
    needs, areas, modes = list(Need), list(Area), list(DeliveryMode)
    lot_ids = [lot if isinstance(lot, int) else lot.id for lot in lots]
    db.session.execute(
        sa.insert(Provider),
        [
            {
                "name": f"{prefix} {number:04d}",
                "registered": number % 2 == 0,
                "age_from": 5 + number % 6,
                "age_to": 16 + number % 3,
                "summary": "Bulk",
            }
            for number in range(count)
        ],
    )
    ids = list(db.session.scalars(sa.select(Provider.id).where(Provider.name.startswith(prefix)).order_by(Provider.id)))
    db.session.execute(
        sa.insert(ProviderNeed),
        [{"provider_id": pid, "need": needs[(i + k) % len(needs)]} for i, pid in enumerate(ids) for k in (0, 1)],
    )
    db.session.execute(
        sa.insert(ProviderArea),
        [{"provider_id": pid, "area": areas[(i + k) % len(areas)]} for i, pid in enumerate(ids) for k in (0, 1)],
    )
    db.session.execute(
        sa.insert(ProviderDeliveryMode),
        [{"provider_id": pid, "mode": modes[(i + k) % len(modes)]} for i, pid in enumerate(ids) for k in (0, 1)],
    )
    db.session.execute(
        sa.insert(Site),
        [{"provider_id": pid, "name": "Main site", "address": "1 High St", "postcode": "UB8 1AA"} for pid in ids],
    )
    db.session.execute(
        sa.insert(Admission),
        [{"provider_id": pid, "lot_id": lot_id, "admitted_on": LONG_AGO} for pid in ids for lot_id in lot_ids],
    )
    if lot_ids:
        db.session.execute(
            sa.insert(Suspension),
            [
                {"provider_id": pid, "lot_id": lot_ids[0], "starts_on": LONG_AGO, "reason": "Bulk"}
                for i, pid in enumerate(ids)
                if i % 5 == 0
            ],
        )
    db.session.commit()
    return ids


def days(n: int) -> timedelta:
    return timedelta(days=n)
