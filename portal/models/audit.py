"""The audit trail: security events now; business decisions and views of a child's personal data later."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import User
from portal.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Who did what, to what, when (UTC), from where, and why. Never a secret."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(sa.String(60), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # What the actor typed or was, kept as text: an unknown email at sign-in, or a user since renamed.
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="")
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    subject_type: Mapped[str | None] = mapped_column(sa.String(40))
    subject_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")
