"""Who may be invited to a call-off. Nothing else in the portal decides eligibility: later issues extend this.

Eligible in a lot on a date: admitted to it, not suspended from it, holding every document it requires, and with a
service level agreement in force covering it (portal.services.slas.in_force: approved, started, not past the
arrangement's legal end, not terminated)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from portal.extensions import db
from portal.models import (
    Admission,
    ComplianceDocument,
    DocumentType,
    Lot,
    LotDocumentRequirement,
    Provider,
    Suspension,
)
from portal.services import slas


def _admitted(lot_id: int, on_date: date):
    return sa.exists().where(Admission.provider_id == Provider.id, Admission.lot_id == lot_id, admission_in_force(on_date))


def _suspended(lot_id: int, on_date: date):
    return sa.exists().where(
        Suspension.provider_id == Provider.id,
        sa.or_(Suspension.lot_id.is_(None), Suspension.lot_id == lot_id),
        Suspension.starts_on <= on_date,
        sa.or_(Suspension.ends_on.is_(None), Suspension.ends_on >= on_date),
        Suspension.lifted_at.is_(None),
    )


def _missing_mandatory_document(lot_id: int, on_date: date):
    """A document type the lot requires of which the provider has no document valid on the date."""
    # Correlated explicitly: auto-correlation reaches only the enclosing SELECT, and Provider is two levels up (left
    # to itself, SQLAlchemy put a second, unrelated `providers` in this FROM: any provider's document counted).
    valid_document = (
        sa.exists()
        .where(
            ComplianceDocument.provider_id == Provider.id,
            ComplianceDocument.document_type_id == LotDocumentRequirement.document_type_id,
            sa.or_(ComplianceDocument.expires_on.is_(None), ComplianceDocument.expires_on >= on_date),
        )
        .correlate(Provider, LotDocumentRequirement)
    )
    # A type only for registered schools (the Ofsted report) is not asked of an unregistered provider.
    applies_to_provider = sa.or_(
        Provider.registered.is_(True),
        ~sa.exists()
        .where(DocumentType.id == LotDocumentRequirement.document_type_id, DocumentType.registered_only.is_(True))
        .correlate(LotDocumentRequirement),
    )
    return sa.exists().where(LotDocumentRequirement.lot_id == lot_id, applies_to_provider, ~valid_document)


def eligible_providers(lot: Lot, on_date: date) -> list[Provider]:
    """Providers that may be invited to a call-off in the lot on the date: admitted, not suspended, compliant, with an
    SLA in force covering the lot."""
    return list(
        db.session.scalars(
            sa.select(Provider)
            .where(
                _admitted(lot.id, on_date),
                ~_suspended(lot.id, on_date),
                ~_missing_mandatory_document(lot.id, on_date),
                slas.in_force(Provider.id, lot.id, on_date),
            )
            .order_by(Provider.name)
        )
    )


@dataclass(frozen=True)
class LotStanding:
    """Where a provider stands in one lot on a date, and why."""

    lot: Lot
    admitted: bool
    suspended: bool
    compliant: bool
    missing_documents: list[str]
    sla_in_force: bool

    @property
    def eligible(self) -> bool:
        return self.admitted and not self.suspended and self.compliant and self.sla_in_force


def standing(provider: Provider, lot: Lot, on_date: date) -> LotStanding:
    """For one provider and lot: the same rules as eligible_providers, with the reasons spelled out."""
    row = db.session.execute(
        sa.select(
            _admitted(lot.id, on_date), _suspended(lot.id, on_date), slas.in_force(Provider.id, lot.id, on_date)
        )
        .select_from(Provider)
        .where(Provider.id == provider.id)
    ).one()
    valid_types = sa.select(ComplianceDocument.document_type_id).where(
        ComplianceDocument.provider_id == provider.id,
        sa.or_(ComplianceDocument.expires_on.is_(None), ComplianceDocument.expires_on >= on_date),
    )
    missing = db.session.scalars(
        sa.select(DocumentType.name)
        .join(LotDocumentRequirement, LotDocumentRequirement.document_type_id == DocumentType.id)
        .where(LotDocumentRequirement.lot_id == lot.id, DocumentType.id.not_in(valid_types))
        .where(sa.true() if provider.registered else DocumentType.registered_only.is_(False))
        .order_by(DocumentType.position)
    ).all()
    return LotStanding(
        lot=lot,
        admitted=bool(row[0]),
        suspended=bool(row[1]),
        compliant=not missing,
        missing_documents=list(missing),
        sla_in_force=bool(row[2]),
    )


# --- Many providers at once (the AP directory, the compliance check) ----------------------------------------------


def admission_in_force(on_date: date):
    """The condition on Admission for an admission in force on the date (the same dates as eligible_providers)."""
    return sa.and_(
        Admission.admitted_on <= on_date,
        sa.or_(Admission.removed_on.is_(None), Admission.removed_on > on_date),
        # Carried over to a successor arrangement: in force once the provider has re-confirmed (services/arrangements).
        sa.or_(Admission.carried_from_id.is_(None), Admission.reconfirmed_on <= on_date),
    )


@dataclass(frozen=True)
class AdmissionStanding:
    """One admission in force, with the same suspended / compliant / SLA verdicts as eligible_providers for its lot."""

    admission: Admission
    suspended: bool
    compliant: bool
    sla_in_force: bool

    @property
    def eligible(self) -> bool:
        return not self.suspended and self.compliant and self.sla_in_force


def admissions_in_force(provider_ids: Iterable[int], on_date: date) -> dict[int, list[AdmissionStanding]]:
    """The admissions in force on the date of each provider, by provider id, in lot order, with whether the provider
    is suspended from or non-compliant in that lot and whether an SLA in force covers it: one SELECT however many
    providers and lots (the lot is joined)."""
    ids = list(provider_ids)
    found: dict[int, list[AdmissionStanding]] = {provider_id: [] for provider_id in ids}
    if not ids:
        return found
    rows = db.session.execute(
        sa.select(
            Admission,
            _suspended(Admission.lot_id, on_date),
            _missing_mandatory_document(Admission.lot_id, on_date),
            slas.in_force(Admission.provider_id, Admission.lot_id, on_date),
        )
        .join(Provider, Provider.id == Admission.provider_id)
        .join(Admission.lot)
        .options(contains_eager(Admission.lot))
        .where(Admission.provider_id.in_(ids), admission_in_force(on_date))
        .order_by(Admission.provider_id, Lot.arrangement_id, Lot.number, Admission.admitted_on)
    ).all()
    for admission, suspended, missing, sla_in_force in rows:
        found[admission.provider_id].append(
            AdmissionStanding(
                admission=admission, suspended=bool(suspended), compliant=not missing, sla_in_force=bool(sla_in_force)
            )
        )
    return found
