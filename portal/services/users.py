"""Looking after accounts: the manager invites, deactivates and reactivates users; a provider's first user invites
colleagues; anyone with an emailed link sets their password; anyone may ask for a reset link.

Plain arguments in, domain errors out; each change is audited and its email queued in the same transaction, then
committed here.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import AuditEvent, CouncilService, Provider, Role, TokenPurpose, User
from portal.pagination import Page, paginate
from portal.services import account_tokens, accounts, audit, sessions
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, NotFound
from portal.services.mail import notify
from portal.services.passwords import check_password_policy

PER_PAGE = 25
INVITATION_SUBJECT = "You have been invited to Alternative provision commissioning"
RESET_SUBJECT = "Reset your password for Alternative provision commissioning"


class NotAllowed(DomainError):
    """The acting user may not do this (a route answers 403)."""


class UserStatus(enum.StrEnum):
    ACTIVE = "Active"
    INVITED = "Invited"
    DEACTIVATED = "Deactivated"


def status_of(user: User) -> UserStatus:
    if not user.active:
        return UserStatus.DEACTIVATED
    if not user.has_password:
        return UserStatus.INVITED
    return UserStatus.ACTIVE


# ---- Reading -------------------------------------------------------------------------------------------------------


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No user has that number")
    return user


def _page_of(conditions: list, page: int, per_page: int) -> Page:
    """One COUNT and one SELECT of the rows (service and provider come joined with User): no query per row."""
    statement = sa.select(User).where(*conditions).order_by(sa.func.lower(User.name), User.id)
    return paginate(statement, page=page, per_page=per_page)


def search(query: str | None = None, role: Role | str | None = None, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Users whose name or email contains the query (any case), optionally of one role, a page at a time."""
    return paginate(search_statement(query, role), page=page, per_page=per_page)


def search_statement(query: str | None = None, role: Role | str | None = None) -> sa.Select:
    """The SELECT of search (for a CSV of every page)."""
    conditions = []
    query = (query or "").strip()
    if query:
        conditions.append(
            sa.or_(User.name.icontains(query, autoescape=True), User.email.icontains(query, autoescape=True))
        )
    if role:
        try:
            conditions.append(User.role == Role(role))
        except ValueError:
            pass  # an unknown role in the address filters nothing rather than failing
    return sa.select(User).where(*conditions).order_by(sa.func.lower(User.name), User.id)


