"""The account rules: making users, authenticating, ending sessions."""

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from portal.extensions import db
from portal.models import Role, User
from portal.services import accounts
from portal.services.errors import DomainError
from tests.factories import CouncilServiceFactory, ProviderFactory, make_user
from tests.helpers import DEFAULT_PASSWORD


def test_create_user_normalises_email_and_places_the_user(app_context):
    service = CouncilServiceFactory(name="SEND")
    user = accounts.create_user(
        email=" Sam.Send@Council.EXAMPLE ", name="Sam", role="officer", password="x" * 12, service_name="SEND"
    )
    assert user.email == "sam.send@council.example"
    assert user.service_id == service.id and user.provider_id is None
    assert user.password_changed_at is not None


def test_emails_are_unique_whatever_their_case(app_context):
    make_user(Role.MANAGER, email="morgan@example.org")
    with pytest.raises(DomainError, match="already exists"):
        accounts.create_user(email="MORGAN@example.org", name="M", role="manager", password="x" * 12)


def test_the_database_refuses_a_mixed_case_email(app_context):
    user = make_user(Role.MANAGER)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(User).where(User.id == user.id).values(email="Mixed@Example.org"))
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(
    "role, service, provider, message",
    [
        ("officer", None, None, "needs a council service"),
        ("officer", "Nowhere", None, "No council service"),
        ("provider", None, None, "needs a provider organisation"),
        ("provider", None, "Nobody Ltd", "No provider"),
        ("manager", "SEND", None, "Only officers"),
        ("manager", None, "Acme", "Only provider users"),
        ("wizard", None, None, "Unknown role"),
    ],
)
def test_a_user_belongs_to_the_right_kind_of_organisation(app_context, role, service, provider, message):
    CouncilServiceFactory(name="SEND")
    ProviderFactory(name="Acme")
    with pytest.raises(DomainError, match=message):
        accounts.create_user(
            email="a@example.org", name="A", role=role, password="x" * 12, service_name=service, provider_name=provider
        )


def test_check_credentials(app_context):
    user = make_user(Role.OFFICER, email="o@example.org")
    assert accounts.check_credentials("O@example.org", DEFAULT_PASSWORD, ip="192.0.2.1").id == user.id
    assert accounts.check_credentials("o@example.org", "wrong password!", ip=None) is None
    assert accounts.check_credentials("nobody@example.org", DEFAULT_PASSWORD, ip=None) is None
    user.active = False
    db.session.commit()
    assert accounts.check_credentials("o@example.org", DEFAULT_PASSWORD, ip=None) is None


def test_sign_in_rehashes_a_password_stored_with_old_parameters(app_context, production_password_hashing):
    old_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(DEFAULT_PASSWORD)
    user = make_user(Role.MANAGER, password_hash=old_hash)
    assert accounts.check_credentials(user.email, DEFAULT_PASSWORD, ip=None) is not None
    db.session.refresh(user)
    assert user.password_hash != old_hash
    assert "m=19456,t=2,p=1" in user.password_hash


def test_the_first_user_of_a_provider_manages_colleagues(app_context):
    ProviderFactory(name="Acme")
    first = accounts.create_user(email="a@acme.example", name="A", role="provider", provider_name="Acme")
    second = accounts.create_user(email="b@acme.example", name="B", role="provider", provider_name="Acme")
    assert (first.manages_colleagues, second.manages_colleagues) == (True, False)
    assert first.password_hash is None and not first.has_password
