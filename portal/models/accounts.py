"""People who sign in, and the council services officers work in."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, str_enum, utcnow
from portal.models.providers import Provider


class Role(enum.StrEnum):
    OFFICER = "officer"
    PROVIDER = "provider"
    MANAGER = "manager"


class CouncilService(Base):
    """A council team that places children (SEND, Inclusion, Virtual School ...)."""

    __tablename__ = "council_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are kept lower-case, so the unique constraint is a case-insensitive one.
        sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
        # An officer belongs to a service, a provider user to a provider, a manager to neither.
        sa.CheckConstraint(
            "(role = 'officer' AND service_id IS NOT NULL AND provider_id IS NULL)"
            " OR (role = 'provider' AND provider_id IS NOT NULL AND service_id IS NULL)"
            " OR (role = 'manager' AND service_id IS NULL AND provider_id IS NULL)",
            name="role_organisation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # What the session cookie carries. A new value ends every session the user has (logout, password change).
    session_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("council_services.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service: Mapped[CouncilService | None] = relationship(lazy="joined")
    provider: Mapped[Provider | None] = relationship(lazy="joined")

    # Flask-Login's interface. The id in the cookie is the session token, never the primary key.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    @property
    def organisation_name(self) -> str:
        if self.service is not None:
            return self.service.name
        if self.provider is not None:
            return self.provider.name
        return "Commissioning management"
