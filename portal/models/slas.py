"""Service level agreements: the manager's versioned terms (templates), and each provider's SLA for the rest of the
arrangement's term, with its lots, maximum rates and KPIs, through draft, sent, accepted and approved.

A provider's SLA is a chain of versions: version 1 from its first admission; a variation (new rates, added lots) is a
new version that goes through the same steps and, once approved, supersedes the one before, which stays as it was
(its checksum, taken when it was sent, proves it).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, str_enum, utcnow
from portal.models.referrals import MONEY


class SlaTemplate(Base):
    """A version of the SLA terms. Immutable once any SLA uses it (portal.services.sla_templates)."""

    __tablename__ = "sla_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    sections: Mapped[list[SlaTemplateSection]] = relationship(
        cascade="all, delete-orphan", order_by="SlaTemplateSection.position", lazy="selectin"
    )


class SlaTemplateSection(Base):
    """One section of the terms, in Markdown (rendered without raw HTML)."""

    __tablename__ = "sla_template_sections"
    __table_args__ = (sa.UniqueConstraint("template_id", "position", name="uq_sla_template_sections_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("sla_templates.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    heading: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, info={"max_length": 20_000})


class SlaStatus(enum.StrEnum):
    """What is stored. An approved SLA is shown as approved (not started), active, or expired, by its dates
    (portal.services.slas.display_status)."""

    DRAFT = "draft"
    SENT = "sent to provider"
    ACCEPTED = "accepted by provider"
    APPROVED = "approved"
    SUPERSEDED = "superseded"
    TERMINATED = "terminated"


class KpiKind(enum.StrEnum):
    ATTENDANCE_SAME_DAY = "attendance recorded the same day"
    REPORTS_ON_TIME = "progress reports on time"
    ATTENDANCE_RATE = "attendance rate"
    PROGRESS = "aims on or ahead of target"


class Sla(Base):
    """One version of a provider's SLA."""

    __tablename__ = "slas"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "number", name="uq_slas_provider_number"),
        # One version being worked on (draft, sent or accepted) per provider at a time.
        sa.Index(
            "uq_slas_one_in_progress",
            "provider_id",
            unique=True,
            sqlite_where=sa.text("status IN ('draft', 'sent to provider', 'accepted by provider')"),
            postgresql_where=sa.text("status IN ('draft', 'sent to provider', 'accepted by provider')"),
        ),
        # One approved (in force) version per provider at a time.
        sa.Index(
            "uq_slas_one_approved",
            "provider_id",
            unique=True,
            sqlite_where=sa.text("status = 'approved'"),
            postgresql_where=sa.text("status = 'approved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    # 1, 2, 3 ...: each variation is the next number.
    number: Mapped[int]
    # The version this one varies (None for the first).
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("slas.id"), index=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("sla_templates.id"), index=True)
    arrangement_id: Mapped[int] = mapped_column(sa.ForeignKey("arrangements.id"), index=True)
    status: Mapped[SlaStatus] = mapped_column(str_enum(SlaStatus), default=SlaStatus.DRAFT, index=True)
    # The term starts on admission; it ends on the arrangement's legal end date, read from the arrangement (so it
    # moves when the arrangement's end moves) unless terminated earlier.
    starts_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # SHA-256 of the SLA as sent (terms, lots, rates, KPIs, term): what the provider accepts, and proof that a
    # version never changes after.
    checksum: Mapped[str] = mapped_column(sa.String(64), default="")
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    accepted_ip: Mapped[str] = mapped_column(sa.String(45), default="")
    signatory_name: Mapped[str] = mapped_column(sa.String(200), default="")
    signatory_role: Mapped[str] = mapped_column(sa.String(200), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_on: Mapped[date | None]
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    termination_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")

    __mapper_args__ = {"version_id_col": version}

    provider = relationship("Provider")
    template: Mapped[SlaTemplate] = relationship()
    arrangement = relationship("Arrangement")
    lots: Mapped[list[SlaLot]] = relationship(cascade="all, delete-orphan", lazy="selectin", order_by="SlaLot.lot_id")
    kpis: Mapped[list[SlaKpi]] = relationship(cascade="all, delete-orphan", lazy="selectin", order_by="SlaKpi.kind")
    comments: Mapped[list[SlaComment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SlaComment.id"
    )

    @property
    def lot_ids(self) -> set[int]:
        return {lot.lot_id for lot in self.lots}


class SlaLot(Base):
    """A lot the SLA covers, with the most the provider may charge in it (per day, session and hour)."""

    __tablename__ = "sla_lots"
    __table_args__ = (
        sa.CheckConstraint(
            "(max_day_rate IS NULL OR max_day_rate > 0) AND (max_session_rate IS NULL OR max_session_rate > 0) "
            "AND (max_hour_rate IS NULL OR max_hour_rate > 0)",
            name="rates_positive",
        ),
    )

    sla_id: Mapped[int] = mapped_column(sa.ForeignKey("slas.id", ondelete="CASCADE"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"), primary_key=True)
    # Empty while a draft is being written; sending needs all three.
    max_day_rate: Mapped[Decimal | None] = mapped_column(MONEY)
    max_session_rate: Mapped[Decimal | None] = mapped_column(MONEY)
    max_hour_rate: Mapped[Decimal | None] = mapped_column(MONEY)

    lot = relationship("Lot", lazy="joined")


class SlaKpi(Base):
    """A KPI and its target, as a percentage."""

    __tablename__ = "sla_kpis"
    __table_args__ = (sa.CheckConstraint("target >= 0 AND target <= 100", name="target_percentage"),)

    sla_id: Mapped[int] = mapped_column(sa.ForeignKey("slas.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[KpiKind] = mapped_column(str_enum(KpiKind), primary_key=True)
    target: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))


class SlaComment(Base):
    """Why an SLA went back to draft: the provider's or the manager's comments."""

    __tablename__ = "sla_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    sla_id: Mapped[int] = mapped_column(sa.ForeignKey("slas.id", ondelete="CASCADE"), index=True)
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The status it was returned from (sent: by the provider; accepted: by the manager).
    returned_from: Mapped[SlaStatus] = mapped_column(str_enum(SlaStatus))
    comment: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000})

    by = relationship("User", lazy="joined")
