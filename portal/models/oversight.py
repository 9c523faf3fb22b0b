"""What the manager records about a provider's performance: performance meetings and complaints."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, utcnow


class PerformanceMeeting(Base):
    """A performance meeting the manager held (or arranged) with a provider, and what was agreed."""

    __tablename__ = "performance_meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    held_on: Mapped[date]
    notes: Mapped[str] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recorded_by = relationship("User")


class Complaint(Base):
    """A complaint about a provider (from a family, a school or an officer), and whether it was upheld."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    placement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("placements.id"))
    received_on: Mapped[date]
    summary: Mapped[str] = mapped_column(sa.String(500))
    # None while being looked into.
    upheld: Mapped[bool | None]
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
