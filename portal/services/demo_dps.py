"""Demo data for joining the DPS: lot questions and required documents, provider profiles, and applications in each
state (draft, submitted, submitted and overdue, decided), with admissions, a suspension, an expiring and an expired
document. Idempotent: a provider that already has an application is left alone."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationAnswer,
    ApplicationLot,
    ApplicationStatus,
    Area,
    ComplianceDocument,
    DeliveryMode,
    DocumentType,
    Lot,
    LotDocumentRequirement,
    LotOutcome,
    LotQuestion,
    Need,
    OfstedGrade,
    Provider,
    ProviderArea,
    ProviderDeliveryMode,
    ProviderNeed,
    Site,
    Suspension,
)
from portal.models.base import utcnow
from portal.services.working_days import add_working_days, decision_due_on

QUESTIONS = [
    ("How will you meet the needs of children with social, emotional and mental health needs?", ""),
    ("How will you measure and report progress against each child's aims?", "Say how often and with what evidence."),
]
REQUIRED_FOR_EVERY_LOT = ["public-liability", "employers-liability", "safeguarding-policy", "safer-recruitment"]

# A one-page PDF, enough for a browser to open.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

# (provider index in demo.PROVIDERS, needs, areas, modes, registered, ages, lots admitted, state)
PROFILES = [
    (0, [Need.SEMH, Need.EXCLUSION], [Area.CENTRAL], [DeliveryMode.ON_SITE], True, (11, 16), [1, 2], "admitted"),
    (1, [Need.MEDICAL, Need.ANXIETY_EBSA], [Area.NORTH, Area.CENTRAL, Area.SOUTH], [DeliveryMode.HOME, DeliveryMode.ONLINE],
     False, (5, 18), [2, 3], "admitted"),
    (2, [Need.AUTISM, Need.SLCN], [Area.NORTH], [DeliveryMode.ON_SITE], True, (7, 16), [1], "suspended"),
    (3, [Need.SEMH, Need.ANXIETY_EBSA], [Area.SOUTH], [DeliveryMode.ON_SITE, DeliveryMode.COMMUNITY], False, (11, 16),
     [2, 3], "expiring"),
    (4, [Need.POST16, Need.LEARNING], [Area.SOUTH, Area.OUT_OF_BOROUGH], [DeliveryMode.ON_SITE], False, (16, 25), [4],
     "expired"),
    (5, [Need.EXCLUSION, Need.SEMH], [Area.CENTRAL], [DeliveryMode.COMMUNITY], False, (11, 16), [3], "submitted"),
    (6, [Need.SEMH], [Area.SOUTH], [DeliveryMode.ON_SITE], False, (11, 16), [2, 3], "overdue"),
    (7, [Need.POST16], [Area.SOUTH], [DeliveryMode.ON_SITE], False, (16, 25), [4], "draft"),
]


def _lots_by_number() -> dict[int, Lot]:
    return {lot.number: lot for lot in db.session.scalars(sa.select(Lot))}


def _seed_lot_rules(lots: dict[int, Lot]) -> None:
    types = {t.code: t for t in db.session.scalars(sa.select(DocumentType))}
    for lot in lots.values():
        if db.session.scalar(sa.select(sa.exists().where(LotQuestion.lot_id == lot.id))):
            continue
        for position, (text, guidance) in enumerate(QUESTIONS, start=1):
            db.session.add(LotQuestion(lot_id=lot.id, position=position, text=text, guidance=guidance))
        for code in REQUIRED_FOR_EVERY_LOT:
            db.session.add(LotDocumentRequirement(lot_id=lot.id, document_type_id=types[code].id))
    db.session.flush()


def _fill_profile(provider: Provider, number: int, needs, areas, modes, registered: bool, ages) -> None:
    provider.legal_name = f"{provider.name} Ltd"
    provider.company_number = f"0{7100000 + number}"
    provider.address = f"{number} High Street, Uxbridge"
    provider.postcode = "UB8 1AA"
    provider.registered = registered
    provider.ofsted_urn = f"14{number:04d}" if registered else ""
    provider.ofsted_grade = OfstedGrade.GOOD if registered else None
    provider.small_business = number % 2 == 0
    provider.voluntary_sector = number in (5, 6)
    provider.dsl_name, provider.dsl_role = f"Dana Lead {number}", "Designated Safeguarding Lead"
    provider.dsl_phone, provider.dsl_email = "01895 250000", f"dsl{number}@provider.example"
    provider.summary = "Small groups, a trusted key adult for each child, and a plan back to school from day one."
    provider.age_from, provider.age_to = ages
    provider.capacity = 12
    provider.needs = [ProviderNeed(need=need) for need in needs]
    provider.areas = [ProviderArea(area=area) for area in areas]
    provider.delivery_modes = [ProviderDeliveryMode(mode=mode) for mode in modes]
    provider.sites = [Site(name="Main site", address=provider.address, postcode=provider.postcode)]


def _add_documents(provider: Provider, today: date, state: str) -> None:
    for document_type in db.session.scalars(sa.select(DocumentType).order_by(DocumentType.position)):
        if document_type.registered_only and not provider.registered:
            continue
        expires_on = today + timedelta(days=300) if document_type.has_expiry else None
        if state == "expiring" and document_type.code == "public-liability":
            expires_on = today + timedelta(days=20)
        if state == "expired" and document_type.code == "safeguarding-policy":
            expires_on = today - timedelta(days=3)
        db.session.add(
            ComplianceDocument(
                provider_id=provider.id,
                document_type_id=document_type.id,
                filename=f"{document_type.code}.pdf",
                content_type="application/pdf",
                size_bytes=len(DEMO_PDF),
                sha256=hashlib.sha256(DEMO_PDF).hexdigest(),
                content=DEMO_PDF,
                expires_on=expires_on,
            )
        )


def _application(provider: Provider, lots: list[Lot], state: str, today: date) -> Application:
    application = Application(provider_id=provider.id)
    application.lots = [ApplicationLot(lot_id=lot.id) for lot in lots]
    questions = db.session.scalars(
        sa.select(LotQuestion).where(LotQuestion.lot_id.in_([lot.id for lot in lots]), LotQuestion.retired_at.is_(None))
    )
    application.answers = [
        ApplicationAnswer(question_id=question.id, answer="Each child has a key worker and a weekly plan.")
        for question in questions
    ]
    if state == "draft":
        return application
    submitted_on = today if state == "submitted" else add_working_days(today - timedelta(days=42), 0)
    application.status = ApplicationStatus.SUBMITTED
    application.submitted_at = utcnow() - timedelta(days=(today - submitted_on).days)
    application.decision_due_on = decision_due_on(submitted_on)
    if state in {"submitted", "overdue"}:
        return application
    application.status = ApplicationStatus.DECIDED
    application.decided_at = utcnow()
    for application_lot in application.lots:
        application_lot.outcome = LotOutcome.PASS
        application_lot.notes = "Meets the lot's requirements."
    return application


def seed_dps_demo(today: date) -> None:
    from portal.services.demo import PROVIDERS

    lots = _lots_by_number()
    _seed_lot_rules(lots)
    for index, needs, areas, modes, registered, ages, lot_numbers, state in PROFILES:
        provider = db.session.scalar(sa.select(Provider).where(Provider.name == PROVIDERS[index]))
        if db.session.scalar(sa.select(sa.exists().where(Application.provider_id == provider.id))):
            continue
        _fill_profile(provider, index + 1, needs, areas, modes, registered, ages)
        chosen = [lots[number] for number in lot_numbers]
        application = _application(provider, chosen, state, today)
        db.session.add(application)
        db.session.flush()
        if state in {"draft"}:
            continue
        _add_documents(provider, today, state)
        if application.status is ApplicationStatus.DECIDED:
            for lot in chosen:
                db.session.add(
                    Admission(provider_id=provider.id, lot_id=lot.id, application_id=application.id,
                              admitted_on=today - timedelta(days=60))
                )
        if state == "suspended":
            db.session.add(
                Suspension(provider_id=provider.id, lot_id=None, starts_on=today - timedelta(days=5),
                           ends_on=today + timedelta(days=25),
                           reason="Safeguarding concern under investigation by the LADO.")
            )
    db.session.flush()