def colleagues(by: User, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The users of the acting provider user's own organisation, never another's."""
    if by.role is not Role.PROVIDER or by.provider_id is None:
        raise NotAllowed("Only provider users have colleagues here")
    return _page_of([User.provider_id == by.provider_id], page, per_page)


def recent_events(user: User, limit: int = 10) -> list[AuditEvent]:
    """The latest audit events about this user (the actor comes joined)."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.subject_type == User.__tablename__, AuditEvent.subject_id == user.id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def service_names() -> list[str]:
    return list(db.session.scalars(sa.select(CouncilService.name).order_by(CouncilService.name)))


def provider_names() -> list[str]:
    return list(db.session.scalars(sa.select(Provider.name).order_by(Provider.name)))


# ---- Inviting ------------------------------------------------------------------------------------------------------


def _require_manager(by: User) -> None:
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the commissioning manager can do this")


def ensure_may_invite_colleagues(by: User) -> None:
    if by.role is not Role.PROVIDER or not by.manages_colleagues:
        raise NotAllowed("Only the person who looks after your organisation's accounts can invite colleagues")


def _send_invitation(user: User, raw: str, by: User) -> None:
    council = current_app.config["COUNCIL_NAME"]
    two_factor = (
        "\n\nYour role must use two-factor authentication: the first time you sign in you will set up an "
        "authenticator app on your phone."
        if user.two_factor_required
        else ""
    )
    body = (
        f"Dear {user.name},\n\n"
        f"{by.name} has invited you to use Alternative provision commissioning, {council}'s service for "
        f"alternative provision, as a {user.role.value} ({user.organisation_name}).\n\n"
        f"To accept, set your password by opening this link:\n\n{account_tokens.link(raw)}\n\n"
        "The link expires in 72 hours and works once. If it has expired, ask "
        f"{by.name} to send you a new invitation.\n\n"
        f"Then sign in with this email address ({user.email}) and your new password.{two_factor}\n\n"
        "If you were not expecting this invitation, you can ignore this email."
    )
    portal_body = (
        f"{by.name} invited you to Alternative provision commissioning. "
        "The link to set your password was sent to your email address."
    )
    notify(user, INVITATION_SUBJECT, body, portal_body=portal_body)


def _invite(by: User, *, ip: str | None, **fields) -> User:
    user = accounts.create_user(**fields)
    raw = account_tokens.issue(user, TokenPurpose.INVITATION, created_by=by)
    _send_invitation(user, raw, by)
    audit.record(
        Events.USER_INVITED,
        actor=by,
        ip=ip,
        subject=user,
        email=user.email,
        role=user.role.value,
        organisation=user.organisation_name,
    )
    db.session.commit()
    return user


def invite(
    by: User,
    *,
    email: str,
    name: str,
    role: Role | str,
    service_name: str | None = None,
    provider_name: str | None = None,
    ip: str | None,
) -> User:
    """The manager invites a user: the account has no password until they set one through the emailed link."""
    _require_manager(by)
    return _invite(
        by,
        ip=ip,
        email=email,
        name=name,
        role=role,
        service_name=service_name or None,
        provider_name=provider_name or None,
    )


def invite_colleague(by: User, *, email: str, name: str, ip: str | None) -> User:
    """A provider's first user invites a colleague into the same organisation."""
    ensure_may_invite_colleagues(by)
    return _invite(by, ip=ip, email=email, name=name, role=Role.PROVIDER, provider_name=by.provider.name)


def resend_invitation(by: User, user: User, *, ip: str | None) -> None:
    """A new invitation link; the older one stops working."""
    _require_manager(by)
    if user.has_password:
        raise DomainError(
            f"{user.name} has set a password already: they can use 'Forgotten your password?' to reset it"
        )
    if not user.active:
        raise DomainError(f"{user.name}'s account is deactivated: reactivate it before sending a new invitation")
    raw = account_tokens.issue(user, TokenPurpose.INVITATION, created_by=by)
    _send_invitation(user, raw, by)
    audit.record(Events.INVITATION_RESENT, actor=by, ip=ip, subject=user)
    db.session.commit()


# ---- Deactivating --------------------------------------------------------------------------------------------------


class UserChanged(Conflict):
    """The account changed after the manager's page was drawn: nothing was saved."""

    def __init__(self, user: User):
        state = "active" if user.active else "deactivated"
        super().__init__(
            f"Someone changed {user.name}'s account after you opened this page: it is now {state}, with the email "
            f"address {user.email}. Nothing you sent was saved. Check the account as it is now and try again."
        )


def deactivate(by: User, user: User, reason: str | None = None, *, ip: str | None, version=None) -> int:
    """Stop the user signing in: every session ends now and unused emailed links stop working.
    Returns how many sessions were ended. ``version``: the account's version the page showed (UserChanged if stale)."""
    _require_manager(by)
    accounts.check_version(user, version, UserChanged)
    if user.id == by.id:
        raise DomainError("You cannot deactivate your own account. Ask another manager to do it.")
    if not user.active:
        raise DomainError(f"{user.name}'s account is deactivated already")
    user.active = False
    ended = sessions.end_all_sessions(user, sessions.EndReason.DEACTIVATED)
    account_tokens.retire(user)
    audit.record(
        Events.USER_DEACTIVATED, actor=by, ip=ip, subject=user, reason=(reason or "").strip(), sessions_ended=ended
    )
    accounts.commit_versioned(user, UserChanged)
    return ended


def reactivate(by: User, user: User, *, ip: str | None, version=None) -> None:
    _require_manager(by)
    accounts.check_version(user, version, UserChanged)
    if user.active:
        raise DomainError(f"{user.name}'s account is active already")
    user.active = True
    audit.record(Events.USER_REACTIVATED, actor=by, ip=ip, subject=user)
    accounts.commit_versioned(user, UserChanged)


# ---- Passwords through emailed links -------------------------------------------------------------------------------


def set_password_with_token(raw: str, purpose: TokenPurpose, new_password: str, *, ip: str | None) -> User:
    """Accept an invitation or finish a reset. Never signs the user in: they sign in afterwards with their password
    and, if their role needs it, two-factor (a reset never gets round two-factor). Commits."""
    token = account_tokens.find_valid(raw, purpose)
    user = token.user
    # The policy first (a refused password leaves the link usable), then the link is claimed, and only then is the
    # user's row written: of submissions racing with one link, only the one that claimed it writes the (versioned)
    # row, so the others are told the link was used rather than failing on a stale version.
    check_password_policy(new_password, email=user.email, name=user.name)
    try:
        account_tokens.use(token)
    except DomainError:
        db.session.rollback()  # someone else used the link a moment ago: keep nothing of this attempt
        raise
    accounts.set_password(user, new_password)
    sessions.end_all_sessions(user, sessions.EndReason.PASSWORD_CHANGED)
    event = Events.INVITATION_ACCEPTED if token.purpose is TokenPurpose.INVITATION else Events.PASSWORD_RESET
    audit.record(event, actor=user, ip=ip, subject=user)
    if token.purpose is TokenPurpose.PASSWORD_RESET:
        notify(
            user,
            "Your password was reset",
            "The password for your Alternative provision commissioning account was reset using a link sent to this "
            "address. If this was not you, contact the commissioning manager straight away.",
        )
    db.session.commit()
    return user


def request_password_reset(email: str, *, ip: str | None) -> bool:
    """Email a reset link if an active user with a password has this address. The caller shows the same answer
    either way; the return value (whether a link was sent) is for tests and the audit trail only."""
    typed = (email or "").strip().lower()[:254]
    user = accounts.find_user_by_email(typed) if typed else None
    sent = user is not None and user.active and user.has_password
    if sent:
        raw = account_tokens.issue(user, TokenPurpose.PASSWORD_RESET)
        body = (
            f"Dear {user.name},\n\n"
            "Someone, hopefully you, asked to reset the password for your Alternative provision commissioning "
            f"account.\n\nTo choose a new password, open this link:\n\n{account_tokens.link(raw)}\n\n"
            "The link expires in 1 hour and works once. After you choose a new password you will sign in with it "
            "(and with your two-factor code, if you use one).\n\n"
            "If you did not ask for this, you can ignore this email: your password has not changed."
        )
        notify(
            user,
            RESET_SUBJECT,
            body,
            portal_body="A link to reset your password was sent to your email address. If you did not ask for it, "
            "you can ignore it: your password has not changed.",
        )
    audit.record(
        Events.PASSWORD_RESET_REQUESTED, actor_label=typed, ip=ip, subject=user if sent else None, link_sent=sent
    )
    db.session.commit()
    return sent
