"""Accounts: making users, checking credentials, starting sessions, changing passwords and emails.

Plain arguments in, domain errors out; no request or Flask session in here.
"""

from __future__ import annotations

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.models import CouncilService, Provider, Role, User, UserSession
from portal.models.base import utcnow
from portal.services import audit, lockout, sessions
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, NotFound
from portal.services.mail import notify
from portal.services.passwords import check_password_policy, hash_password, needs_rehash, verify_password


class AccountLocked(DomainError):
    def __init__(self):
        super().__init__(
            "There have been too many attempts to sign in with this email address. "
            f"Wait {int(lockout.LOCK_DURATION.total_seconds() // 60)} minutes, then try again.",
            field="email",
        )


def normalise_email(email: str) -> str:
    """Lower-case the whole address: councils and providers treat emails as case-insensitive."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise DomainError("Enter an email address in the correct format, like name@example.org", field="email") from error


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def create_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str | None = None,
    service_name: str | None = None,
    provider_name: str | None = None,
) -> User:
    """Make a user in the right organisation; without a password until they set one. The caller commits."""
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
        check_password_policy(password, email=email, name=name)
        password_hash = hash_password(password)

    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=password_hash,
        password_changed_at=utcnow() if password_hash else None,
        service=service,
        provider=provider,
        # A provider's first user looks after its colleagues' accounts.
        manages_colleagues=provider is not None and not _provider_has_users(provider),
    )
    db.session.add(user)
    db.session.flush()
    return user


def _provider_has_users(provider: Provider) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(User.provider_id == provider.id)))


def check_credentials(email: str, password: str, *, ip: str | None, device: str | None = None) -> User | None:
    """The user these credentials belong to, or None. Raises AccountLocked while the address is locked (on the known
    ``device``, if the browser is one: see portal.devices).

    Unknown email, wrong password and inactive account look alike, take alike, and count towards the lockout alike.
    """
    email = email.strip().lower()
    if lockout.locked_until(email, device) is not None:
        verify_password(None, password)  # same work as a real check, so timing does not tell
        audit.record(Events.SIGN_IN_FAILED, actor_label=email, ip=ip, reason="locked")
        db.session.commit()
        raise AccountLocked()
    user = find_user_by_email(email)
    if verify_password(user.password_hash if user else None, password) and user.active:
        # Failures are cleared only when the whole sign-in succeeds: a known password must not reset the count
        # that limits guesses at the two-factor code.
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        db.session.commit()
        return user
    reason = "wrong password" if user and user.active else "unknown or inactive"
    record_failed_attempt(email, user, ip=ip, reason=reason, device=device)
    return None


def record_failed_attempt(
    email: str, user: User | None, *, ip: str | None, reason: str, device: str | None = None
) -> None:
    """A wrong password or two-factor code: audit it and count it towards the lockout (the known ``device``'s count,
    if any); raise if it locked."""
    audit.record(Events.SIGN_IN_FAILED, actor=user, actor_label=email, ip=ip, reason=reason)
    db.session.commit()
    if lockout.record_failure(email, device):
        audit.record(Events.ACCOUNT_LOCKED, actor=user, actor_label=email, ip=ip, subject=user)
        db.session.commit()
        raise AccountLocked()


def complete_sign_in(
    user: User, *, ip: str | None, user_agent: str | None, method: str, device: str | None = None
) -> UserSession:
    """Every factor has been checked: start a server-side session, and forget the failures counted for the address
    (and for the known ``device``). Commits."""
    session = sessions.start_session(user, ip=ip, user_agent=user_agent)
    lockout.clear_failures(user.email, device)
    audit.record(Events.SIGN_IN_SUCCEEDED, actor=user, ip=ip, method=method)
    db.session.commit()
    return session


def sign_out(user: User, *, ip: str | None) -> None:
    if user.current_session is not None:
        sessions.end_session(user.current_session, sessions.EndReason.SIGNED_OUT)
    audit.record(Events.SIGNED_OUT, actor=user, ip=ip)
    db.session.commit()


def sign_out_everywhere(user: User, *, ip: str | None) -> int:
    ended = sessions.end_all_sessions(user, sessions.EndReason.SIGNED_OUT_EVERYWHERE)
    audit.record(Events.SIGNED_OUT_EVERYWHERE, actor=user, ip=ip, sessions_ended=ended)
    db.session.commit()
    return ended


def require_password(user: User, password: str) -> None:
    """Ask again for the password before a sensitive change (two-factor off, new email)."""
    if not verify_password(user.password_hash, password):
        raise DomainError("Your password is not correct", field="current_password")


def change_password(user: User, current_password: str, new_password: str, *, ip: str | None) -> None:
    """Change the password; every other session of the user ends. Commits."""
    require_password(user, current_password)
    set_password(user, new_password)
    sessions.end_all_sessions(user, sessions.EndReason.PASSWORD_CHANGED, keep=user.current_session)
    audit.record(Events.PASSWORD_CHANGED, actor=user, ip=ip)
    notify(
        user,
        "Your password was changed",
        "The password for your alternative provision commissioning account was changed. "
        "If this was not you, contact the commissioning manager straight away.",
    )
    db.session.commit()


def set_password(user: User, new_password: str) -> None:
    """Check the policy and store the new hash. The caller ends sessions, audits and commits."""
    check_password_policy(new_password, email=user.email, name=user.name)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()


class AccountChanged(Conflict):
    """The account changed after the form was drawn (another tab, or a manager): nothing was saved."""

    def __init__(self, user: User):
        super().__init__(
            "Your account was changed after you opened this page, in another tab or by a manager: your email address "
            f"is now {user.email}. Nothing you sent was saved. Check what you typed and send it again."
        )


def check_version(user: User, expected_version, error=AccountChanged) -> None:
    """Refuse a change drawn from an older version of the account (None: the form carried none, as before issue 10)."""
    if expected_version is None:
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise error(user) from None
    if expected != user.version:
        raise error(user)


def commit_versioned(user: User, error=AccountChanged) -> None:
    """Commit a change to the account; a concurrent one (the version moved between reading and writing) refuses it."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise error(db.session.get(User, user.id)) from None


def change_email(user: User, password: str, new_email: str, *, ip: str | None, version=None) -> None:
    """Change the user's email. ``version``: the account's version the form was drawn from (AccountChanged if stale)."""
    check_version(user, version)
    require_password(user, password)
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise DomainError("Enter a different email address from your current one", field="email")
    if find_user_by_email(new_email) is not None:
        raise DomainError("Another account already uses that email address", field="email")
    old_email = user.email
    # The old address hears of the change too: if it was not the owner, they can raise the alarm.
    notify(
        user,
        "Your email address was changed",
        f"The email address for your alternative provision commissioning account was changed from {old_email} "
        f"to {new_email}. If this was not you, contact the commissioning manager straight away.",
    )
    user.email = new_email
    audit.record(Events.EMAIL_CHANGED, actor=user, ip=ip, subject=user, old_email=old_email, new_email=new_email)
    commit_versioned(user)
