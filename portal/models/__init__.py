"""Every model, imported here so Alembic and the app see the whole schema."""

from portal.models.accounts import (
    ROLES_REQUIRING_TWO_FACTOR,
    AccountToken,
    CouncilService,
    RecoveryCode,
    Role,
    SignInFailures,
    TokenPurpose,
    User,
    UserSession,
)
from portal.models.audit import AuditEvent
from portal.models.base import Base
from portal.models.dps import PA2023_DPS_CUTOFF, Arrangement, Lot, Regime
from portal.models.mail import Notification, OutboxMessage
from portal.models.providers import Provider

__all__ = [
    "ROLES_REQUIRING_TWO_FACTOR",
    "AccountToken",
    "Arrangement",
    "AuditEvent",
    "Base",
    "CouncilService",
    "Lot",
    "Notification",
    "OutboxMessage",
    "PA2023_DPS_CUTOFF",
    "Provider",
    "RecoveryCode",
    "Regime",
    "Role",
    "SignInFailures",
    "TokenPurpose",
    "User",
    "UserSession",
]
