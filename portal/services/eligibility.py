"""Who may be invited to a call-off. Nothing else in the portal decides eligibility: later issues extend this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Admission, ComplianceDocument, Lot, LotDocumentRequirement, Provider, Suspension


def _admitted(lot_id: int, on_date: date):
    return sa.exists().where(
        Admission.provider_id == Provider.id,
        Admission.lot_id == lot_id,
        Admission.admitted_on <= on_date,
        sa.or_(Admission.removed_on.is_(None), Admission.removed_on > on_date),
    )


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
    valid_document = sa.exists().where(
        ComplianceDocument.provider_id == Provider.id,
        ComplianceDocument.document_type_id == LotDocumentRequirement.document_type_id,
        sa.or_(ComplianceDocument.expires_on.is_(None), ComplianceDocument.expires_on >= on_date),
    )
    return sa.exists().where(LotDocumentRequirement.lot_id == lot_id, ~valid_document)


def eligible_providers(lot: Lot, on_date: date) -> list[Provider]:
    """Providers that may be invited to a call-off in the lot on the date: admitted, not suspended, compliant."""
    return list(
        db.session.scalars(
            sa.select(Provider)
            .where(
                _admitted(lot.id, on_date),
                ~_suspended(lot.id, on_date),
                ~_missing_mandatory_document(lot.id, on_date),
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

    @property
    def eligible(self) -> bool:
        return self.admitted and not self.suspended and self.compliant


def standing(provider: Provider, lot: Lot, on_date: date) -> LotStanding:
    """For one provider and lot: the same rules as eligible_providers, with the reasons spelled out."""
    from portal.models import DocumentType

    row = db.session.execute(
        sa.select(_admitted(lot.id, on_date), _suspended(lot.id, on_date)).select_from(Provider).where(
            Provider.id == provider.id
        )
    ).one()
    valid_types = sa.select(ComplianceDocument.document_type_id).where(
        ComplianceDocument.provider_id == provider.id,
        sa.or_(ComplianceDocument.expires_on.is_(None), ComplianceDocument.expires_on >= on_date),
    )
    missing = db.session.scalars(
        sa.select(DocumentType.name)
        .join(LotDocumentRequirement, LotDocumentRequirement.document_type_id == DocumentType.id)
        .where(LotDocumentRequirement.lot_id == lot.id, DocumentType.id.not_in(valid_types))
        .order_by(DocumentType.position)
    ).all()
    return LotStanding(
        lot=lot, admitted=bool(row[0]), suspended=bool(row[1]), compliant=not missing, missing_documents=list(missing)
    )
