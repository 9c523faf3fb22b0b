"""factory-boy factories for the models. Objects are committed, so a live server thread sees them too."""

from __future__ import annotations

import factory

from portal.extensions import db
from portal.models import CouncilService, Provider, Role, User
from portal.services.accounts import new_session_token
from portal.services.passwords import hash_password
from tests.helpers import DEFAULT_PASSWORD

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
    active = True
    session_token = factory.LazyFunction(new_session_token)

    class Params:
        officer = factory.Trait(role=Role.OFFICER, service=factory.SubFactory(CouncilServiceFactory))
        provider_user = factory.Trait(role=Role.PROVIDER, provider=factory.SubFactory(ProviderFactory))


def make_user(role: Role | str, **kwargs) -> User:
    role = Role(role)
    if role is Role.OFFICER:
        return UserFactory(officer=True, **kwargs)
    if role is Role.PROVIDER:
        return UserFactory(provider_user=True, **kwargs)
    return UserFactory(**kwargs)
