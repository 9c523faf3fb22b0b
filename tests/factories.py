"""factory-boy factories for the models. Objects are committed, so a live server thread sees them too."""

from __future__ import annotations

import factory

from portal.extensions import db
from portal.models import CouncilService, Provider, Role, User
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
