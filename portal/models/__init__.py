"""Every model, imported here so Alembic and the app see the whole schema."""

from portal.models.accounts import CouncilService, Role, User
from portal.models.base import Base
from portal.models.dps import PA2023_DPS_CUTOFF, Arrangement, Lot, Regime
from portal.models.providers import Provider

__all__ = ["Arrangement", "Base", "CouncilService", "Lot", "PA2023_DPS_CUTOFF", "Provider", "Regime", "Role", "User"]
