"""People who sign in, the council services officers work in, and what keeps their sign-in safe."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.encryption import EncryptedString
from portal.models.base import Base, UTCDateTime, str_enum, utcnow
from portal.models.providers import Provider


class Role(enum.StrEnum):
    OFFICER = "officer"
    PROVIDER = "provider"
    MANAGER = "manager"


# Providers sign in over the internet and managers see everything: both must use two-factor authentication.
ROLES_REQUIRING_TWO_FACTOR = frozenset({Role.PROVIDER, Role.MANAGER})


class CouncilService(Base):
    """A council team that places children (SEND, Inclusion, Virtual School ...)."""

    __tablename__ = "council_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    # The service's Designated Safeguarding Lead: responsible for children in supplementary AP it commissions.
    dsl_name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    dsl_role: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    dsl_email: Mapped[str] = mapped_column(sa.String(254), default="", server_default="")
    dsl_phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")


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
    # None until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("council_services.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    # A provider's first user looks after its colleagues' accounts (invites them).
    manages_colleagues: Mapped[bool] = mapped_column(default=False)
    # Two-factor authentication (TOTP, RFC 6238). The last time step used stops a code being replayed. The key is
    # stored encrypted (portal.encryption): a copy of the database alone cannot mint codes.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_timestep: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Optimistic locking (forms that change an account carry it). Signing in does not move it: the two-factor step is
    # claimed by a bulk UPDATE (which the version feature leaves alone), and sessions and the lockout count live in
    # tables of their own. What moves it is a change people make (email, password, two-factor, deactivation) and the
    # rare rehash of a password whose hashing parameters changed; a form drawn before one of those is stale, rightly.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    service: Mapped[CouncilService | None] = relationship(lazy="joined")
    provider: Mapped[Provider | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    # Set by the session loader: the server-side session this request belongs to.
    current_session = None  # a UserSession, or None

    # Flask-Login's interface. The id in the cookie is the session's token, never the user's primary key.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.current_session.token if self.current_session else None

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def two_factor_required(self) -> bool:
        return self.role in ROLES_REQUIRING_TWO_FACTOR

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def organisation_name(self) -> str:
        if self.service is not None:
            return self.service.name
        if self.provider is not None:
            return self.provider.name
        return "Commissioning management"


class UserSession(Base):
    """One signed-in browser. The cookie carries only the token; ending the row ends the session everywhere."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(sa.String(40))
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """A single-use code for signing in without the authenticator app. Only a hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password reset"


class AccountToken(Base):
    """A single-use emailed link (invitation or password reset). Only a hash of the token is kept."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class SignInFailures(Base):
    """Failed sign-ins counted per email address, known or not, so an unknown email behaves like a known one."""

    __tablename__ = "sign_in_failures"

    email_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
