"""Provider organisations on the DPS: their profile, sites, admissions to lots, suspensions and compliance documents."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, str_enum, utcnow
from portal.models.vocabulary import Area, DeliveryMode, Need, OfstedGrade


class Provider(Base):
    """An organisation. The profile is what its latest application said; the manager decides on each application."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Organisation details.
    legal_name: Mapped[str] = mapped_column(sa.String(200), default="")
    company_number: Mapped[str] = mapped_column(sa.String(20), default="")
    charity_number: Mapped[str] = mapped_column(sa.String(20), default="")
    address: Mapped[str] = mapped_column(sa.Text, info={"max_length": 1_000}, default="")
    postcode: Mapped[str] = mapped_column(sa.String(10), default="")
    # None until the provider says: registered as an independent school (with Ofsted) or not.
    registered: Mapped[bool | None]
    ofsted_urn: Mapped[str] = mapped_column(sa.String(10), default="")
    ofsted_grade: Mapped[OfstedGrade | None] = mapped_column(str_enum(OfstedGrade))
    small_business: Mapped[bool] = mapped_column(default=False)
    voluntary_sector: Mapped[bool] = mapped_column(default=False)
    # The Designated Safeguarding Lead.
    dsl_name: Mapped[str] = mapped_column(sa.String(200), default="")
    dsl_role: Mapped[str] = mapped_column(sa.String(200), default="")
    dsl_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    dsl_email: Mapped[str] = mapped_column(sa.String(254), default="")
    # What it offers.
    summary: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    age_from: Mapped[int | None]
    age_to: Mapped[int | None]
    capacity: Mapped[int | None]
    # Optimistic locking: the profile is edited through the application's sections (which carry the application's
    # version); this one makes the database refuse a write over a profile changed since it was read.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    needs: Mapped[list[ProviderNeed]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    delivery_modes: Mapped[list[ProviderDeliveryMode]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    areas: Mapped[list[ProviderArea]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    sites: Mapped[list[Site]] = relationship(cascade="all, delete-orphan", order_by="Site.id", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}

    @property
    def need_codes(self) -> set[Need]:
        return {n.need for n in self.needs}

    @property
    def delivery_mode_codes(self) -> set[DeliveryMode]:
        return {m.mode for m in self.delivery_modes}

    @property
    def area_codes(self) -> set[Area]:
        return {a.area for a in self.areas}


class ProviderNeed(Base):
    __tablename__ = "provider_needs"

    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    need: Mapped[Need] = mapped_column(str_enum(Need), primary_key=True)


class ProviderDeliveryMode(Base):
    __tablename__ = "provider_delivery_modes"

    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[DeliveryMode] = mapped_column(str_enum(DeliveryMode), primary_key=True)


class ProviderArea(Base):
    __tablename__ = "provider_areas"

    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    area: Mapped[Area] = mapped_column(str_enum(Area), primary_key=True)


class Site(Base):
    """A place where children are taught."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.Text, info={"max_length": 1_000})
    postcode: Mapped[str] = mapped_column(sa.String(10))


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    DECIDED = "decided"


class LotOutcome(enum.StrEnum):
    PENDING = "pending"
    PASS = "pass"
    FAIL = "fail"


class Application(Base):
    """A provider's application to join one or more lots. Decided within 10 working days of submission."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    status: Mapped[ApplicationStatus] = mapped_column(str_enum(ApplicationStatus), default=ApplicationStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_due_on: Mapped[date | None]
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    rejection_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    # Optimistic locking: a decision or edit made on a stale page is refused, never silently applied.
    version: Mapped[int] = mapped_column(default=1)

    provider: Mapped[Provider] = relationship(lazy="joined")
    lots: Mapped[list[ApplicationLot]] = relationship(
        back_populates="application", cascade="all, delete-orphan", lazy="selectin", order_by="ApplicationLot.lot_id"
    )
    answers: Mapped[list[ApplicationAnswer]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}


class ApplicationLot(Base):
    """A lot applied for, and the manager's assessment of it."""

    __tablename__ = "application_lots"

    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"), primary_key=True)
    outcome: Mapped[LotOutcome] = mapped_column(str_enum(LotOutcome), default=LotOutcome.PENDING)
    notes: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")

    application: Mapped[Application] = relationship(back_populates="lots")
    lot: Mapped["Lot"] = relationship(lazy="joined")  # noqa: F821


class LotQuestion(Base):
    """A question every applicant for the lot answers. The manager keeps the list; retired questions stay for history."""

    __tablename__ = "lot_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(sa.Text, info={"max_length": 1_000})
    guidance: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApplicationAnswer(Base):
    __tablename__ = "application_answers"

    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("lot_questions.id"), primary_key=True, index=True)
    answer: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    assessor_note: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")

    question: Mapped[LotQuestion] = relationship(lazy="joined")


class Admission(Base):
    """A provider admitted to a lot, from a decided application, until removed."""

    __tablename__ = "admissions"
    __table_args__ = (sa.Index("ix_admissions_lot_provider", "lot_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"))
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    admitted_on: Mapped[date]
    removed_on: Mapped[date | None]
    removed_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")
    removed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Carried over to a successor arrangement: the admission in the old lot it came from. Such an admission counts for
    # eligibility only from the day the provider re-confirmed it (reconfirmed_on).
    carried_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admissions.id"), index=True)
    reconfirmed_on: Mapped[date | None]

    lot: Mapped["Lot"] = relationship(lazy="joined")  # noqa: F821


class Suspension(Base):
    """No new invitations for the provider (one lot, or all when lot_id is empty) between the dates."""

    __tablename__ = "suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lots.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000})
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    lift_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")

    lot: Mapped["Lot | None"] = relationship(lazy="joined")  # noqa: F821


class DocumentType(Base):
    """A kind of compliance document. Data, so a council can add one; whether a lot requires it is data too."""

    __tablename__ = "document_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    has_expiry: Mapped[bool] = mapped_column(default=False)
    # Only for providers registered with Ofsted (the Ofsted report).
    registered_only: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)


class LotDocumentRequirement(Base):
    """This document type is mandatory for providers in this lot."""

    __tablename__ = "lot_document_requirements"

    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"), primary_key=True)
    document_type_id: Mapped[int] = mapped_column(sa.ForeignKey("document_types.id"), primary_key=True)


class ComplianceDocument(Base):
    """An uploaded file, kept in the database with its SHA-256. The newest of a type is the current one."""

    __tablename__ = "compliance_documents"
    __table_args__ = (sa.Index("ix_compliance_documents_provider_type", "provider_id", "document_type_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"))
    document_type_id: Mapped[int] = mapped_column(sa.ForeignKey("document_types.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    # Deferred: lists never load the file itself.
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    expires_on: Mapped[date | None]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    document_type: Mapped[DocumentType] = relationship(lazy="joined")


class ExpiryReminder(Base):
    """A reminder sent for a document (30 or 7 days before expiry): kept so the daily check sends each once."""

    __tablename__ = "expiry_reminders"

    document_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_documents.id"), primary_key=True)
    days_before: Mapped[int] = mapped_column(primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
