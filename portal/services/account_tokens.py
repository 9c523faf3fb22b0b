"""Single-use emailed links: invitations (72 hours) and password resets (1 hour).

The raw token goes in the email only; the database keeps its SHA-256, so a copy of the database opens no account.
Issuing a new link for a user and purpose retires the older unused ones: only the newest link works.
The caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.models import AccountToken, TokenPurpose, User
from portal.models.base import utcnow
from portal.services.errors import DomainError

LIFETIMES: dict[TokenPurpose, timedelta] = {
    TokenPurpose.INVITATION: timedelta(hours=72),
    TokenPurpose.PASSWORD_RESET: timedelta(hours=1),
}
# secrets.token_urlsafe(32) is 43 characters; anything much longer is not one of ours and is not looked up.
MAX_TOKEN_LENGTH = 100


class LinkNotValid(DomainError):
    """The link is not one we sent (mistyped, cut short, changed), or its account is no longer active."""

    def __init__(self):
        super().__init__(
            "This link is not valid. Check you copied the whole link from the email, or ask for a new one."
        )


class LinkExpired(DomainError):
    def __init__(self, token: AccountToken):
        self.token = token
        super().__init__("This link has expired. Ask for a new one.")


class LinkUsed(DomainError):
    def __init__(self, token: AccountToken):
        self.token = token
        super().__init__("This link has been used already, or a newer link has been sent since. Use the newest one.")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def link(raw: str) -> str:
    """The address to put in the email."""
    return f"{current_app.config['BASE_URL']}/set-password/{raw}"


def issue(user: User, purpose: TokenPurpose, created_by: User | None = None) -> str:
    """Make a new link for the user and return its raw token; older unused links of the same purpose stop working."""
    purpose = TokenPurpose(purpose)
    now = utcnow()
    retire(user, purpose, now=now)
    raw = secrets.token_urlsafe(32)
    db.session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
            created_by_id=created_by.id if created_by is not None else None,
        )
    )
    db.session.flush()
    return raw


def retire(user: User, purpose: TokenPurpose | None = None, *, now=None) -> int:
    """Mark the user's unused links used (of one purpose, or all), e.g. when a newer one is sent or on deactivation."""
    statement = (
        sa.update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None))
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if purpose is not None:
        statement = statement.where(AccountToken.purpose == TokenPurpose(purpose))
    return db.session.execute(statement).rowcount


def find_valid(raw: str, purpose: TokenPurpose | None = None) -> AccountToken:
    """The token behind a link, if it can still be used; otherwise LinkNotValid, LinkExpired or LinkUsed.

    ``purpose`` None accepts either kind (the set-password page serves both, and reads the purpose from the token).
    """
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise LinkNotValid()
    statement = sa.select(AccountToken).where(AccountToken.token_hash == hash_token(raw))
    if purpose is not None:
        statement = statement.where(AccountToken.purpose == TokenPurpose(purpose))
    token = db.session.scalar(statement)
    if token is None or not token.user.active:
        raise LinkNotValid()
    if token.used_at is not None:
        raise LinkUsed(token)
    if utcnow() >= token.expires_at:
        raise LinkExpired(token)
    return token


def use(token: AccountToken) -> None:
    """Mark the token used, atomically: of two submissions racing with the same link, only one gets through."""
    now = utcnow()
    result = db.session.execute(
        sa.update(AccountToken)
        .where(AccountToken.id == token.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LinkUsed(token)
    set_committed_value(token, "used_at", now)  # what the database now holds; no second UPDATE
