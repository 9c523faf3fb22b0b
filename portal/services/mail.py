"""Mail through a transactional outbox, and the in-portal notification list.

queue_email() and notify() only add rows to the session: the message is committed with the change that caused it,
or not at all. `flask outbox send` delivers what is due.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Notification, OutboxMessage, Role, User


def queue_email(to_address: str, subject: str, body: str) -> OutboxMessage:
    message = OutboxMessage(to_address=to_address, subject=subject, body=body)
    db.session.add(message)
    return message


def notify(user: User, subject: str, body: str, *, portal_body: str | None = None) -> OutboxMessage:
    """Email the user and put the message in their notification list.

    ``portal_body`` replaces the body in the portal's copy: an emailed link that signs someone in or sets a password
    belongs in the mailbox only.
    """
    db.session.add(Notification(user_id=user.id, subject=subject, body=portal_body if portal_body is not None else body))
    return queue_email(user.email, subject, body)


# --- Who hears about it: only active accounts, in a stable order -----------------------------------------------------


def active_users(*conditions) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.active.is_(True), *conditions).order_by(User.id)))


def provider_users(provider_ids: Iterable[int]) -> list[User]:
    """Every active user of these providers."""
    ids = list(provider_ids)
    return active_users(User.provider_id.in_(ids)) if ids else []


def managers() -> list[User]:
    return active_users(User.role == Role.MANAGER)
