"""What the manager records: performance meetings and complaints about providers, and erasures of children's personal
data at the end of its retention period."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, str_enum, utcnow


class PerformanceMeeting(Base):
    """A performance meeting the manager held (or arranged) with a provider, and what was agreed."""

    __tablename__ = "performance_meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    held_on: Mapped[date]
    notes: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recorded_by = relationship("User")


class Complaint(Base):
    """A complaint about a provider (from a family, a school or an officer), and whether it was upheld."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    placement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("placements.id"), index=True)
    received_on: Mapped[date]
    summary: Mapped[str] = mapped_column(sa.String(500))
    # None while being looked into.
    upheld: Mapped[bool | None]
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ErasureStatus(enum.StrEnum):
    PENDING = "waiting for approval"
    APPROVED = "approved and carried out"
    REFUSED = "refused"


class ErasureRequest(Base):
    """A proposal to erase a child's personal data after its retention period, and the manager's decision."""

    __tablename__ = "erasure_requests"
    __table_args__ = (
        sa.Index(
            "uq_erasure_requests_pending",
            "child_id",
            unique=True,
            sqlite_where=sa.text("status = 'waiting for approval'"),
            postgresql_where=sa.text("status = 'waiting for approval'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id"), index=True)
    status: Mapped[ErasureStatus] = mapped_column(str_enum(ErasureStatus), default=ErasureStatus.PENDING)
    reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000})
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")
