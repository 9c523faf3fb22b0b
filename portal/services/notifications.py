"""The in-portal notification list (the bell in the header). Rows are written by portal.services.mail.notify().

Every query here is filtered by the user's id: a user only ever sees their own notifications.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Notification
from portal.models.base import utcnow
from portal.pagination import Page, paginate

PER_PAGE = 25


def unread_count(user_id: int) -> int:
    """One COUNT query (served by the index on user_id, read_at)."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def page_of_notifications(user_id: int, page: int, per_page: int = PER_PAGE) -> Page:
    """The user's notifications, newest first: a COUNT and one SELECT, whatever the number of rows."""
    statement = (
        sa.select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
    return paginate(statement, page=page, per_page=per_page)


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user as read. Commits. Returns how many were unread."""
    marked = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return marked
