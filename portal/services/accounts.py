"""Accounts: making users, signing in and ending sessions. Plain arguments in, domain errors out."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from portal.extensions import db
from portal.models import CouncilService, Provider, Role, User
from portal.services.errors import DomainError, NotFound
from portal.services.passwords import check_password_policy, hash_password, needs_rehash, verify_password


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def normalise_email(email: str) -> str:
    """Lower-case the whole address: councils and providers treat emails as case-insensitive."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise DomainError("Enter an email address in the correct format, like name@example.org", field="email") from error


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def user_for_session_token(token: str) -> User | None:
    """The user a session cookie belongs to, if that session has not been ended and the account is active."""
    if not token:
        return None
    user = db.session.scalar(sa.select(User).where(User.session_token == token))
    return user if user is not None and user.active else None


def create_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str | None = None,
    service_name: str | None = None,
    provider_name: str | None = None,
) -> User:
    """Make a user in the right organisation. The caller commits."""
    try:
        role = Role(role)
    except ValueError as error:
        raise DomainError(f"Unknown role {role!r}: choose officer, provider or manager", field="role") from error
    email = normalise_email(email)
    if not name.strip():
        raise DomainError("Enter the person's name", field="name")
    if find_user_by_email(email) is not None:
        raise DomainError(f"A user with the email {email} already exists", field="email")

    service = provider = None
    if role is Role.OFFICER:
        if not service_name:
            raise DomainError("An officer needs a council service (--service)", field="service")
        service = db.session.scalar(sa.select(CouncilService).where(CouncilService.name == service_name))
        if service is None:
            raise NotFound(f"No council service is called {service_name!r}", field="service")
    elif service_name:
        raise DomainError("Only officers belong to a council service", field="service")
    if role is Role.PROVIDER:
        if not provider_name:
            raise DomainError("A provider user needs a provider organisation (--provider)", field="provider")
        provider = db.session.scalar(sa.select(Provider).where(Provider.name == provider_name))
        if provider is None:
            raise NotFound(f"No provider is called {provider_name!r}", field="provider")
    elif provider_name:
        raise DomainError("Only provider users belong to a provider organisation", field="provider")

    password_hash = None
    if password is not None:
        check_password_policy(password)
        password_hash = hash_password(password)

    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=password_hash,
        service=service,
        provider=provider,
        session_token=new_session_token(),
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials belong to, or None. Unknown email, wrong password and inactive account look alike."""
    user = find_user_by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def end_all_sessions(user: User) -> None:
    """Sign the user out everywhere: every cookie carrying the old token stops working."""
    user.session_token = new_session_token()
    db.session.commit()


def change_password(user: User, new_password: str) -> None:
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    user.session_token = new_session_token()
    db.session.commit()
