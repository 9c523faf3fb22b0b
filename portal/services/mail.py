"""Mail through a transactional outbox, and the in-portal notification list.

queue_email() and notify() only add rows to the session: the message is committed with the change that caused it,
or not at all. `flask outbox send` delivers what is due.
"""

from __future__ import annotations

from portal.extensions import db
from portal.models import Notification, OutboxMessage, User


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
