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
    assert len(user.session_token) >= 40


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


def test_authenticate(app_context):
    user = make_user(Role.OFFICER, email="o@example.org")
    assert accounts.authenticate("O@example.org", DEFAULT_PASSWORD).id == user.id
    assert accounts.authenticate("o@example.org", "wrong password!") is None
    assert accounts.authenticate("nobody@example.org", DEFAULT_PASSWORD) is None
    user.active = False
    db.session.commit()
    assert accounts.authenticate("o@example.org", DEFAULT_PASSWORD) is None


def test_sign_in_rehashes_a_password_stored_with_old_parameters(app_context):
    old_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(DEFAULT_PASSWORD)
    user = make_user(Role.MANAGER, password_hash=old_hash)
    assert accounts.authenticate(user.email, DEFAULT_PASSWORD) is not None
    db.session.refresh(user)
    assert user.password_hash != old_hash
    assert "m=19456,t=2,p=1" in user.password_hash


def test_session_token_changes_on_sign_out_everywhere_and_password_change(app_context):
    user = make_user(Role.PROVIDER)
    first = user.session_token
    accounts.end_all_sessions(user)
    second = user.session_token
    accounts.change_password(user, "a brand new password")
    assert len({first, second, user.session_token}) == 3
    assert accounts.user_for_session_token(first) is None
    assert accounts.user_for_session_token(user.session_token).id == user.id
    assert accounts.authenticate(user.email, "a brand new password") is not None


def test_a_deactivated_users_session_no_longer_loads(app_context):
    user = make_user(Role.OFFICER)
    assert accounts.user_for_session_token(user.session_token) is not None
    user.active = False
    db.session.commit()
    assert accounts.user_for_session_token(user.session_token) is None
    assert accounts.user_for_session_token("") is None
