"""factory-boy factories for the models, and the lot builders. Objects are committed, so a live server thread sees
them too; call them inside an app context. The DPS data builders (provider profiles, documents, admissions,
suspensions, submitted applications) are in tests/factories_dps.py."""

from __future__ import annotations

from datetime import date

import factory
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationStatus,
    Arrangement,
    CouncilService,
    Lot,
    LotQuestion,
    Provider,
    Regime,
    Role,
    Suspension,
    User,
)
from portal.models.base import utcnow
from portal.services.passwords import hash_password
from tests.helpers import DEFAULT_PASSWORD, TEST_TOTP_SECRET

# Hashing costs ~20 ms; every factory user shares one hash of the default password.
_DEFAULT_HASH = hash_password(DEFAULT_PASSWORD)


class BaseFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class CouncilServiceFactory(BaseFactory):
    class Meta:
        model = CouncilService

    name = factory.Sequence(lambda n: f"Service {n}")


class ProviderFactory(BaseFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Provider {n}")


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    name = factory.Sequence(lambda n: f"User {n}")
    role = Role.MANAGER
    password_hash = _DEFAULT_HASH
    password_changed_at = factory.LazyFunction(utcnow)
    active = True
    # Providers and managers must use two-factor: their factory users have it set up with a known secret.
    totp_secret = factory.LazyAttribute(lambda user: TEST_TOTP_SECRET if user.role != Role.OFFICER else None)
    totp_enabled_at = factory.LazyAttribute(lambda user: utcnow() if user.totp_secret else None)

    class Params:
        officer = factory.Trait(role=Role.OFFICER, service=factory.SubFactory(CouncilServiceFactory))
        provider_user = factory.Trait(
            role=Role.PROVIDER, provider=factory.SubFactory(ProviderFactory), manages_colleagues=True
        )


def make_user(role: Role | str, **kwargs) -> User:
    role = Role(role)
    if role is Role.OFFICER:
        return UserFactory(officer=True, **kwargs)
    if role is Role.PROVIDER:
        return UserFactory(provider_user=True, **kwargs)
    return UserFactory(**kwargs)


class ArrangementFactory(BaseFactory):
    class Meta:
        model = Arrangement

    name = factory.Sequence(lambda n: f"Arrangement {n}")
    regime = Regime.PCR2015_DPS
    start_date = date(2024, 4, 1)
    end_date = date(2031, 3, 31)


class LotFactory(BaseFactory):
    class Meta:
        model = Lot

    arrangement = factory.SubFactory(ArrangementFactory)
    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Lot title {n}")


class LotQuestionFactory(BaseFactory):
    class Meta:
        model = LotQuestion

    lot_id = factory.LazyFunction(lambda: LotFactory().id)  # a lot of its own unless given
    position = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"Question {n}: how will you meet the need?")


class ApplicationFactory(BaseFactory):
    class Meta:
        model = Application

    provider = factory.SubFactory(ProviderFactory)
    status = ApplicationStatus.DRAFT


class AdmissionFactory(BaseFactory):
    class Meta:
        model = Admission

    provider_id = factory.LazyFunction(lambda: ProviderFactory().id)
    lot_id = factory.LazyFunction(lambda: LotFactory().id)
    admitted_on = date(2025, 1, 6)


class SuspensionFactory(BaseFactory):
    class Meta:
        model = Suspension

    provider_id = factory.LazyFunction(lambda: ProviderFactory().id)
    lot_id = None
    starts_on = date(2026, 6, 1)
    ends_on = None
    reason = "Safeguarding concern under review"


def arrangement() -> Arrangement:
    """The one arrangement named "Test DPS", made the first time it is asked for."""
    found = db.session.scalar(sa.select(Arrangement).where(Arrangement.name == "Test DPS"))
    return found or ArrangementFactory(name="Test DPS")


def make_lot(number: int, title: str | None = None) -> Lot:
    """Lot ``number`` of the "Test DPS" arrangement."""
    return LotFactory(arrangement=arrangement(), number=number, title=title or f"Test lot {number}")


def make_lots(count: int = 2, arrangement: Arrangement | None = None) -> list[Lot]:
    """``count`` lots numbered 1, 2, ... in one arrangement (a new one unless given)."""
    arrangement = arrangement or ArrangementFactory()
    return [LotFactory(arrangement=arrangement, number=n, title=f"Lot title {n}") for n in range(1, count + 1)]
