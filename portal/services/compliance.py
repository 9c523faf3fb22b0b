"""Staying compliant: the current document of each type, and the daily check that reminds providers before a
document expires and tells the manager when a mandatory one has.

A provider's current document of a type is its newest (the last uploaded): uploading a new one replaces it, so
reminders about the old one stop. Whether an expired document makes a provider non-compliant in a lot is decided by
portal.services.eligibility alone; this module only tells people.

`flask compliance check` runs check() once a day. Each reminder is recorded as an ExpiryReminder (document, days
before expiry: 30, 7, or 0 for "has expired") in the same transaction as its emails, so a second run the same day, or
the next day, sends nothing again; two runs at once cannot both send one (the row's primary key refuses the second).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.formatting import long_date
from portal.models import (
    Admission,
    ComplianceDocument,
    ExpiryReminder,
    Lot,
    LotDocumentRequirement,
    Provider,
)
from portal.services import eligibility
from portal.services.mail import managers, notify, provider_users

FIRST_REMINDER_DAYS = 30
LAST_REMINDER_DAYS = 7
EXPIRED_NOTICE = 0  # ExpiryReminder.days_before for "the manager was told it has expired"


def is_current_document():
    """The condition on ComplianceDocument for the provider's newest document of its type: no later upload (a higher
    id, as portal.services.documents counts it) of the same type."""
    newer = aliased(ComplianceDocument)
    return ~sa.exists().where(
        newer.provider_id == ComplianceDocument.provider_id,
        newer.document_type_id == ComplianceDocument.document_type_id,
        newer.id > ComplianceDocument.id,
    )


@dataclass(frozen=True)
class DocumentStatus:
    """A current document and how it stands on a date."""

    document: ComplianceDocument
    on_date: date

    @property
    def days_left(self) -> int | None:
        expires_on = self.document.expires_on
        return None if expires_on is None else (expires_on - self.on_date).days

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def expiring(self) -> bool:
        return self.days_left is not None and 0 <= self.days_left <= FIRST_REMINDER_DAYS

    @property
    def label(self) -> str:
        days = self.days_left
        if days is None:
            return "Valid"
        if days < 0:
            return "Expired"
        if days == 0:
            return "Expires today"
        if days <= FIRST_REMINDER_DAYS:
            return f"Expires in {days} day{'s' if days != 1 else ''}"
        return "Valid"


def current_documents(provider_id: int, *, on_date: date) -> list[DocumentStatus]:
    """The provider's current document of each type, in the document types' order (one SELECT; the file itself is
    never loaded)."""
    from portal.models import DocumentType

    documents = db.session.scalars(
        sa.select(ComplianceDocument)
        .join(DocumentType, DocumentType.id == ComplianceDocument.document_type_id)
        .where(ComplianceDocument.provider_id == provider_id, is_current_document())
        .order_by(DocumentType.position, DocumentType.id)
    )
    return [DocumentStatus(document=document, on_date=on_date) for document in documents]


# ---- The daily check ---------------------------------------------------------------------------------------------


@dataclass
class CheckReport:
    on_date: date
    first_reminders: int = 0
    last_reminders: int = 0
    expired_notices: int = 0

    @property
    def summary(self) -> str:
        return (
            f"compliance check for {self.on_date.isoformat()}: "
            f"{self.first_reminders} reminder{'s' if self.first_reminders != 1 else ''} {FIRST_REMINDER_DAYS} days "
            f"before expiry, {self.last_reminders} {LAST_REMINDER_DAYS} days before, "
            f"{self.expired_notices} expired mandatory document{'s' if self.expired_notices != 1 else ''} reported"
        )


def _portal_link(path: str) -> str:
    return f"{current_app.config['BASE_URL']}{path}"


def _reminders_due(on_date: date) -> list[tuple[ComplianceDocument, int]]:
    """Current documents that expire within 30 days (today included), with the reminder each is due: the 7-day one
    inside 7 days (a document that arrives there without a 30-day reminder gets only this one), else the 30-day one;
    none if that reminder was sent already."""
    documents = db.session.scalars(
        sa.select(ComplianceDocument)
        .where(
            is_current_document(),
            ComplianceDocument.expires_on >= on_date,
            ComplianceDocument.expires_on <= on_date + timedelta(days=FIRST_REMINDER_DAYS),
        )
        .order_by(ComplianceDocument.expires_on, ComplianceDocument.id)
    ).all()
    sent = set(
        db.session.execute(
            sa.select(ExpiryReminder.document_id, ExpiryReminder.days_before).where(
                ExpiryReminder.document_id.in_([document.id for document in documents])
            )
        ).all()
    )
    due = []
    for document in documents:
        days_left = (document.expires_on - on_date).days
        reminder = LAST_REMINDER_DAYS if days_left <= LAST_REMINDER_DAYS else FIRST_REMINDER_DAYS
        if (document.id, reminder) not in sent and (document.id, LAST_REMINDER_DAYS) not in sent:
            due.append((document, reminder))
    return due


def _expired_mandatory(on_date: date) -> list[tuple[ComplianceDocument, list[Lot]]]:
    """Current documents that have expired, of a type a lot requires of which the provider has no valid document,
    where the provider is admitted to that lot today and the manager has not been told; with the lots concerned."""
    valid = aliased(ComplianceDocument)
    rows = db.session.execute(
        sa.select(ComplianceDocument, Lot)
        .join(Admission, Admission.provider_id == ComplianceDocument.provider_id)
        .join(Lot, Lot.id == Admission.lot_id)
        .join(
            LotDocumentRequirement,
            sa.and_(
                LotDocumentRequirement.lot_id == Admission.lot_id,
                LotDocumentRequirement.document_type_id == ComplianceDocument.document_type_id,
            ),
        )
        .where(
            is_current_document(),
            ComplianceDocument.expires_on < on_date,
            eligibility.admission_in_force(on_date),
            ~sa.exists().where(
                valid.provider_id == ComplianceDocument.provider_id,
                valid.document_type_id == ComplianceDocument.document_type_id,
                sa.or_(valid.expires_on.is_(None), valid.expires_on >= on_date),
            ),
            ~sa.exists().where(
                ExpiryReminder.document_id == ComplianceDocument.id, ExpiryReminder.days_before == EXPIRED_NOTICE
            ),
        )
        .order_by(ComplianceDocument.id, Lot.arrangement_id, Lot.number)
    ).all()
    lots_of: dict[int, list[Lot]] = defaultdict(list)
    documents: dict[int, ComplianceDocument] = {}
    for document, lot in rows:
        documents[document.id] = document
        if lot not in lots_of[document.id]:
            lots_of[document.id].append(lot)
    return [(document, lots_of[document_id]) for document_id, document in documents.items()]


def _record_and_commit(document_id: int, days_before: int) -> bool:
    """Record the reminder with the mail already in the session and commit them together. False (and nothing sent)
    if another run recorded it first."""
    db.session.add(ExpiryReminder(document_id=document_id, days_before=days_before))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _send_reminder(document: ComplianceDocument, provider: Provider, days_before: int, on_date: date) -> bool:
    recipients = provider_users([provider.id])
    if not recipients:
        return False  # no one to tell yet: a user invited later still gets the reminder that is due then
    type_name = document.document_type.name
    days_left = (document.expires_on - on_date).days
    when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
    subject = f"Your {type_name.lower()} expires on {long_date(document.expires_on)}"
    body = (
        f"{provider.name}'s {type_name.lower()} ({document.filename}) expires on {long_date(document.expires_on)}, "
        f"{when}.\n\n"
        "Upload the new one before then. While a document a lot requires has expired, you are not invited to that "
        "lot's opportunities.\n\n"
        f"Sign in to upload it: {_portal_link('/provider/')}"
    )
    for user in recipients:
        notify(user, subject, body)
    return _record_and_commit(document.id, days_before)


def _send_expired_notice(document: ComplianceDocument, provider: Provider, lots: list[Lot]) -> bool:
    recipients = managers()
    if not recipients:
        return False
    type_name = document.document_type.name
    lot_names = "; ".join(lot.label for lot in lots)
    subject = f"{provider.name}: {type_name.lower()} has expired"
    body = (
        f"{provider.name}'s {type_name.lower()} expired on {long_date(document.expires_on)} and they have not "
        f"uploaded a new one.\n\nThe document is mandatory in {lot_names}: until a new one is uploaded the provider "
        "is not compliant there and is not invited to call-offs in those lots.\n\n"
        f"See the provider: {_portal_link(f'/directory/{provider.id}')}"
    )
    for manager in recipients:
        notify(manager, subject, body)
    provider_subject = f"Your {type_name.lower()} has expired"
    provider_body = (
        f"{provider.name}'s {type_name.lower()} expired on {long_date(document.expires_on)}. Until you upload a new "
        f"one you are not invited to opportunities in {lot_names}.\n\n"
        f"Sign in to upload it: {_portal_link('/provider/')}"
    )
    for user in provider_users([provider.id]):
        notify(user, provider_subject, provider_body)
    return _record_and_commit(document.id, EXPIRED_NOTICE)


def check(on_date: date) -> CheckReport:
    """Send the reminders and expiry notices due on the date. Idempotent: each is sent once, ever. Commits after
    each document, so a run that stops half way keeps what it sent, and the next run sends the rest."""
    report = CheckReport(on_date=on_date)
    due = [(document.id, document.provider_id, days) for document, days in _reminders_due(on_date)]
    expired = [
        (document.id, document.provider_id, [lot.id for lot in lots]) for document, lots in _expired_mandatory(on_date)
    ]
    for document_id, provider_id, days in due:
        document = db.session.get(ComplianceDocument, document_id)
        if _send_reminder(document, db.session.get(Provider, provider_id), days, on_date):
            if days == FIRST_REMINDER_DAYS:
                report.first_reminders += 1
            else:
                report.last_reminders += 1
    for document_id, provider_id, lot_ids in expired:
        document = db.session.get(ComplianceDocument, document_id)
        lots = [db.session.get(Lot, lot_id) for lot_id in lot_ids]
        if _send_expired_notice(document, db.session.get(Provider, provider_id), lots):
            report.expired_notices += 1
    db.session.commit()
    return report
