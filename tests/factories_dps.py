"""Data builders for the DPS side: provider profiles, compliance documents and lot requirements, admissions,
suspensions and submitted applications (the model factories and the lot builders are in tests/factories.py). Each
builder commits (a live server thread sees the rows) and must be called inside an app context. many_providers() uses
bulk INSERTs, so hundreds of providers take a fraction of a second."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta

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
    Need,
    OfstedGrade,
    Provider,
    ProviderArea,
    ProviderDeliveryMode,
    ProviderNeed,
    Site,
    Sla,
    SlaLot,
    Suspension,
)
from portal.services import slas
from portal.services.working_days import decision_due_on
from tests.factories import AdmissionFactory, LotQuestionFactory, ProviderFactory, SuspensionFactory
from tests.factories_slas import DAY_CAP, HOUR_CAP, SESSION_CAP, make_sla

TODAY = date(2026, 6, 15)
LONG_AGO = date(2025, 1, 6)
PDF_BYTES = b"%PDF-1.7\n% a tiny test file\n%%EOF\n"


def days(n: int) -> timedelta:
    return timedelta(days=n)


def document_type(code: str) -> DocumentType:
    """A document type the migrations put in every database (public-liability, safeguarding-policy, ofsted-report,
    ...)."""
    return db.session.scalar(sa.select(DocumentType).where(DocumentType.code == code))


def require(lot: Lot, *codes: str) -> None:
    """The lot requires documents of these types."""
    for code in codes:
        db.session.add(LotDocumentRequirement(lot_id=lot.id, document_type_id=document_type(code).id))
    db.session.commit()


def add_document(
    provider: Provider,
    code: str,
    expires_on: date | None = None,
    content: bytes = PDF_BYTES,
    filename: str = "policy.pdf",
    uploaded_at: datetime | None = None,
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
        uploaded_at=uploaded_at or datetime.now(UTC),
    )
    db.session.add(document)
    db.session.commit()
    return document


def upload(
    provider: Provider,
    code: str,
    *,
    expires_on: date | None = None,
    uploaded_at: datetime | None = None,
    filename: str | None = None,
) -> ComplianceDocument:
    """add_document(), the file named after its type unless given a name."""
    return add_document(provider, code, expires_on, filename=filename or f"{code}.pdf", uploaded_at=uploaded_at)


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


def admit(
    provider: Provider,
    lot: Lot,
    *,
    on: date = LONG_AGO,
    removed_on: date | None = None,
    application: Application | None = None,
    sla: bool = True,
) -> Admission:
    """The provider admitted to the lot ``on`` that day (from ``application`` if given), removed on ``removed_on``;
    with an SLA in force covering the lot from that day (the approved SLA gains the lot), unless ``sla=False``."""
    admission = AdmissionFactory(
        provider_id=provider.id,
        lot_id=lot.id,
        admitted_on=on,
        removed_on=removed_on,
        removed_reason="Removed in a test" if removed_on is not None else "",
        application_id=application.id if application else None,
    )
    if sla:
        sla_in_force(provider, lot, starts_on=on)
    return admission


def sla_in_force(provider: Provider, lot: Lot, *, starts_on: date = LONG_AGO) -> Sla:
    """The provider's approved SLA, covering the lot from ``starts_on`` at the latest: made (generous caps) if the
    provider has none, or given the lot (and an earlier start) if it has. Test data, written straight in."""
    found = slas.approved(provider.id)
    if found is None:
        return make_sla(provider, [lot], starts_on=starts_on)
    if lot.id not in found.lot_ids:
        found.lots.append(
            SlaLot(lot_id=lot.id, max_day_rate=DAY_CAP, max_session_rate=SESSION_CAP, max_hour_rate=HOUR_CAP)
        )
    found.starts_on = min(found.starts_on, starts_on)
    db.session.flush()
    db.session.refresh(found)
    found.checksum = slas.checksum(found)
    db.session.commit()
    return found


def suspend(
    provider: Provider,
    lot: Lot | None = None,
    *,
    starts_on: date,
    ends_on: date | None = None,
    lifted: bool = False,
    reason: str = "Concern under investigation",
) -> Suspension:
    """The provider suspended from the lot (from every lot without one), lifted already if ``lifted``."""
    return SuspensionFactory(
        provider_id=provider.id,
        lot_id=lot.id if lot else None,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        lifted_at=datetime.now(UTC) if lifted else None,
        lift_reason="Investigation closed" if lifted else "",
    )


def make_submitted_application(
    *,
    provider: Provider | None = None,
    lots: list[Lot],
    submitted_on: date = date(2026, 6, 1),
    questions_per_lot: int = 1,
    status: ApplicationStatus = ApplicationStatus.SUBMITTED,
) -> Application:
    """A submitted application for the lots, with ``questions_per_lot`` answered questions in each and the decision
    due 10 working days after ``submitted_on`` (as the provider's submission sets it)."""
    provider = provider or ProviderFactory()
    application = Application(
        provider_id=provider.id,
        status=status,
        submitted_at=datetime.combine(submitted_on, time(10, 0), tzinfo=UTC),
        decision_due_on=decision_due_on(submitted_on),
    )
    application.lots = [ApplicationLot(lot_id=lot.id) for lot in lots]
    db.session.add(application)
    db.session.flush()
    for lot in lots:
        for n in range(questions_per_lot):
            question = LotQuestionFactory(lot_id=lot.id, text=f"{lot.title} question {n + 1}")
            db.session.add(
                ApplicationAnswer(
                    application_id=application.id,
                    question_id=question.id,
                    answer=f"Our answer for {lot.title}, question {n + 1}",
                )
            )
    db.session.commit()
    return application


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
