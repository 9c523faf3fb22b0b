"""Mail waiting to be sent (the transactional outbox) and the in-portal copies people read."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    """An email written in the same transaction as the change that caused it, sent later by `flask outbox send`."""

    __tablename__ = "outbox_messages"
    # Serves the worker's due messages and the count of waiting ones (sent_at and failed_at both null), and the
    # manager's undelivered mail (sent_at null, failed_at set, newest first).
    __table_args__ = (sa.Index("ix_outbox_messages_due", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, info={"max_length": 100_000})
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker claims a message before sending, so two workers never send the same one.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text, info={"max_length": 300})
    # Given up: the server refused it for good, or it was still unsent 3 days after it was written. Never tried
    # again unless a manager asks (portal.services.outbox.try_again).
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """A message in a user's in-portal list (the bell in the header)."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, info={"max_length": 10_000})
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
