"""Small factories for the DPS side (arrangement, lots, questions, documents, applications), kept apart from
tests/factories.py. Objects are committed, like every factory's."""

from __future__ import annotations

import hashlib
from datetime import date

import factory
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationStatus,
    Area,
    Arrangement,
    ComplianceDocument,
    DeliveryMode,
    DocumentType,
    Lot,
    LotDocumentRequirement,
    LotQuestion,
    Need,
    OfstedGrade,
    Provider,
    ProviderArea,
    ProviderDeliveryMode,
    ProviderNeed,
    Regime,
    Site,
)
from tests.factories import BaseFactory, ProviderFactory

PDF_BYTES = b"%PDF-1.7\n% a tiny test file\n%%EOF\n"


class ArrangementFactory(BaseFactory):
    class Meta:
        model = Arrangement

    name = factory.Sequence(lambda n: f"Arrangement {n}")
    regime = Regime.PCR2015_DPS
    start_date = date(2024, 4, 1)
    end_date = date(2031, 3, 31)


class LotFactory(BaseFactory):
    class Meta:
        model = Lot

    arrangement = factory.SubFactory(ArrangementFactory)
    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Lot title {n}")


class LotQuestionFactory(BaseFactory):
    class Meta:
        model = LotQuestion

    lot_id = None  # give the lot's id
    position = factory.Sequence(lambda n: n)
    text = factory.Sequence(lambda n: f"How would you meet need number {n}?")


class ApplicationFactory(BaseFactory):
    class Meta:
        model = Application

    provider = factory.SubFactory(ProviderFactory)
    status = ApplicationStatus.DRAFT


def document_type(code: str) -> DocumentType:
    """One of the document types the migration puts in every database."""
    return db.session.scalar(sa.select(DocumentType).where(DocumentType.code == code))


def require(lot: Lot, *codes: str) -> None:
    for code in codes:
        db.session.add(LotDocumentRequirement(lot_id=lot.id, document_type_id=document_type(code).id))
    db.session.commit()


def add_document(
    provider: Provider,
    code: str,
    expires_on: date | None = None,
    content: bytes = PDF_BYTES,
    filename: str = "policy.pdf",
) -> ComplianceDocument:
    document = ComplianceDocument(
        provider_id=provider.id,
        document_type_id=document_type(code).id,
        filename=filename,
        content_type="application/pdf",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        expires_on=expires_on,
    )
    db.session.add(document)
    db.session.commit()
    return document


def admit(
    provider: Provider, lot: Lot, on: date = date(2025, 1, 6), application: Application | None = None
) -> Admission:
    admission = Admission(
        provider_id=provider.id, lot_id=lot.id, admitted_on=on, application_id=application.id if application else None
    )
    db.session.add(admission)
    db.session.commit()
    return admission


def complete_profile(provider: Provider, *, on_site: bool = True) -> Provider:
    """Fill sections a to c (organisation, safeguarding lead, offer) with good answers."""
    provider.legal_name = f"{provider.name} Ltd"
    provider.company_number = "01234567"
    provider.address = "1 High Street\nUxbridge"
    provider.postcode = "UB8 1UW"
    provider.registered = True
    provider.ofsted_urn = "123456"
    provider.ofsted_grade = OfstedGrade.GOOD
    provider.dsl_name = "Dana Lead"
    provider.dsl_role = "Head of centre"
    provider.dsl_phone = "01895 250111"
    provider.dsl_email = "dsl@provider.example"
    provider.summary = "Small groups, outdoor learning and mentoring."
    provider.age_from, provider.age_to, provider.capacity = 11, 16, 12
    provider.needs = [ProviderNeed(need=Need.SEMH)]
    provider.areas = [ProviderArea(area=Area.CENTRAL)]
    provider.delivery_modes = [ProviderDeliveryMode(mode=DeliveryMode.ON_SITE if on_site else DeliveryMode.ONLINE)]
    if on_site:
        provider.sites = [Site(name="Main site", address="1 High Street, Uxbridge", postcode="UB8 1UW")]
    db.session.commit()
    return provider
