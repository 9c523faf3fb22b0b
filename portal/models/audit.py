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
    __table_args__ = (
        sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),
        # The search by record matches inside the details (portal.services.audit.record_condition): on PostgreSQL a
        # GIN index over them as jsonb serves it (migration 0012). The column stays json: the hash chain reads back
        # exactly what it hashed.
        sa.Index(
            "ix_audit_events_details",
            sa.literal_column("(details::jsonb)").label("details_jsonb"),
            postgresql_using="gin",
            postgresql_ops={"details_jsonb": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(sa.String(60), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # What the actor typed or was, kept as text: an unknown email at sign-in, or a user since renamed.
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="")
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    subject_type: Mapped[str | None] = mapped_column(sa.String(40))
    subject_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # The hash chain (portal.services.audit_chain): the event's place in the chain, the hash of the event before it,
    # and its own hash over its content and that one. Editing, deleting or inserting a row breaks the chain.
    seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))

    actor: Mapped[User | None] = relationship(lazy="joined")


class AuditChainHead(Base):
    """The chain's last link (one row, id 1): locked while an event is added, so two writers never fork the chain."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    hash: Mapped[str] = mapped_column(sa.String(64), default="")
